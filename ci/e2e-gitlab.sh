#!/usr/bin/env bash
# End to end with a real GitLab CI runner (gitlab-ci-local, shell executor) and the component.
# A temporary git repository's .gitlab-ci.yml includes templates/customcd.yml from this checkout
# (copied into the repository: `include: local:` with `inputs:`), and two jobs extend
# .customcd-report: "deploy-ok" passes, "deploy-broken" fails (allow_failure so the pipeline
# goes on). customcd is found on PATH, as on a self-hosted runner. Checks at the receiver:
# Succeeded / Failed, the repository's HEAD, job_start_time == CI_JOB_STARTED_AT, the token.
# usage: ci/e2e-gitlab.sh [PATH_TO_STATIC_BINARY]
set -euo pipefail
SCRIPT_NAME=e2e-gitlab
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"

BIN=$(resolve_binary "${1:-}")
command -v gitlab-ci-local >/dev/null || die "gitlab-ci-local is not installed (run ci/install-tools.sh)"
command -v rsync >/dev/null || die "rsync is not installed (gitlab-ci-local needs it)"
WORK=$(mktemp -d /tmp/customcd-e2e-gitlab.XXXXXX)
FILES_PID=
stop_files() {
  if [[ -n "$FILES_PID" ]]; then
    kill "$FILES_PID" 2>/dev/null || true
    wait "$FILES_PID" 2>/dev/null || true
    FILES_PID=
  fi
}
cleanup() {
  stop_files
  stop_receiver
  if [[ "${KEEP_WORK:-}" == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

mkdir -p "$WORK/bin"
cp "$BIN" "$WORK/bin/customcd"
start_receiver "$WORK" 600
TOKEN=e2e-gitlab-token-$RANDOM$RANDOM

REPO="$WORK/app"
mkdir -p "$REPO/templates"
cp "$ROOT/templates/customcd.yml" "$REPO/templates/customcd.yml"
cat >"$REPO/.gitlab-ci.yml" <<YAML
include:
  - local: templates/customcd.yml
    inputs:
      service_id: "42"
      job_type: deploy
      fields: "team=e2e"

deploy-ok:
  extends: .customcd-report
  script:
    - echo "\$CI_JOB_STARTED_AT" > "$WORK/started-\$CI_JOB_NAME.txt"
    - echo deploying

deploy-broken:
  extends: .customcd-report
  allow_failure: true
  script:
    - echo "\$CI_JOB_STARTED_AT" > "$WORK/started-\$CI_JOB_NAME.txt"
    - exit 1
YAML
echo app >"$REPO/README.md"
git -C "$REPO" init -q -b main
git -C "$REPO" -c user.name=e2e -c user.email=e2e@example.com add -A
git -C "$REPO" -c user.name=e2e -c user.email=e2e@example.com commit -q -m "pipeline"
git -C "$REPO" remote add origin https://gitlab.example.com/acme/e2e-app.git
HEAD_SHA=$(git -C "$REPO" rev-parse HEAD)
log "temp repo $REPO at $HEAD_SHA"

# gitlab-ci-local sets GITLAB_CI=false on purpose (scripts can tell it from GitLab); GitLab sets
# it to true, and customcd detects GitLab by it, so the test sets what GitLab sets.
run_job() {
  local job=$1
  (cd "$REPO" && PATH="$WORK/bin:$PATH" run_bounded 300 gitlab-ci-local --no-color \
    --variable GITLAB_CI=true \
    --variable "CUSTOMCD_URL=http://127.0.0.1:$RECEIVER_PORT/customcd/webhook" \
    --variable "CUSTOMCD_TOKEN=$TOKEN" \
    "$job")
}

epoch_of() { date -u -d "$1" +%s; }

code=0
run_job deploy-ok >"$WORK/ok.log" 2>&1 || code=$?
[[ $code -eq 0 ]] || { tail -n 60 "$WORK/ok.log" >&2; die "gitlab-ci-local deploy-ok exited $code"; }
[[ -s "$WORK/started-deploy-ok.txt" ]] || { tail -n 40 "$WORK/ok.log" >&2; die "deploy-ok did not run its script"; }
started=$(cat "$WORK/started-deploy-ok.txt")
log "deploy-ok CI_JOB_STARTED_AT=$started"
expect --count 1 0.method==POST 0.path==/customcd/webhook 0.body.status==Succeeded \
  "0.body.commit_sha==$HEAD_SHA" "0.body.job_start_time==$(epoch_of "$started")" \
  0.body.service_id==42 0.body.job_type==deploy "0.headers.Authorization==Bearer%20$TOKEN" \
  || { tail -n 40 "$WORK/ok.log" >&2; die "deploy-ok was not reported as expected"; }
log "deploy-ok reported Succeeded"

code=0
run_job deploy-broken >"$WORK/broken.log" 2>&1 || code=$?
[[ -s "$WORK/started-deploy-broken.txt" ]] || { tail -n 40 "$WORK/broken.log" >&2; die "deploy-broken did not run its script"; }
started=$(cat "$WORK/started-deploy-broken.txt")
expect --count 2 1.body.status==Failed "1.body.commit_sha==$HEAD_SHA" \
  "1.body.job_start_time==$(epoch_of "$started")" "1.headers.Authorization==Bearer%20$TOKEN" \
  || { tail -n 40 "$WORK/broken.log" >&2; die "deploy-broken was not reported as Failed (gitlab-ci-local exited $code)"; }
log "deploy-broken reported Failed"

# No customcd on PATH: the component downloads the pinned release and checks its SHA-256. A
# loopback file server stands in for the release host (inputs.release_url).
if PATH="$(dirname "$(command -v git)"):/usr/bin:/bin" command -v customcd >/dev/null 2>&1; then
  log "SKIP download path: a customcd is installed on this machine's PATH"
else
  VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n1)
  asset="customcd-$VERSION-x86_64-unknown-linux-musl"
  mkdir -p "$WORK/releases/v$VERSION"
  cp "$BIN" "$WORK/releases/v$VERSION/$asset"
  (cd "$WORK/releases/v$VERSION" && sha256sum "$asset" >SHA256SUMS)
  # timeout (not the run_bounded function, whose subshell would hide the PID) passes a kill on.
  timeout 300 python3 -m http.server --bind 127.0.0.1 --directory "$WORK/releases" 0 \
    >"$WORK/files.log" 2>&1 &
  FILES_PID=$!
  wait_for 15 "the file server" grep -q 'Serving HTTP' "$WORK/files.log"
  files_port=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$WORK/files.log" | head -n1)
  sed -i "s|      fields: \"team=e2e\"|      fields: \"team=e2e\"\n      version: \"$VERSION\"\n      release_url: http://127.0.0.1:$files_port|" "$REPO/.gitlab-ci.yml"
  code=0
  (cd "$REPO" && PATH=/usr/local/bin:/usr/bin:/bin run_bounded 300 "$(command -v gitlab-ci-local)" --no-color \
    --variable GITLAB_CI=true \
    --variable "CUSTOMCD_URL=http://127.0.0.1:$RECEIVER_PORT/customcd/webhook" \
    --variable "CUSTOMCD_TOKEN=$TOKEN" deploy-ok) >"$WORK/download.log" 2>&1 || code=$?
  stop_files
  grep -q "GET /v$VERSION/$asset " "$WORK/files.log" || { tail -n 40 "$WORK/download.log" >&2; die "the component did not download $asset"; }
  expect --count 3 2.body.status==Succeeded "2.body.commit_sha==$HEAD_SHA" \
    || { tail -n 40 "$WORK/download.log" >&2; die "the downloaded, verified binary did not report (gitlab-ci-local exited $code)"; }
  log "download path: fetched $asset, checked SHA256SUMS, reported Succeeded"
fi
log "PASS"
