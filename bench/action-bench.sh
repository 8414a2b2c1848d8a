#!/usr/bin/env bash
# What each packaging of the GitHub Action adds to a job, measured under a real runner (nektos/act
# with podman's Docker API, as the ci/e2e-act*.sh suites run it), side by side in one run:
#   baseline         the job alone: checkout, a deploy step (`true`)
#   docker-laststep  + the Docker action as the last step (if: always(), with an id: the
#                    documented last-step form)
#   docker-onestep   + the Docker action as the first step, report_at: job-end
#   setup-onestep    + the setup action (setup/, node, no Docker) first, report_at: job-end
#   setup-laststep   + the setup action first (install only) and `customcd report` as the last step
# The variants are run round-robin (ROUNDS rounds, order rotated each round), each run with a
# fresh act cache, so the setup action downloads and checks the binary every time (from a file
# server on 127.0.0.1: a GitHub-hosted runner fetches it from GitHub's release CDN instead) and
# the Docker action's image is already local (a GitHub-hosted runner pulls it at job setup; not
# measured here). Each reporting run must deliver exactly one record to the receiver on
# 127.0.0.1; the bench fails otherwise. Prints a markdown table on stdout; progress on stderr.
# usage: ROUNDS=7 bench/action-bench.sh [STATIC_BINARY]   (needs act, podman, runc, node: ci/install-tools.sh)
set -euo pipefail
SCRIPT_NAME=action-bench
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/../ci/lib.sh"
ROUNDS=${ROUNDS:-7}
require_tools node

trap 'stop_file_server; stop_act_suite' EXIT
start_act_suite action-bench "${1:-}"
TOKEN=action-bench-token-$RANDOM$RANDOM
VERSION=$(crate_version)

# The release stand-in and a published copy of this checkout whose setup action pins the binary
# under test (as ci/e2e-act-setup.sh does).
FILE="customcd-$VERSION-x86_64-unknown-linux-musl"
mkdir -p "$WORK/files"
cp "$BIN" "$WORK/files/$FILE"
start_file_server "$WORK/files" "$WORK" 3600
ACTION="$WORK/action"
mkdir -p "$ACTION"
git -C "$ROOT" ls-files -z | (cd "$ROOT" && xargs -0 cp -P --parents -t "$ACTION")
# The working tree's action.yml and setup/, committed or not: what is measured is this checkout.
cp "$ROOT/action.yml" "$ACTION/action.yml"
cp -r "$ROOT/setup/." "$ACTION/setup/"
sum=$(sha256sum "$BIN" | cut -d' ' -f1)
for target in x86_64-unknown-linux-musl aarch64-unknown-linux-musl x86_64-apple-darwin aarch64-apple-darwin x86_64-pc-windows-msvc.exe; do
  printf '%s  %s\n' "$sum" "customcd-$VERSION-$target"
done >"$WORK/SHA256SUMS"
(cd "$ACTION" && node setup/pin-sums.js "$WORK/SHA256SUMS" "$VERSION" "http://127.0.0.1:$FILES_PORT") >&2

REPO="$WORK/app"
mkdir -p "$REPO/.github/workflows"
WITH="service_id: \"42\"
          url: $URL
          token: \${{ secrets.CUSTOMCD_TOKEN }}
          job_type: deploy"
cat >"$REPO/.github/workflows/bench.yml" <<YAML
name: bench
on: push
jobs:
  baseline:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - name: deploy
        run: "true"
  docker-laststep:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - name: deploy
        run: "true"
      - name: report
        id: report
        if: always()
        uses: acme/customcd-action@v1
        with:
          $WITH
  docker-onestep:
    runs-on: ubuntu-latest
    steps:
      - name: report
        uses: acme/customcd-action@v1
        with:
          report_at: job-end
          $WITH
      - uses: actions/checkout@v4
      - name: deploy
        run: "true"
  setup-onestep:
    runs-on: ubuntu-latest
    steps:
      - name: report
        uses: acme/customcd-action/setup@v1
        with:
          report_at: job-end
          $WITH
      - uses: actions/checkout@v4
      - name: deploy
        run: "true"
  setup-laststep:
    runs-on: ubuntu-latest
    steps:
      - uses: acme/customcd-action/setup@v1
      - uses: actions/checkout@v4
      - name: deploy
        run: "true"
      - name: report
        if: always()
        env:
          CUSTOMCD_SERVICE_ID: "42"
          CUSTOMCD_URL: $URL
          CUSTOMCD_TOKEN: \${{ secrets.CUSTOMCD_TOKEN }}
          CUSTOMCD_STATUS: \${{ job.status }}
          CUSTOMCD_JOB_TYPE: deploy
        run: customcd report
