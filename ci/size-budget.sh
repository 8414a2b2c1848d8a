#!/usr/bin/env bash
# Fails when the static release binary (glibc, crt-static) outgrows its budget of 4.2 MiB, so
# that growth is a decision (raise the budget here and in BENCHMARKS.md, with the reason in the
# commit), not an accident. Issues 6 and 14 ask for 4 MiB: the size work of issue 14 brought this
# build from 4.33 MiB to 4.17 MiB without dropping behaviour, and BENCHMARKS.md ("The binary size
# budget") says, lever by lever, what that took and what the last 170 KB would cost. The budget
# sits just above today's size, so that any growth fails CI.
# usage: ci/size-budget.sh [STATIC_BINARY]
set -euo pipefail
SCRIPT_NAME="size-budget"
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
BUDGET=$((4300 * 1024))
bin=$(resolve_binary "${1:-}")
size=$(stat -c %s "$bin")
((size <= BUDGET)) || die "$bin is $size bytes, over the budget of $BUDGET bytes (4.2 MiB; see BENCHMARKS.md)"
log "ok: $bin is $size bytes (budget $BUDGET)"
