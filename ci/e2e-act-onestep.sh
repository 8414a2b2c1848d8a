#!/usr/bin/env bash
# End to end: the GitHub Action as ONE step at the top of the job (report_at: job-end), under a
# real runner (nektos/act). The workflow uses this checkout's action as a PUBLISHED action,
# acme/customcd-action@v1 (mapped with --local-repository), so act runs all three stages: pre
# (/customcd-start, before anything), main (/customcd-report, which only defers) and post
# (/customcd-post, after every other step). The image named in action.yml is the runtime-local
# build (no registry); step containers share the host's loopback through
# ci/oci-runtime-hostnet.sh and post to ci/receiver.py on 127.0.0.1. Checks, job by job:
#   "pass":        the action (no status given), checkout, a step that proves nothing was sent
#                  yet, sleep 2 -> exactly one record: Succeeded, duration >= 2 s from the pre
#                  stage's start, the checked-out commit;
#   "fail":        the action (no status given), sleep 2, exit 1 -> exactly one more: Failed;
#   "fail-status": the same with `status: ${{ job.status }}` passed, which act (like GitHub)
#                  evaluates again for the post stage -> exactly one more: Failed.
# usage: ci/e2e-act-onestep.sh [PATH_TO_STATIC_BINARY]
set -euo pipefail
SCRIPT_NAME=e2e-act-onestep
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"

trap stop_act_suite EXIT
start_act_suite e2e-act-onestep "${1:-}"
TOKEN=e2e-act-onestep-token-$RANDOM$RANDOM

# The user's repository. The run steps run on the host (-self-hosted), so they can look at the
# receiver's log: while the job runs, nothing may have arrived.
REPO="$WORK/app"
mkdir -p "$REPO/.github/workflows"
cat >"$REPO/.github/workflows/deploy.yml" <<YAML
name: deploy
on: push
jobs:
  pass:
    runs-on: ubuntu-latest
    steps:
      - name: report
        uses: acme/customcd-action@v1
        with:
          report_at: job-end
          service_id: "42"
          url: $URL
          token: \${{ secrets.CUSTOMCD_TOKEN }}
          job_type: deploy
      - uses: actions/checkout@v4
      - name: nothing sent yet
        run: test ! -s "$RECEIVER_LOG"
      - name: deploy
        run: sleep 2
  fail:
    runs-on: ubuntu-latest
    steps:
      - name: report
        uses: acme/customcd-action@v1
        with:
          report_at: job-end
          service_id: "42"
          url: $URL
          token: \${{ secrets.CUSTOMCD_TOKEN }}
          job_type: deploy
      - name: deploy
        run: sleep 2
      - name: break
        run: exit 1
  fail-status:
    runs-on: ubuntu-latest
    steps:
      - name: report
        uses: acme/customcd-action@v1
        with:
          report_at: job-end
          status: \${{ job.status }}
          service_id: "42"
          url: $URL
          token: \${{ secrets.CUSTOMCD_TOKEN }}
          job_type: deploy
      - name: break
        run: exit 1
YAML
commit_app_repo "$REPO"

# run_job JOB WANT_EXIT: runs one job; WANT_EXIT is "pass" or "fail"; checks that act ran the
# action's three stages and that the main stage deferred. Sets T_BEFORE and T_AFTER (epoch s).
run_job() {
  local job=$1 want=$2 code=0 logf="$WORK/act-$1.log"
  T_BEFORE=$(date +%s)
  run_act_job "$REPO" .github/workflows/deploy.yml "$job" --secret "CUSTOMCD_TOKEN=$TOKEN" >"$logf" 2>&1 || code=$?
  T_AFTER=$(date +%s)
  grep -E '(Pre|Main|Post) report|customcd' "$logf" | sed 's/^/  act| /' | head -n 30 >&2 || true
  if [[ $want == pass ]]; then
    [[ $code -eq 0 ]] || { tail -n 60 "$logf" >&2; die "act job '$job' exited $code"; }
  else
    [[ $code -ne 0 ]] || { tail -n 60 "$logf" >&2; die "act job '$job' passed; its failing step should fail it"; }
  fi
  for stage in Pre Main Post; do
    grep -q "Run $stage report" "$logf" || { tail -n 60 "$logf" >&2; die "act ran no $stage stage for the action in job '$job'"; }
  done
  grep -q 'report_at is job-end' "$logf" || { tail -n 60 "$logf" >&2; die "the main stage of job '$job' did not defer"; }
}

# The record of job N (from 0) in the receiver's log, for the summary lines.
describe() {
  python3 -c 'import json,sys; b=json.loads(open(sys.argv[1]).readlines()[int(sys.argv[2])])["body"]; print(b["status"], "duration", b["job_duration"], "s")' "$RECEIVER_LOG" "$1"
}

run_job pass pass
expect --count 1 0.method==POST 0.path==/webhook/company/7/cicd_job \
  0.body.status==Succeeded "0.body.commit_sha==$HEAD_SHA" 0.body.repo_name==acme/e2e-app \
  0.body.service_id==42 0.body.job_type==deploy "0.body.job_duration>=2" \
  "0.body.job_start_time>=$T_BEFORE" "0.body.job_start_time<=$T_AFTER" \
  "0.headers.Authorization==Bearer%20$TOKEN" \
  || { tail -n 40 "$WORK/act-pass.log" >&2; die "job 'pass' was not reported once as expected (see above)"; }
log "job 'pass' reported once: $(describe 0)"

run_job fail fail
expect --count 2 1.body.status==Failed "1.body.commit_sha==$HEAD_SHA" 1.body.repo_name==acme/e2e-app \
  "1.body.job_duration>=2" "1.body.job_start_time>=$T_BEFORE" "1.body.job_start_time<=$T_AFTER" \
  "1.headers.Authorization==Bearer%20$TOKEN" \
  || { tail -n 40 "$WORK/act-fail.log" >&2; die "job 'fail' was not reported once as Failed"; }
log "job 'fail' reported once: $(describe 1)"

run_job fail-status fail
expect --count 3 2.body.status==Failed "2.body.job_start_time>=$T_BEFORE" "2.body.job_start_time<=$T_AFTER" \
  || { tail -n 40 "$WORK/act-fail-status.log" >&2; die "job 'fail-status' was not reported once as Failed"; }
log "job 'fail-status' reported once: $(describe 2)"

[[ -f "$ROOT/.gitignore" ]] || die "act removed the checkout's .gitignore"
log "PASS"
