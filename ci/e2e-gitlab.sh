#!/usr/bin/env bash
# End to end with a real GitLab CI runner (gitlab-ci-local, shell executor) and the component.
# A temporary git repository's .gitlab-ci.yml includes templates/customcd.yml from this checkout
# (copied into the repository: `include: local:` with `inputs:`), and two jobs extend
# .customcd-report: "deploy-ok" passes, "deploy-broken" fails. Every report goes to
# ci/receiver.py on 127.0.0.1. Checks:
#   1. customcd on PATH (a self-hosted runner): deploy-ok is reported Succeeded with the
#      repository's HEAD, job_start_time == CI_JOB_STARTED_AT, the service id, job type, token and
#      the `fields` input as optional fields (typed); deploy-broken's script fails with its exit
#      status (3), gitlab-ci-local fails, and the job is reported Failed.
#   2. no customcd on PATH (asserted: a PATH whose directories holding one are shadowed): the
#      component downloads the pinned release from a loopback file server (inputs.release_url)
#      and checks it against SHA256SUMS; the server's access log proves both files were fetched,
#      and the verified binary reports.
#   3. the same with a SHA256SUMS that does not match: SHA256SUMS was fetched, the after_script
#      fails with "checksum mismatch" (GitLab never fails a job for its after_script, so the job's
#      own status stays), the binary is not installed, and nothing is reported.
#   4. the sha256 input: SHA256SUMS is not fetched; the right pin reports, a wrong one is refused
#      as in 3.
# usage: ci/e2e-gitlab.sh [PATH_TO_STATIC_BINARY]
set -euo pipefail
SCRIPT_NAME=e2e-gitlab
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"

BIN=$(resolve_binary "${1:-}")
require_tools gitlab-ci-local rsync git python3 sha256sum
WORK=$(make_workdir e2e-gitlab)
cleanup() {
  stop_file_server
  stop_receiver
  remove_workdir "$WORK"
}
trap cleanup EXIT

VERSION=$(crate_version)
mkdir -p "$WORK/bin"
cp "$BIN" "$WORK/bin/customcd"
start_receiver "$WORK" 900
TOKEN=e2e-gitlab-token-$RANDOM$RANDOM

REPO="$WORK/app"
mkdir -p "$REPO/templates"
cp "$ROOT/templates/customcd.yml" "$REPO/templates/customcd.yml"
# The failing job's script exits with this status; gitlab-ci-local must pass the failure on.
BROKEN_EXIT=3
# write_pipeline [INPUT_LINE...]: the repository's .gitlab-ci.yml, with extra component inputs.
write_pipeline() {
  {
    cat <<YAML
include:
  - local: templates/customcd.yml
    inputs:
      service_id: 42
      job_type: deploy
      fields: [team=e2e, "build:integer=7"]
YAML
    local line
    for line in "$@"; do printf '      %s\n' "$line"; done
    cat <<YAML

deploy-ok:
  extends: .customcd-report
  script:
    - echo "\$CI_JOB_STARTED_AT" > "$WORK/started-\$CI_JOB_NAME.txt"
    - echo deploying

deploy-broken:
  extends: .customcd-report
  script:
    - echo "\$CI_JOB_STARTED_AT" > "$WORK/started-\$CI_JOB_NAME.txt"
    - exit $BROKEN_EXIT

review-prepare:
  extends: .customcd-report
  environment:
    name: review/e2e
    action: prepare
  script:
    - echo preparing
YAML
  } >"$REPO/.gitlab-ci.yml"
}
write_pipeline
echo app >"$REPO/README.md"
git -C "$REPO" init -q -b main
git -C "$REPO" -c user.name=e2e -c user.email=e2e@example.com add -A
git -C "$REPO" -c user.name=e2e -c user.email=e2e@example.com commit -q -m "pipeline"
git -C "$REPO" remote add origin https://gitlab.example.com/acme/e2e-app.git
HEAD_SHA=$(git -C "$REPO" rev-parse HEAD)
log "temp repo $REPO at $HEAD_SHA"

