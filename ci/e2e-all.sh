#!/usr/bin/env bash
# Install the tools, lint the packaging, then run the three end-to-end suites against one static
# binary. Each suite runs even when an earlier one failed; the exit status says whether all passed.
# usage: ci/e2e-all.sh [PATH_TO_STATIC_BINARY]
set -uo pipefail
SCRIPT_NAME=e2e-all
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
bash "$CI_DIR/install-tools.sh" || die "installing the tools failed"
hash -r
BIN=$(resolve_binary "${1:-}") || exit 1
passed=0
failed=0
for suite in lint-packaging e2e-image e2e-act e2e-gitlab; do
  t0=$SECONDS
  if [[ $suite == lint-packaging ]]; then
    bash "$CI_DIR/$suite.sh"
  else
    bash "$CI_DIR/$suite.sh" "$BIN"
  fi
  rc=$?
  if ((rc == 0)); then
    passed=$((passed + 1))
    log "$suite: passed in $((SECONDS - t0))s"
  else
    failed=$((failed + 1))
    log "$suite: FAILED (exit $rc) after $((SECONDS - t0))s"
  fi
done
echo "e2e: $passed passed, $failed failed"
((failed == 0))
