#!/usr/bin/env bash
# Fails when a static release binary outgrows its budget, so that growth is a decision (raise the
# budget here and in BENCHMARKS.md, with the reason in the commit), not an accident.
#   musl  4 MiB: the binary users get. The release workflow and the image's builder stage build
#         x86_64/aarch64-unknown-linux-musl; issues 6 and 14 ask for 4 MiB, and it is 3.4 MiB.
#   glibc 4,700 KiB: the documented local build (x86_64-unknown-linux-gnu, crt-static), which the
#         e2e suites and bench/bench.sh run. glibc's static runtime costs about 0.9 MB more than
#         musl's; BENCHMARKS.md ("The binary size budget") says, lever by lever, what the rest is
#         and what it would cost. Raised from 4,400 KiB on 2026-12-03 by decision, first to 4,600
#         KiB for shell completions and man pages (clap_complete, clap_mangen: 119,200 bytes), then
#         to 4,700 KiB: with the rest of issues 18-24 (platform deployment-record lookups, CI reader
#         tables, src/fs, the ledger) the build is 4,753,144 bytes (4,464,984 at 8070cff) and no
#         feature flag is left to turn off (BENCHMARKS.md has the measurements); the budget sits
#         about 60 KB above that, so the next feature that grows it fails CI and is a decision again.
#   windows 4 MiB: the x86_64-pc-windows-gnu cross build .ci/run makes (ci/e2e-windows.sh), 3,317,760
#         bytes at 5b944c9; the same 4 MiB as the binary Linux users get (the release's Windows binary
#         is the -msvc build, made on GitHub's runner).
# usage: ci/size-budget.sh [STATIC_BINARY] [glibc|musl|windows]   (default: the glibc build, glibc)
set -euo pipefail
SCRIPT_NAME="size-budget"
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
kind=${2:-glibc}
case $kind in
  musl) BUDGET=$((4 * 1024 * 1024)) ;;
  glibc) BUDGET=$((4700 * 1024)) ;;
  windows) BUDGET=$((4 * 1024 * 1024)) ;;
  *) die "unknown build kind '$kind': glibc, musl or windows" ;;
esac
bin=$(resolve_binary "${1:-}")
size=$(stat -c %s "$bin")
((size <= BUDGET)) || die "$bin ($kind) is $size bytes, over its budget of $BUDGET bytes (see BENCHMARKS.md)"
log "ok: $bin ($kind) is $size bytes (budget $BUDGET)"
