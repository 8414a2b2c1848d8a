#!/usr/bin/env bash
# End to end: the static binary and the container image.
#   1. the binary is static and runs in an empty root (chroot with only the binary), and posts a
#      job from there to a loopback receiver (no /etc, no certificates, no libc on disk);
#   2. `podman build --target runtime-local --pull=never` builds the image without pulling;
#   3. the image's size is printed and within budget; `podman run IMAGE --version` works; the
#      /customcd-start, /customcd-report and /customcd-post entrypoints (the GitHub Action's)
#      dispatch to start (which records the current time, checked against the clock around the
#      run), report and post.
# usage: ci/e2e-image.sh [PATH_TO_STATIC_BINARY]
set -euo pipefail
SCRIPT_NAME=e2e-image
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"

BIN=$(resolve_binary "${1:-}")
require_tools podman runc file python3
IMAGE=$(unique_tag e2e-image)
WORK=$(make_workdir e2e-image)
cleanup() {
  stop_receiver
  podman rmi -f "$IMAGE" >/dev/null 2>&1 || true
  remove_workdir "$WORK"
}
trap cleanup EXIT
ensure_containers_conf
VERSION=$(crate_version)
SHA=0123456789abcdef0123456789abcdef01234567

log "binary: $BIN"
kind=$(file -b "$BIN")
log "file: $kind"
[[ "$kind" == *"statically linked"* || "$kind" == *"static-pie linked"* ]] || die "$BIN is not statically linked ($kind)"

# 1. An empty root: only the binary.
mkdir -p "$WORK/root"
cp "$BIN" "$WORK/root/customcd"
out=$(run_bounded 20 chroot "$WORK/root" /customcd --version) || die "the binary does not run in an empty root"
[[ "$out" == "customcd $VERSION" ]] || die "chroot --version printed '$out', expected 'customcd $VERSION'"
log "chroot --version: $out"

start_receiver "$WORK" 120
code=0
run_bounded 60 env -i CUSTOMCD_TOKEN=e2e-chroot-token "$(command -v chroot)" "$WORK/root" /customcd report \
  --url "http://127.0.0.1:$RECEIVER_PORT/webhook/company/7/cicd_job" --job-id chroot-1 --commit-sha "$SHA" \
  --service-id 42 --job-start-time 1700000000 --job-duration 7 --status success --repo-name acme/app \
  >"$WORK/chroot-report.out" 2>&1 || code=$?
[[ $code -eq 0 ]] || { cat "$WORK/chroot-report.out" >&2; die "report from an empty root exited $code"; }
expect --count 1 0.method==POST 0.body.job_id==chroot-1 0.body.commit_sha==$SHA \
  0.body.service_id==42 0.body.job_start_time==1700000000 0.body.job_duration==7 \
  0.body.status==Succeeded 0.body.repo_name==acme/app "0.headers.Authorization==Bearer%20e2e-chroot-token" \
  || die "the job posted from the empty root is not what was sent"
stop_receiver

# 2. The image, from the locally built binary, pulling nothing.
t0=$SECONDS
build_local_image "$BIN" "$IMAGE" "$WORK"
log "built $IMAGE in $((SECONDS - t0))s"

# 3. Size, contents, entrypoints.
size=$(podman image inspect --format '{{.Size}}' "$IMAGE")
log "image size: $size bytes ($(numfmt --to=iec "$size"))"
echo "image size: $size bytes"
bin_size=$(stat -c %s "$BIN")
((size < bin_size + 1024 * 1024)) || die "the image ($size bytes) holds more than the binary ($bin_size bytes)"
# The image budget of issue 6: 5 MiB.
((size <= 5 * 1024 * 1024)) || die "the image ($size bytes) is over its budget of 5 MiB"

prun() { run_bounded 60 podman --runtime runc run --rm --network none "$@"; }
out=$(prun "$IMAGE" --version) || die "podman run IMAGE --version failed"
[[ "$out" == "customcd $VERSION" ]] || die "podman run --version printed '$out'"
log "podman run IMAGE --version: $out"

