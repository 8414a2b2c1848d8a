#!/usr/bin/env bash
# Install the tools, lint the packaging, then run every end-to-end suite (each ci/e2e-*.sh but
# this one, in name order, so a new suite is picked up by being added) against one static binary.
# Each suite runs even when an earlier one failed; the exit status says whether all passed.
# usage: ci/e2e-all.sh [PATH_TO_STATIC_BINARY]
set -uo pipefail
SCRIPT_NAME=e2e-all
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
bash "$CI_DIR/install-tools.sh" || die "installing the tools failed"
hash -r
BIN=$(resolve_binary "${1:-}") || exit 1

suites=()
for script in "$CI_DIR"/e2e-*.sh; do
  [[ "$(basename "$script")" == e2e-all.sh ]] || suites+=("$script")
done
((${#suites[@]})) || die "no ci/e2e-*.sh suite found"
log "suites: lint-packaging $(for s in "${suites[@]}"; do basename "$s" .sh; done | tr '\n' ' ')"

passed=0
failed=()
# run_suite NAME SCRIPT [ARGS...]
run_suite() {
  local name=$1 t0=$SECONDS rc=0
  shift
  bash "$@" || rc=$?
  if ((rc == 0)); then
    passed=$((passed + 1))
    log "$name: passed in $((SECONDS - t0))s"
  else
    failed+=("$name")
    log "$name: FAILED (exit $rc) after $((SECONDS - t0))s"
  fi
}

run_suite lint-packaging "$CI_DIR/lint-packaging.sh"
for script in "${suites[@]}"; do
  run_suite "$(basename "$script" .sh)" "$script" "$BIN"
done
echo "e2e: $passed passed, ${#failed[@]} failed${failed[*]:+ (${failed[*]})}"
((${#failed[@]} == 0))
