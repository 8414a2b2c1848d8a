#!/usr/bin/env bash
# End to end: the legs of a matrix job are separate jobs, under a real runner (nektos/act).
# A temporary git repository holds a workflow with one job, "deploy", whose matrix has two legs
# (region: us, eu). Each leg checks out and runs this checkout's action as a PUBLISHED action,
# acme/customcd-action@v1 (mapped with --local-repository), so action.yml's input defaults are
# evaluated by the runner per leg, as on GitHub: the `matrix` input's default is
# ${{ toJSON(matrix) }}. The image named in action.yml is the runtime-local build (no registry);
# step containers share the host's loopback through ci/oci-runtime-hostnet.sh and post to
# ci/receiver.py on 127.0.0.1. Checks: exactly two jobs arrive (each leg's post stage, with
# nothing to do after the main stage reported, is skipped by action.yml's post-if and sends
# nothing), their job_ids differ, each ends with its own leg (`-deploy-us`, `-deploy-eu`) and
# agrees with the leg's own `region` field.
# usage: ci/e2e-act-matrix.sh [PATH_TO_STATIC_BINARY]
set -euo pipefail
SCRIPT_NAME=e2e-act-matrix
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"

trap stop_act_suite EXIT
start_act_suite e2e-act-matrix "${1:-}"
TOKEN=e2e-act-matrix-token-$RANDOM$RANDOM

# The user's repository. The step passes nothing about the leg but a field to check against:
# the job id's leg comes from the action's own `matrix` input default.
REPO="$WORK/app"
mkdir -p "$REPO/.github/workflows"
cat >"$REPO/.github/workflows/deploy.yml" <<YAML
name: deploy
on: push
jobs:
  deploy:
    runs-on: ubuntu-latest
    strategy:
      matrix:
        region: [us, eu]
    steps:
      - uses: actions/checkout@v4
      - name: report
        uses: acme/customcd-action@v1
        with:
          status: success
          service_id: "42"
          url: $URL
          token: \${{ secrets.CUSTOMCD_TOKEN }}
          job_type: deploy
          job_start_time: "1704018030"
          fields: region=\${{ matrix.region }}
YAML
commit_app_repo "$REPO"

code=0
run_act_job "$REPO" .github/workflows/deploy.yml deploy --secret "CUSTOMCD_TOKEN=$TOKEN" >"$WORK/act.log" 2>&1 || code=$?
grep -E 'customcd|matrix' "$WORK/act.log" | sed 's/^/  act| /' | head -n 30 >&2 || true
[[ $code -eq 0 ]] || { tail -n 60 "$WORK/act.log" >&2; die "act job 'deploy' exited $code"; }
# Each leg's main stage reported, so post-if skips its post stage (no container): two legs, two
# records (--count below), and no post stage in the log.
[[ $(grep -c 'Run Post ' "$WORK/act.log") -eq 0 ]] \
  || { tail -n 60 "$WORK/act.log" >&2; die "the action's post stage ran in a leg whose main stage had reported"; }

expect --count 2 0.method==POST 1.method==POST \
  "0.body.commit_sha==$HEAD_SHA" "1.body.commit_sha==$HEAD_SHA" \
  0.body.repo_name==acme/e2e-app 1.body.repo_name==acme/e2e-app \
  '0.body.job_id~-deploy-(us|eu)$' '1.body.job_id~-deploy-(us|eu)$' \
  || { tail -n 60 "$WORK/act.log" >&2; die "the two legs were not reported as expected (see above)"; }
# Legs may run in either order: check the pair, and each job id against its own leg's field.
python3 - "$RECEIVER_LOG" <<'PY' || die "the legs' job ids are not distinct or do not match their legs"
import json, sys
bodies = [json.loads(line)["body"] for line in open(sys.argv[1]) if line.strip()]
ids = [b["job_id"] for b in bodies]
if len(set(ids)) != 2:
    sys.exit(f"job ids collide: {ids}")
for b in bodies:
    region = next(f["value"] for f in b["optional"] if f["key"] == "region")
    if not b["job_id"].endswith(f"-deploy-{region}"):
        sys.exit(f"job {b['job_id']} carries region {region}")
print(f"[e2e-act-matrix] job ids: {', '.join(sorted(ids))}", file=sys.stderr)
PY
[[ -f "$ROOT/.gitignore" ]] || die "act removed the checkout's .gitignore"
log "PASS"