# file_command_value FILE NAME: the value the GitHub file command FILE sets NAME to (NAME=VALUE
# or NAME<<DELIM / VALUE / DELIM); fails when it sets NAME not exactly once.
file_command_value() {
  python3 - "$@" <<'PY'
import sys
path, name = sys.argv[1:3]
lines = open(path, encoding="utf-8").read().split("\n")
values = []
for i, line in enumerate(lines):
    if line.startswith(name + "="):
        values.append(line[len(name) + 1:])
    elif line.startswith(name + "<<"):
        delim = line[len(name) + 2:]
        end = lines.index(delim, i + 1)
        values.append("\n".join(lines[i + 1:end]))
if len(values) != 1:
    sys.exit(f"{path} sets {name} {len(values)} times")
print(values[0])
PY
}

# expect_epoch_between WHAT VALUE LOW HIGH: VALUE is whole epoch seconds in [LOW, HIGH].
expect_epoch_between() {
  [[ "$2" =~ ^[0-9]+$ ]] || die "$1 is '$2', not epoch seconds"
  (($3 <= $2 && $2 <= $4)) || die "$1 is $2, not between $3 and $4 (the clock before and after the run)"
}

# The action's pre-entrypoint: /customcd-start records now as the job's start, into GITHUB_ENV
# (for the steps after it) and GITHUB_STATE (for the action's main stage).
mkdir -p "$WORK/fc" && : >"$WORK/fc/env" && : >"$WORK/fc/state"
t_before=$(date +%s)
prun -v "$WORK/fc:/github/file_commands" -e GITHUB_ACTIONS=true \
  -e GITHUB_ENV=/github/file_commands/env -e GITHUB_STATE=/github/file_commands/state \
  --entrypoint /customcd-start "$IMAGE" >"$WORK/start.out" 2>&1 || { cat "$WORK/start.out" >&2; die "/customcd-start failed in the image"; }
t_after=$(date +%s)
env_start=$(file_command_value "$WORK/fc/env" CUSTOMCD_JOB_START_TIME) \
  || die "/customcd-start did not set CUSTOMCD_JOB_START_TIME once in GITHUB_ENV: $(cat "$WORK/fc/env")"
state_start=$(file_command_value "$WORK/fc/state" job_start_time) \
  || die "/customcd-start did not set job_start_time once in GITHUB_STATE: $(cat "$WORK/fc/state")"
expect_epoch_between "GITHUB_ENV's CUSTOMCD_JOB_START_TIME" "$env_start" "$t_before" "$t_after"
expect_epoch_between "GITHUB_STATE's job_start_time" "$state_start" "$t_before" "$t_after"
log "/customcd-start: recorded $state_start (run between $t_before and $t_after)"

# The action's entrypoint: /customcd-report is `customcd report`; a dry run prints the exact body.
prun --entrypoint /customcd-report "$IMAGE" --dry-run --job-id img-1 --commit-sha "$SHA" \
  --service-id 42 --job-start-time 1700000000 --job-duration 7 --status success --repo-name acme/app \
  >"$WORK/report.out" 2>"$WORK/report.err" \
  || { cat "$WORK/report.out" "$WORK/report.err" >&2; die "/customcd-report --dry-run failed in the image"; }
python3 - "$WORK/report.out" "$SHA" <<'PY' || { cat "$WORK/report.err" >&2; die "/customcd-report --dry-run did not print the job's body"; }
import json, sys
path, sha = sys.argv[1:3]
want = {"job_id": "img-1", "commit_sha": sha, "service_id": 42, "job_start_time": 1700000000,
        "job_duration": 7, "status": "Succeeded", "repo_name": "acme/app"}
got = json.load(open(path, encoding="utf-8"))
if got != want:
    sys.exit(f"the dry run printed {json.dumps(got)}, expected {json.dumps(want)}")
PY
log "/customcd-report --dry-run: printed the expected body"

# The action's post-entrypoint: /customcd-post is `customcd post`; with no deferred report (the
# last-step form) it says so and succeeds, whatever else is set.
prun --entrypoint /customcd-post -e GITHUB_ACTIONS=true -e GITHUB_ACTION=report "$IMAGE" \
  >"$WORK/post.out" 2>&1 || { cat "$WORK/post.out" >&2; die "/customcd-post failed in the image"; }
grep -q 'nothing to report at the end of the job' "$WORK/post.out" \
  || { cat "$WORK/post.out" >&2; die "/customcd-post did not run customcd post"; }
log "/customcd-post: nothing deferred, nothing sent"
log "PASS"
