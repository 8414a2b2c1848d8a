#!/usr/bin/env bash
# Fails when the static release binary (glibc, crt-static) outgrows its budget of 4.5 MiB, so
# that growth is a decision (raise the budget here and in BENCHMARKS.md, with the reason in the
# commit), not an accident. Issue 6 asked for 4 MiB; BENCHMARKS.md says why this build misses it
# and what would close the gap.
# usage: ci/size-budget.sh [STATIC_BINARY]
set -euo pipefail
BUDGET=$((9 * 512 * 1024))
bin=${1:-target/x86_64-unknown-linux-gnu/release/customcd}
size=$(stat -c %s "$bin")
if ((size > BUDGET)); then
  echo "size-budget: FAIL: $bin is $size bytes, over the budget of $BUDGET bytes (4.5 MiB; see BENCHMARKS.md)" >&2
  exit 1
fi
echo "size-budget: ok: $bin is $size bytes (budget $BUDGET)"