# run_job NAME JOB_PATH: runs JOB under gitlab-ci-local with PATH=JOB_PATH and a TMPDIR of its own
# (the component keeps its download there), output in $WORK/NAME.log; sets CODE to its exit status.
# gitlab-ci-local sets GITLAB_CI=false on purpose (scripts can tell it from GitLab); GitLab sets
# it to true, and customcd detects GitLab by it, so the test sets what GitLab sets.
run_job() {
  local name=$1 job=$2 job_path=$3 glci
  glci=$(command -v gitlab-ci-local)
  mkdir -p "$WORK/tmp-$name"
  CODE=0
  (cd "$REPO" && PATH="$job_path" TMPDIR="$WORK/tmp-$name" run_bounded 300 "$glci" --no-color \
    --variable GITLAB_CI=true \
    --variable "CUSTOMCD_URL=http://127.0.0.1:$RECEIVER_PORT/webhook/company/7/cicd_job" \
    --variable "CUSTOMCD_TOKEN=$TOKEN" \
    "$job") >"$WORK/$name.log" 2>&1 || CODE=$?
}
# show NAME: the end of a run's output, for a failure message.
show() { tail -n 60 "$WORK/$1.log" >&2; }
epoch_of() { date -u -d "$1" +%s; }
started_epoch() {
  [[ -s "$WORK/started-$1.txt" ]] || die "$1 did not run its script"
  epoch_of "$(cat "$WORK/started-$1.txt")"
}

# 1. customcd on PATH, as on a self-hosted runner.
run_job ok deploy-ok "$WORK/bin:$PATH"
((CODE == 0)) || { show ok; die "gitlab-ci-local deploy-ok exited $CODE"; }
expect --count 1 0.method==POST 0.path==/webhook/company/7/cicd_job 0.body.status==Succeeded \
  "0.body.commit_sha==$HEAD_SHA" "0.body.job_start_time==$(started_epoch deploy-ok)" \
  0.body.service_id==42 0.body.job_type==deploy "0.headers.Authorization==Bearer%20$TOKEN" \
  "0.body.optional.[key:team].value==e2e" "0.body.optional.[key:team].type==string" \
  "0.body.optional.[key:build].value==7" "0.body.optional.[key:build].type==integer" \
  || { show ok; die "deploy-ok was not reported as expected"; }
log "deploy-ok reported Succeeded, with the fields input as optional fields"

run_job broken deploy-broken "$WORK/bin:$PATH"
((CODE != 0)) || { show broken; die "gitlab-ci-local passed although deploy-broken's script exited $BROKEN_EXIT"; }
# gitlab-ci-local's verdict line for the script: "deploy-broken finished in 63 ms  FAIL 3".
grep -Eq "^deploy-broken finished in .* FAIL $BROKEN_EXIT( |\$)" "$WORK/broken.log" \
  || { show broken; die "deploy-broken's script did not fail with its exit status $BROKEN_EXIT"; }
expect --count 2 1.body.status==Failed "1.body.commit_sha==$HEAD_SHA" \
  "1.body.job_start_time==$(started_epoch deploy-broken)" "1.headers.Authorization==Bearer%20$TOKEN" \
  "1.body.optional.[key:ci_result].value==failed" \
  || { show broken; die "deploy-broken was not reported as Failed (gitlab-ci-local exited $CODE)"; }
log "deploy-broken failed gitlab-ci-local (exit $CODE) and was reported Failed, ci_result failed"

# environment:action: prepare deploys nothing (GitLab's docs): not reported, one line, exit 0.
run_job prepare review-prepare "$WORK/bin:$PATH"
((CODE == 0)) || { show prepare; die "gitlab-ci-local review-prepare exited $CODE"; }
grep -q "customcd: not reported: GitLab says this job deploys nothing: CI_ENVIRONMENT_ACTION is prepare" "$WORK/prepare.log" \
  || { show prepare; die "review-prepare did not say it was not reported"; }
expect --count 2 || { show prepare; die "review-prepare was reported"; }
log "review-prepare (environment:action: prepare) was not reported and said so"

# 2. No customcd on PATH: the component downloads the pinned release and checks its SHA-256. A
# loopback file server stands in for the release host.
NO_CUSTOMCD_PATH=$(path_without customcd "$WORK")
asset="customcd-$VERSION-x86_64-unknown-linux-musl"
release="$WORK/releases/v$VERSION"
mkdir -p "$release"
cp "$BIN" "$release/$asset"
(cd "$release" && sha256sum "$asset" >SHA256SUMS)
start_file_server "$WORK/releases" "$WORK" 600
write_pipeline "version: \"$VERSION\"" "release_url: http://127.0.0.1:$FILES_PORT"

