#!/usr/bin/env bash
# The setup action (setup/), checked without a runner:
#   - setup/action.yml is what ci/setup-action.py makes from action.yml's inputs (never hand-edited);
#   - it passes the action schema (check-jsonschema vendor.github-actions) and actionlint, through
#     a workflow that uses it with the inputs a user would give;
#   - node's test runner runs setup/test/: the download-and-verify logic against a file server on
#     127.0.0.1 serving a good and a tampered binary, and the three stages run as the runner runs them.
# Under act, with the real binary, ci/e2e-act-setup.sh runs it.
# usage: ci/test-setup-action.sh
set -euo pipefail
SCRIPT_NAME=test-setup-action
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
require_tools node python3 actionlint check-jsonschema git
cd "$ROOT"
# shellcheck disable=SC2016 # JavaScript, not shell
node -e 'const [maj] = process.versions.node.split("."); if (+maj < 20) { console.error(`node ${process.versions.node}: the test runner needs node 20 or later`); process.exit(1); }'

python3 ci/setup-action.py --check
check-jsonschema --builtin-schema vendor.github-actions setup/action.yml

WORK=$(make_workdir setup-lint)
trap 'remove_workdir "$WORK"' EXIT
# actionlint reads a local action's metadata when a workflow in a git repository uses it.
mkdir -p "$WORK/repo/.github/workflows"
cp -r setup "$WORK/repo/setup"
cat >"$WORK/repo/.github/workflows/deploy.yml" <<'YAML'
name: deploy
on: push
jobs:
  deploy:
    strategy:
      matrix:
        os: [ubuntu-latest, macos-latest, windows-latest]
    runs-on: ${{ matrix.os }}
    steps:
      - uses: ./setup
        with:
          report_at: job-end
          service_id: "42"
          url: https://example.invalid/webhook/company/7/cicd_job
          token: ${{ secrets.ALLSTACKS_TOKEN }}
          job_type: deploy
      - run: customcd --version
YAML
git -C "$WORK/repo" init -q
(cd "$WORK/repo" && actionlint -no-color)
log "ok: setup/action.yml is generated, valid against the schema, and actionlint accepts a workflow using it"

node --test setup/test/
log "PASS"
