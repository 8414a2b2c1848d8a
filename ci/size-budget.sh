#!/usr/bin/env bash
# Fails when the static release binary outgrows its budget, so that growth is a decision (raise
# the budget here and in BENCHMARKS.md, with the reason in the commit), not an accident.
# usage: ci/size-budget.sh [STATIC_BINARY]
set -euo pipefail
BUDGET=$((4 * 1024 * 1024))
bin=${1:-target/x86_64-unknown-linux-gnu/release/customcd}
size=$(stat -c %s "$bin")
if ((size > BUDGET)); then
  echo "size-budget: FAIL: $bin is $size bytes, over the budget of $BUDGET bytes (4 MiB)" >&2
  exit 1
fi
echo "size-budget: ok: $bin is $size bytes (budget $BUDGET)"