run_job download deploy-ok "$NO_CUSTOMCD_PATH"
expect_files --count 2 "0.path==/v$VERSION/SHA256SUMS" 0.status==200 "1.path==/v$VERSION/$asset" 1.status==200 \
  || { show download; die "the component did not fetch $asset and SHA256SUMS"; }
((CODE == 0)) || { show download; die "gitlab-ci-local deploy-ok (download path) exited $CODE"; }
# The component keeps the verified download as its cache (and runs a private, re-verified copy).
cached="$WORK/tmp-download/customcd-$VERSION-x86_64/customcd"
[[ -f "$cached" && "$(sha256sum <"$cached")" == "$(sha256sum <"$BIN")" ]] \
  || { show download; die "the verified download is not where the component keeps it"; }
expect --count 3 2.body.status==Succeeded "2.body.commit_sha==$HEAD_SHA" "2.headers.Authorization==Bearer%20$TOKEN" \
  || { show download; die "the downloaded, verified binary did not report"; }
log "download path: fetched $asset and SHA256SUMS, verified, reported Succeeded"

# expect_refused NAME REPORTS: run NAME's after_script failed on a checksum mismatch, left no
# binary installed, and the receiver still holds only REPORTS requests.
expect_refused() {
  local name=$1 reports=$2
  grep -q "customcd: checksum mismatch for $asset" "$WORK/$name.log" \
    || { show "$name"; die "$name: the component did not report the checksum mismatch"; }
  # GitLab never fails a job for its after_script (the job's status is final by then, which is
  # why the report runs there); the after_script itself must fail, as gitlab-ci-local shows:
  # "deploy-ok finished in 173 ms  WARN 1  after_script".
  grep -Eq "^deploy-ok finished in .* WARN [1-9][0-9]* +after_script" "$WORK/$name.log" \
    || { show "$name"; die "$name: the after_script did not fail on the checksum mismatch"; }
  expect --count "$reports" || { show "$name"; die "$name: a binary that failed its checksum reported a job"; }
  [[ ! -e "$WORK/tmp-$name/customcd-$VERSION-x86_64/customcd" ]] \
    || die "$name: the binary that failed its checksum was installed"
}

# 3. A release whose SHA256SUMS does not match the binary: nothing may run, nothing is reported.
printf '%064d  %s\n' 0 "$asset" >"$release/SHA256SUMS"
run_job mismatch deploy-ok "$NO_CUSTOMCD_PATH"
expect_files --count 4 "2.path==/v$VERSION/SHA256SUMS" 2.status==200 "3.path==/v$VERSION/$asset" \
  || { show mismatch; die "the component did not fetch SHA256SUMS on the mismatch run"; }
expect_refused mismatch 3
log "SHA256SUMS mismatch: SHA256SUMS fetched, the after_script failed (gitlab-ci-local exited $CODE), nothing reported"

# 4. The sha256 input pins the bytes: SHA256SUMS (still wrong) is not even fetched; the right
# pin reports, a wrong one is refused like a SHA256SUMS mismatch.
write_pipeline "version: \"$VERSION\"" "release_url: http://127.0.0.1:$FILES_PORT" \
  "sha256: \"$(sha256sum "$BIN" | cut -d' ' -f1)\""
run_job pinned deploy-ok "$NO_CUSTOMCD_PATH"
expect_files --count 5 "4.path==/v$VERSION/$asset" 4.status==200 \
  || { show pinned; die "with the sha256 input, the component fetched more than $asset"; }
((CODE == 0)) || { show pinned; die "gitlab-ci-local deploy-ok (sha256 input) exited $CODE"; }
expect --count 4 3.body.status==Succeeded "3.body.commit_sha==$HEAD_SHA" \
  || { show pinned; die "the binary checked against the sha256 input did not report"; }
write_pipeline "version: \"$VERSION\"" "release_url: http://127.0.0.1:$FILES_PORT" "sha256: \"$(printf '%064d' 1)\""
run_job pinned-wrong deploy-ok "$NO_CUSTOMCD_PATH"
expect_files --count 6 "5.path==/v$VERSION/$asset" \
  || { show pinned-wrong; die "with a wrong sha256 input, the component fetched more than $asset"; }
expect_refused pinned-wrong 4
log "sha256 input: SHA256SUMS not fetched; the right pin reported, a wrong one was refused"
log "PASS"
