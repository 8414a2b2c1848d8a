#!/usr/bin/env bash
# End to end: the setup action (setup/, a node JavaScript action, no Docker) under a real runner
# (nektos/act, job steps and node actions on the host: -P ubuntu-latest=-self-hosted, so no
# container starts at all). The workflow uses it as a PUBLISHED action,
# acme/customcd-action/setup@v1, mapped with --local-repository to a copy of this checkout whose
# setup/checksums.json is pinned (by setup/pin-sums.js, as the release pins it) to the binary
# under test, served as a release file by ci/receiver.py --files on 127.0.0.1 (release_url). The
# reports go to ci/receiver.py on 127.0.0.1. Jobs:
#   "onestep":       the action first with report_at: job-end, checkout, a step that proves nothing
#                    was sent yet and that customcd is on PATH, sleep 2 -> exactly one record,
#                    Succeeded, duration >= 2 s from the pre stage's start, the checked-out commit;
#   "onestep-fail":  the same, then a failing step -> exactly one more record: Failed;
#   "laststep":      the action without report_at (install only), sleep 2, `customcd report` in
#                    a last step with if: always() -> one more record, duration >= 2 s;
#   "tampered":      release_url serving a binary whose sum is not the pinned one -> the job fails
#                    in the pre stage, nothing is installed, nothing is sent.
# usage: ci/e2e-act-setup.sh [PATH_TO_STATIC_BINARY]
set -euo pipefail
SCRIPT_NAME=e2e-act-setup
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"

BIN=$(resolve_binary "${1:-}")
require_tools act node git python3
WORK=$(make_workdir e2e-act-setup)
cleanup() {
  stop_receiver
  stop_file_server
  remove_workdir "$WORK"
}
trap cleanup EXIT
VERSION=$(crate_version)
TOKEN=e2e-act-setup-token-$RANDOM$RANDOM
FILE="customcd-$VERSION-x86_64-unknown-linux-musl"

# The release host: the binary under test, and a tampered copy under another prefix.
mkdir -p "$WORK/files/good" "$WORK/files/bad"
cp "$BIN" "$WORK/files/good/$FILE"
cp "$BIN" "$WORK/files/bad/$FILE"
printf 'tampered' >>"$WORK/files/bad/$FILE"
start_file_server "$WORK/files" "$WORK" 900
start_receiver "$WORK" 900
URL="http://127.0.0.1:$RECEIVER_PORT/webhook/company/7/cicd_job"
RELEASE="http://127.0.0.1:$FILES_PORT/good"

# The published action: this checkout's files, with the table pinned as a release pins it (the
# sum of the binary under test for every platform; only linux-x64 is fetched here).
ACTION="$WORK/action"
mkdir -p "$ACTION"
git -C "$ROOT" ls-files -z | (cd "$ROOT" && xargs -0 cp -P --parents -t "$ACTION")
sum=$(sha256sum "$BIN" | cut -d' ' -f1)
for target in x86_64-unknown-linux-musl aarch64-unknown-linux-musl x86_64-apple-darwin aarch64-apple-darwin x86_64-pc-windows-msvc.exe; do
  name="customcd-$VERSION-$target"
  printf '%s  %s\n' "$sum" "$name"
done >"$WORK/SHA256SUMS"
(cd "$ACTION" && node setup/pin-sums.js "$WORK/SHA256SUMS" "$VERSION" "https://example.invalid/releases/download/v$VERSION") >&2

REPO="$WORK/app"
mkdir -p "$REPO/.github/workflows"
cat >"$REPO/.github/workflows/deploy.yml" <<YAML
name: deploy
on: push
jobs:
  onestep:
    runs-on: ubuntu-latest
    steps:
      - name: report
        uses: acme/customcd-action/setup@v1
        with:
          release_url: $RELEASE
          report_at: job-end
          service_id: "42"
          url: $URL
          token: \${{ secrets.CUSTOMCD_TOKEN }}
          job_type: deploy
      - uses: actions/checkout@v4
      - name: nothing sent yet, customcd on PATH
        run: |
          test ! -s "$RECEIVER_LOG"
          customcd --version
      - name: deploy
        run: sleep 2
  onestep-fail:
    runs-on: ubuntu-latest
    steps:
      - name: report
        uses: acme/customcd-action/setup@v1
        with:
          release_url: $RELEASE
          report_at: job-end
          service_id: "42"
          url: $URL
          token: \${{ secrets.CUSTOMCD_TOKEN }}
          job_type: deploy
      - name: deploy
        run: sleep 2
      - name: break
        run: exit 1
  laststep:
    runs-on: ubuntu-latest
    steps:
      - name: install
        uses: acme/customcd-action/setup@v1
        with:
          release_url: $RELEASE
      - uses: actions/checkout@v4
      - name: deploy
        run: sleep 2
      - name: report
        if: always()
        env:
          CUSTOMCD_SERVICE_ID: "42"
          CUSTOMCD_URL: $URL
          CUSTOMCD_TOKEN: \${{ secrets.CUSTOMCD_TOKEN }}
          CUSTOMCD_STATUS: \${{ job.status }}
          CUSTOMCD_JOB_TYPE: deploy
        run: customcd report
  tampered:
    runs-on: ubuntu-latest
    steps:
      - name: install
        uses: acme/customcd-action/setup@v1
        with:
          release_url: http://127.0.0.1:$FILES_PORT/bad
          report_at: job-end
          service_id: "42"
          url: $URL
          token: \${{ secrets.CUSTOMCD_TOKEN }}
      - name: deploy
        run: echo deployed
