#!/usr/bin/env bash
# End to end with a real GitHub Actions runner (nektos/act) and the Docker action.
# A temporary git repository holds a workflow that uses this checkout's action as a PUBLISHED
# action, acme/customcd-action@v1, mapped to the checkout with --local-repository, so the
# pre-entrypoint (`customcd start`) runs before actions/checkout exactly as on GitHub. The image
# named in action.yml is the runtime-local build, tagged with that name (no registry).
# act's step containers share the host's loopback through ci/oci-runtime-hostnet.sh, and post to
# ci/receiver.py on 127.0.0.1. Checks:
#   job "pass": checkout, sleep 2, the action  -> Succeeded, the temp repo's HEAD and repository,
#               a duration measured from the pre stage (>= 2 s), the token as a bearer header;
#   job "fail": a failing step, then the action with if: always() -> Failed.
# usage: ci/e2e-act.sh [PATH_TO_STATIC_BINARY]
set -euo pipefail
SCRIPT_NAME=e2e-act
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"

BIN=$(resolve_binary "${1:-}")
for tool in act podman runc git python3; do
  command -v "$tool" >/dev/null || die "$tool is not installed (run ci/install-tools.sh)"
done
ensure_containers_conf
WORK=$(mktemp -d /tmp/customcd-e2e-act.XXXXXX)
LOCAL_TAG=localhost/customcd:e2e-act
ACTION_IMAGE=$(action_image)
[[ -n "$ACTION_IMAGE" ]] || die "action.yml names no docker:// image"
SERVICE_PID=
cleanup() {
  stop_receiver
  if [[ -n "$SERVICE_PID" ]]; then
    kill "$SERVICE_PID" 2>/dev/null || true
    wait "$SERVICE_PID" 2>/dev/null || true
  fi
  podman rmi -f "$ACTION_IMAGE" "$LOCAL_TAG" >/dev/null 2>&1 || true
  if [[ "${KEEP_WORK:-}" == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# The image under the name action.yml gives.
build_local_image "$BIN" "$LOCAL_TAG" "$WORK"
podman tag "$LOCAL_TAG" "$ACTION_IMAGE"
log "tagged $ACTION_IMAGE"

# Podman's Docker API, with the host-network shim as its OCI runtime.
SOCK="$WORK/podman.sock"
CUSTOMCD_RUNC=$(command -v runc) podman --runtime "$CI_DIR/oci-runtime-hostnet.sh" \
  system service --time=0 "unix://$SOCK" >"$WORK/podman-service.log" 2>&1 &
SERVICE_PID=$!
export CUSTOMCD_RUNC
CUSTOMCD_RUNC=$(command -v runc)
wait_for 30 "the podman API socket" test -S "$SOCK"
wait_for 30 "the podman API to answer" python3 - "$SOCK" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(sys.argv[1])
s.sendall(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n"); assert b"200" in s.recv(100)
PY

start_receiver "$WORK" 900
URL="http://127.0.0.1:$RECEIVER_PORT/customcd/webhook"
TOKEN=e2e-act-token-$RANDOM$RANDOM

# The user's repository.
REPO="$WORK/app"
mkdir -p "$REPO/.github/workflows"
cat >"$REPO/.github/workflows/deploy.yml" <<YAML
name: deploy
on: push
jobs:
  pass:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - name: deploy
        run: sleep 2
      - name: report
        id: report
        if: always()
        uses: acme/customcd-action@v1
        with:
          status: \${{ job.status }}
          service_id: "42"
          url: $URL
          token: \${{ secrets.CUSTOMCD_TOKEN }}
          job_type: deploy
      - name: outputs
        run: |
          echo "status=\${{ steps.report.outputs.status }} http_status=\${{ steps.report.outputs.http_status }}"
          test "\${{ steps.report.outputs.status }}" = Succeeded
  fail:
    runs-on: ubuntu-latest
    steps:
      - name: deploy
        run: exit 1
      - name: report
        if: always()
        uses: acme/customcd-action@v1
        with:
          status: \${{ job.status }}
          service_id: "42"
          url: $URL
          token: \${{ secrets.CUSTOMCD_TOKEN }}
          job_type: deploy
YAML
echo "app" >"$REPO/README.md"
git -C "$REPO" init -q -b main
git -C "$REPO" -c user.name=e2e -c user.email=e2e@example.com add -A
git -C "$REPO" -c user.name=e2e -c user.email=e2e@example.com commit -q -m "deploy workflow"
git -C "$REPO" remote add origin https://github.com/acme/e2e-app.git
HEAD_SHA=$(git -C "$REPO" rev-parse HEAD)
log "temp repo $REPO at $HEAD_SHA"

# act's host mode gives Docker-action containers host paths in GITHUB_ENV, GITHUB_STATE,
# GITHUB_OUTPUT, GITHUB_WORKSPACE (under its cache) without mounting them there; GitHub's runner
# mounts and translates them (/github/file_commands, /github/workspace). Mounting act's cache at
# the same path makes those paths real inside the action's containers.
ACT_CACHE="$WORK/act-cache"
mkdir -p "$ACT_CACHE"
run_act() {
  local job=$1
  (cd "$REPO" && DOCKER_HOST="unix://$SOCK" run_bounded 300 act push \
    -W .github/workflows/deploy.yml -j "$job" \
    -P ubuntu-latest=-self-hosted \
    --container-daemon-socket "unix://$SOCK" \
    --local-repository "acme/customcd-action@v1=$ROOT" \
    --action-cache-path "$ACT_CACHE" \
    --container-options "-v $ACT_CACHE:$ACT_CACHE" \
    --secret "CUSTOMCD_TOKEN=$TOKEN")
}

# Job "pass".
t_before=$(date +%s)
code=0
run_act pass >"$WORK/act-pass.log" 2>&1 || code=$?
t_after=$(date +%s)
grep -E 'Pre |pre-entrypoint|customcd' "$WORK/act-pass.log" | sed 's/^/  act| /' | head -n 20 >&2 || true
[[ $code -eq 0 ]] || { tail -n 60 "$WORK/act-pass.log" >&2; die "act job 'pass' exited $code"; }
grep -q 'Pre acme/customcd-action@v1\|Pre report' "$WORK/act-pass.log" \
  || { tail -n 60 "$WORK/act-pass.log" >&2; die "act ran no Pre stage for the action (pre-entrypoint skipped?)"; }
expect --count 1 0.method==POST 0.path==/customcd/webhook \
  0.body.status==Succeeded "0.body.commit_sha==$HEAD_SHA" 0.body.repo_name==acme/e2e-app \
  0.body.service_id==42 0.body.job_type==deploy "0.body.job_duration>=2" \
  "0.body.job_start_time>=$t_before" "0.body.job_start_time<=$t_after" \
  "0.headers.Authorization==Bearer%20$TOKEN" \
  || die "job 'pass' was not reported as expected (see above)"
log "job 'pass' reported Succeeded ($(python3 -c 'import json,sys; b=json.loads(open(sys.argv[1]).readline())["body"]; print("duration", b["job_duration"], "s")' "$RECEIVER_LOG"))"

# Job "fail": the workflow fails, the report still goes out, as Failed.
code=0
run_act fail >"$WORK/act-fail.log" 2>&1 || code=$?
[[ $code -ne 0 ]] || { tail -n 60 "$WORK/act-fail.log" >&2; die "act job 'fail' passed; its deploy step should fail it"; }
expect --count 2 1.body.status==Failed "1.body.commit_sha==$HEAD_SHA" 1.body.repo_name==acme/e2e-app \
  "1.headers.Authorization==Bearer%20$TOKEN" \
  || { tail -n 40 "$WORK/act-fail.log" >&2; die "job 'fail' was not reported as Failed"; }
log "job 'fail' reported Failed"
[[ -f "$ROOT/.gitignore" ]] || die "act removed the checkout's .gitignore"
log "PASS"
