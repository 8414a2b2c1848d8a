#!/usr/bin/env bash
# End to end: the static binary and the container image.
#   1. the binary is static and runs in an empty root (chroot with only the binary), and posts a
#      job from there to a loopback receiver (no /etc, no certificates, no libc on disk);
#   2. `podman build --target runtime-local --pull=never` builds the image without pulling;
#   3. the image's size is printed; `podman run IMAGE --version` works; the /customcd-start and
#      /customcd-report entrypoints (the GitHub Action's) dispatch to start and report.
# usage: ci/e2e-image.sh [PATH_TO_STATIC_BINARY]
set -euo pipefail
SCRIPT_NAME=e2e-image
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"

BIN=$(resolve_binary "${1:-}")
IMAGE=localhost/customcd:e2e-image
WORK=$(mktemp -d /tmp/customcd-e2e-image.XXXXXX)
cleanup() {
  stop_receiver
  podman rmi -f "$IMAGE" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT
ensure_containers_conf
VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n1)
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
  --url "http://127.0.0.1:$RECEIVER_PORT/customcd" --job-id chroot-1 --commit-sha "$SHA" \
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

# file_command_has FILE NAME VALUE_REGEX: a GitHub file command sets NAME, as NAME=VALUE or
# NAME<<DELIM / VALUE / DELIM.
file_command_has() {
  python3 - "$@" <<'PY'
import re, sys
path, name, value = sys.argv[1:4]
lines = open(path).read().split("\n")
for i, line in enumerate(lines):
    if line.startswith(name + "=") and re.fullmatch(value, line[len(name) + 1:]):
        sys.exit(0)
    if line.startswith(name + "<<"):
        delim = line[len(name) + 2:]
        body = []
        for l in lines[i + 1:]:
            if l == delim:
                break
            body.append(l)
        if re.fullmatch(value, "\n".join(body)):
            sys.exit(0)
sys.exit(1)
PY
}

# The action's pre-entrypoint: /customcd-start writes the start to GITHUB_ENV and GITHUB_STATE.
mkdir -p "$WORK/fc" && : >"$WORK/fc/env" && : >"$WORK/fc/state"
prun -v "$WORK/fc:/github/file_commands" -e GITHUB_ACTIONS=true \
  -e GITHUB_ENV=/github/file_commands/env -e GITHUB_STATE=/github/file_commands/state \
  --entrypoint /customcd-start "$IMAGE" >"$WORK/start.out" 2>&1 || { cat "$WORK/start.out" >&2; die "/customcd-start failed in the image"; }
file_command_has "$WORK/fc/env" CUSTOMCD_JOB_START_TIME '[0-9]+' || die "/customcd-start wrote no CUSTOMCD_JOB_START_TIME to GITHUB_ENV: $(cat "$WORK/fc/env")"
file_command_has "$WORK/fc/state" job_start_time '[0-9]+' || die "/customcd-start wrote no job_start_time to GITHUB_STATE: $(cat "$WORK/fc/state")"
log "/customcd-start: $(cat "$WORK/fc/state")"

# The action's entrypoint: /customcd-report is `customcd report`.
out=$(prun --entrypoint /customcd-report "$IMAGE" --dry-run --job-id img-1 --commit-sha "$SHA" \
  --service-id 42 --job-start-time 1700000000 --job-duration 7 --status success --repo-name acme/app 2>&1) \
  || { printf '%s\n' "$out" >&2; die "/customcd-report --dry-run failed in the image"; }
[[ "$out" == *Succeeded* && "$out" == *img-1* ]] || { printf '%s\n' "$out" >&2; die "/customcd-report --dry-run did not show the job"; }
log "/customcd-report --dry-run: ok"
log "PASS"