YAML
commit_app_repo "$REPO"

# run_job JOB WANT: act for one job on the host; WANT is pass or fail. Sets T_BEFORE, T_AFTER.
# Each job has its own act cache, hence its own RUNNER_TOOL_CACHE (act puts it there): every job
# downloads and checks the binary itself.
run_job() {
  local job=$1 want=$2 code=0 logf="$WORK/act-$1.log"
  mkdir -p "$WORK/act-cache-$job"
  T_BEFORE=$(date +%s)
  (cd "$REPO" && run_bounded 300 act push -W .github/workflows/deploy.yml -j "$job" \
    -P ubuntu-latest=-self-hosted \
    --local-repository "acme/customcd-action@v1=$ACTION" \
    --action-cache-path "$WORK/act-cache-$job" \
    --secret "CUSTOMCD_TOKEN=$TOKEN") >"$logf" 2>&1 || code=$?
  T_AFTER=$(date +%s)
  grep -E 'customcd|setup' "$logf" | sed 's/^/  act| /' | head -n 30 >&2 || true
  if [[ $want == pass ]]; then
    [[ $code -eq 0 ]] || { tail -n 60 "$logf" >&2; die "act job '$job' exited $code"; }
  else
    [[ $code -ne 0 ]] || { tail -n 60 "$logf" >&2; die "act job '$job' passed; it should fail"; }
  fi
  if grep -q "$TOKEN" "$logf"; then die "the token appears in act's log of job '$job'"; fi
}

run_job onestep pass
grep -q 'Run Pre report' "$WORK/act-onestep.log" || die "act ran no pre stage for the setup action"
grep -q 'Run Post report' "$WORK/act-onestep.log" || die "act ran no post stage for the setup action"
expect --count 1 0.method==POST 0.path==/webhook/company/7/cicd_job \
  0.body.status==Succeeded "0.body.commit_sha==$HEAD_SHA" 0.body.repo_name==acme/e2e-app \
  0.body.service_id==42 0.body.job_type==deploy "0.body.job_duration>=2" \
  "0.body.job_start_time>=$T_BEFORE" "0.body.job_start_time<=$T_AFTER" \
  "0.headers.Authorization==Bearer%20$TOKEN" \
  || { tail -n 40 "$WORK/act-onestep.log" >&2; die "job 'onestep' was not reported once as expected"; }
expect_files "*.path==/good/$FILE" || die "the binary was not fetched from the release stand-in"
log "job 'onestep': one record, Succeeded, from the post stage"

run_job onestep-fail fail
expect --count 2 1.body.status==Failed "1.body.commit_sha==$HEAD_SHA" "1.body.job_duration>=2" \
  "1.body.job_start_time>=$T_BEFORE" "1.body.job_start_time<=$T_AFTER" \
  || { tail -n 40 "$WORK/act-onestep-fail.log" >&2; die "job 'onestep-fail' was not reported once as Failed"; }
log "job 'onestep-fail': one more record, Failed"

run_job laststep pass
expect --count 3 2.body.status==Succeeded "2.body.commit_sha==$HEAD_SHA" "2.body.job_duration>=2" \
  "2.body.job_start_time>=$T_BEFORE" "2.body.job_start_time<=$T_AFTER" \
  || { tail -n 40 "$WORK/act-laststep.log" >&2; die "job 'laststep' was not reported once"; }
log "job 'laststep': one more record, with the start the pre stage recorded"

run_job tampered fail
grep -q 'has SHA-256' "$WORK/act-tampered.log" || { tail -n 40 "$WORK/act-tampered.log" >&2; die "job 'tampered' did not fail on the sum"; }
installed=$(find "$WORK/act-cache-tampered/tool_cache" -type f 2>/dev/null || true)
[[ -z "$installed" ]] || die "job 'tampered' left files in the tool cache: $installed"
expect --count 3 || die "job 'tampered' sent something"
log "job 'tampered': refused in the pre stage, nothing sent"
log "PASS"
