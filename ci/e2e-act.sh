#!/usr/bin/env bash
# End to end with a real GitHub Actions runner (nektos/act) and the Docker action.
# A temporary git repository holds a workflow that uses this checkout's action as a PUBLISHED
# action, acme/customcd-action@v1, mapped to the checkout with --local-repository, so the
# pre-entrypoint (`customcd start`) runs before actions/checkout exactly as on GitHub. The image
# named in action.yml is the runtime-local build, tagged with that name (no registry); runs on
# one machine share that name, so it is held under a lock (lib.sh claim_action_image).
# act's step containers share the host's loopback through ci/oci-runtime-hostnet.sh, and post to
# ci/receiver.py on 127.0.0.1. Checks:
#   job "pass": checkout, sleep 2, the action  -> Succeeded, the temp repo's HEAD and repository,
#               a duration measured from the pre stage (>= 2 s), the token as a bearer header;
#   job "fail": a failing step, then the action with if: always() -> Failed.
# Each job is reported exactly once, and in this last-step form the post stage has nothing to do,
# so action.yml's post-if skips it (the main stage's http_status output says it reported).
# usage: ci/e2e-act.sh [PATH_TO_STATIC_BINARY]
set -euo pipefail
SCRIPT_NAME=e2e-act
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"

trap stop_act_suite EXIT
start_act_suite e2e-act "${1:-}"
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
commit_app_repo "$REPO"

run_act() { run_act_job "$REPO" .github/workflows/deploy.yml "$1" --secret "CUSTOMCD_TOKEN=$TOKEN"; }

# Job "pass".
t_before=$(date +%s)
code=0
run_act pass >"$WORK/act-pass.log" 2>&1 || code=$?
t_after=$(date +%s)
grep -E 'Pre |pre-entrypoint|customcd' "$WORK/act-pass.log" | sed 's/^/  act| /' | head -n 20 >&2 || true
[[ $code -eq 0 ]] || { tail -n 60 "$WORK/act-pass.log" >&2; die "act job 'pass' exited $code"; }
grep -q 'Pre acme/customcd-action@v1\|Pre report' "$WORK/act-pass.log" \
  || { tail -n 60 "$WORK/act-pass.log" >&2; die "act ran no Pre stage for the action (pre-entrypoint skipped?)"; }
expect --count 1 0.method==POST 0.path==/webhook/company/7/cicd_job \
  0.body.status==Succeeded "0.body.commit_sha==$HEAD_SHA" 0.body.repo_name==acme/e2e-app \
  0.body.service_id==42 0.body.job_type==deploy "0.body.job_duration>=2" \
  "0.body.job_start_time>=$t_before" "0.body.job_start_time<=$t_after" \
  "0.headers.Authorization==Bearer%20$TOKEN" \
  || die "job 'pass' was not reported as expected (see above)"
# In this last-step form the post stage has nothing to do: post-if skips it, so no container
# starts for it (the --count above and below hold the job to one record).
post_skipped() {
  if grep -q 'Run Post report' "$1"; then
    tail -n 40 "$1" >&2
    die "the action's post stage ran although the main stage had reported ($1)"
  fi
}
post_skipped "$WORK/act-pass.log"
log "job 'pass' reported Succeeded ($(python3 -c 'import json,sys; b=json.loads(open(sys.argv[1]).readline())["body"]; print("duration", b["job_duration"], "s")' "$RECEIVER_LOG"))"

# Job "fail": the workflow fails, the report still goes out, as Failed.
code=0
run_act fail >"$WORK/act-fail.log" 2>&1 || code=$?
[[ $code -ne 0 ]] || { tail -n 60 "$WORK/act-fail.log" >&2; die "act job 'fail' passed; its deploy step should fail it"; }
expect --count 2 1.body.status==Failed "1.body.commit_sha==$HEAD_SHA" 1.body.repo_name==acme/e2e-app \
  "1.headers.Authorization==Bearer%20$TOKEN" \
  || { tail -n 40 "$WORK/act-fail.log" >&2; die "job 'fail' was not reported as Failed"; }
post_skipped "$WORK/act-fail.log"
log "job 'fail' reported Failed, once"

[[ -f "$ROOT/.gitignore" ]] || die "act removed the checkout's .gitignore"
log "PASS"
