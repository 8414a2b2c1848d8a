#!/usr/bin/env bash
# Fuzz every parser for a bounded time: ci/fuzz.sh [SECONDS_PER_TARGET [TARGET...]]
# (default 20 seconds, every target)
#
# Installs cargo-fuzz (and a nightly toolchain) when missing, builds every target in fuzz/ with
# debug assertions and overflow checks, runs each for SECONDS_PER_TARGET, and exits non-zero when
# any target crashes, times out or runs out of memory, naming the input that did it. The corpus
# grows in fuzz/corpus/TARGET (git-ignored) from the seeds in fuzz/seeds/TARGET, so repeated local
# runs pick up where the last one stopped. See fuzz/README.md.
set -euo pipefail

SCRIPT_NAME=fuzz
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

secs=${1:-20}
shift || true
if ! [[ $secs =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: ci/fuzz.sh [SECONDS_PER_TARGET [TARGET...]]   (a whole number, default 20)" >&2
  exit 2
fi
toolchain=${FUZZ_TOOLCHAIN:-nightly}

if ! rustup run "$toolchain" rustc --version >/dev/null 2>&1; then
  log "installing the $toolchain toolchain (cargo-fuzz needs -Z flags)"
  rustup toolchain install "$toolchain" --profile minimal
fi
if ! have cargo-fuzz; then
  log "installing cargo-fuzz"
  cargo install cargo-fuzz --locked
fi

fuzz() { cargo "+$toolchain" fuzz "$@"; }

if (($#)); then
  targets=("$@")
else
  mapfile -t targets < <(fuzz list)
fi
((${#targets[@]})) || die "no fuzz targets found in fuzz/"

log "building ${targets[*]}"
fuzz build --debug-assertions

logs=$(make_workdir fuzz)
failed=()
for t in "${targets[@]}"; do
  mkdir -p "fuzz/corpus/$t"
  seeds=()
  [[ -d fuzz/seeds/$t ]] && seeds=("fuzz/seeds/$t")
  log "$t: ${secs}s"
  out="$logs/$t.log"
  # -timeout: one input taking 10 s is a hang; -rss_limit_mb: a leak or a blow-up is a failure.
  if fuzz run --debug-assertions "$t" "fuzz/corpus/$t" "${seeds[@]}" -- \
      -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      >"$out" 2>&1; then
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out" | tail -n1)
    rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$out" | tail -n1)
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' "$out" | tail -n1)
    log "$t: ok, ${runs:-?} runs, ${rate:-?} exec/s, ${cov:-no coverage line}"
  else
    echo "----- $t: what failed (full output: $out)" >&2
    if grep -q "panicked at" "$out"; then
      # The panic message, without the backtraces that follow it.
      grep -m1 -A6 "panicked at" "$out" | sed '/^stack backtrace:/,$d; /^note: /d' >&2
    fi
    # libFuzzer's and the sanitizer's own verdicts: deadly signal, timeout, out of memory, leak.
    grep -E "^==[0-9]+== ?ERROR|^SUMMARY: |ERROR: libFuzzer" "$out" >&2 || tail -n 30 "$out" >&2
    echo "-----" >&2
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$out" | tail -n1)
    if [[ -n $artifact ]]; then
      artifact=$(realpath --relative-to="$ROOT" "$artifact" 2>/dev/null || echo "$artifact")
      log "$t: FAILED; input saved as $artifact"
      log "  reproduce: cargo +$toolchain fuzz run --debug-assertions $t $artifact"
      failed+=("$t: $artifact")
    else
      log "$t: FAILED without a saved input (build or harness error; see above)"
      failed+=("$t: (no input saved)")
    fi
  fi
done

if ((${#failed[@]})); then
  log "${#failed[@]} of ${#targets[@]} targets failed (fuzzer output in $logs):"
  printf '  %s\n' "${failed[@]}" >&2
  exit 1
fi
rm -rf "$logs"
log "all ${#targets[@]} targets ran ${secs}s without a crash"