YAML
commit_app_repo "$REPO"

VARIANTS=(baseline docker-laststep docker-onestep setup-onestep setup-laststep)
TIMES="$WORK/times.tsv"
: >"$TIMES"
records=0
# One act run of JOB with a fresh act cache; appends "JOB<TAB>seconds" to TIMES.
run_once() {
  local job=$1 n=$2 cache="$WORK/cache-$1-$2" logf="$WORK/act-$1-$2.log" t0 t1 before after
  mkdir -p "$cache"
  before=$(wc -l <"$RECEIVER_LOG")
  t0=$(date +%s.%N)
  (cd "$REPO" && DOCKER_HOST="unix://$PODMAN_SOCK" run_bounded 300 act push -W .github/workflows/bench.yml -j "$job" \
    -P ubuntu-latest=-self-hosted --container-daemon-socket "unix://$PODMAN_SOCK" \
    --local-repository "acme/customcd-action@v1=$ACTION" \
    --action-cache-path "$cache" --container-options "-v $cache:$cache" \
    --secret "CUSTOMCD_TOKEN=$TOKEN") >"$logf" 2>&1 || { tail -n 40 "$logf" >&2; die "act job $job (run $n) failed"; }
  t1=$(date +%s.%N)
  after=$(wc -l <"$RECEIVER_LOG")
  if [[ $job == baseline ]]; then
    ((after == before)) || die "the baseline job sent something"
  else
    ((after == before + 1)) || { tail -n 40 "$logf" >&2; die "act job $job (run $n) delivered $((after - before)) records, not 1"; }
    records=$((records + 1))
  fi
  printf '%s\t%s\n' "$job" "$(python3 -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.3f}")' "$t0" "$t1")" >>"$TIMES"
  rm -rf "$cache"
}

log "warm-up: one run of each variant (not counted)"
for v in "${VARIANTS[@]}"; do run_once "$v" warmup; done
: >"$TIMES"
for ((r = 0; r < ROUNDS; r++)); do
  # Rotate the order each round, so no variant always follows the same one.
  for ((i = 0; i < ${#VARIANTS[@]}; i++)); do
    v=${VARIANTS[$(((i + r) % ${#VARIANTS[@]}))]}
    run_once "$v" "$r"
  done
  log "round $((r + 1))/$ROUNDS done"
done

python3 - "$TIMES" "$ROUNDS" "$(act --version)" "$(podman --version)" "$(node --version)" <<'PY'
import statistics, sys
from collections import defaultdict
times = defaultdict(list)
for line in open(sys.argv[1]):
    job, t = line.split("\t")
    times[job].append(float(t))
rounds, act, podman, node = sys.argv[2:6]
base = statistics.median(times["baseline"])
what = {
    "baseline": "the job alone (checkout, deploy step)",
    "docker-laststep": "Docker action, last step (`if: always()`, `id:`)",
    "docker-onestep": "Docker action, first step, `report_at: job-end`",
    "setup-onestep": "setup action, first step, `report_at: job-end`",
    "setup-laststep": "setup action first (install), `customcd report` last",
}
print(f"{rounds} rounds, variants alternated; {act}, {podman}, node {node}; wall time of `act push -j JOB` per run.\n")
print("| packaging | median | added to the job (median - baseline median) | min - max |")
print("|---|---|---|---|")
for job in ["baseline", "docker-laststep", "docker-onestep", "setup-onestep", "setup-laststep"]:
    t = times[job]
    med = statistics.median(t)
    added = "" if job == "baseline" else f"{med - base:+.2f} s"
    print(f"| {what[job]} | {med:.2f} s | {added} | {min(t):.2f} - {max(t):.2f} s |")
PY
log "each reporting run delivered exactly one record ($records in all)"
