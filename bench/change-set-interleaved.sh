#!/usr/bin/env bash
# The change set of 40,000 commits against `git rev-list --count`, the two run alternately (one
# of each, N times) so that load from other work on a shared machine falls on both alike; prints
# the medians, the minimums and the median of the paired ratios. bench/bench.sh runs each
# command's runs back to back (hyperfine), which on a busy machine can put one side in a quiet
# moment and the other in a loaded one.
# usage: bench/change-set-interleaved.sh [BINARY] [N]   (the same 50,000-commit history as bench.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=$(realpath "${1:-target/x86_64-unknown-linux-gnu/release/customcd}")
N=${2:-25}
WORK=$(mktemp -d /tmp/customcd-interleaved.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
cd "$WORK" && git -c init.defaultBranch=main init -q
python3 - <<'PY' | git fast-import --quiet
import sys
w = sys.stdout.write
for i in range(1, 50001):
    data = f"{i}\n"
    w(f"commit refs/heads/main\nmark :{i}\ncommitter Bench <bench@example.com> {1600000000 + i} +0000\n")
    w("data 2\nc\n")
    if i > 1:
        w(f"from :{i-1}\n")
    w(f"M 100644 inline f\ndata {len(data)}\n{data}\n")
PY
git checkout -q main
git remote add origin git@github.com:acme/large.git
python3 - "$BIN" "$(git rev-parse HEAD~40000)" "$N" <<'PY'
import statistics, subprocess, sys, time
binary, prev, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
cmds = {
    "git rev-list --count": ["git", "rev-list", "--count", f"{prev}..HEAD"],
    "customcd": [binary, "report", "--dry-run", "--service-id", "1", "--status", "success",
                 "--job-start-time", "1704018030", "--change-set-limit", "100000", "--previous-sha", prev],
}
t = {k: [] for k in cmds}
for _ in range(n):
    for k, c in cmds.items():
        s = time.perf_counter()
        subprocess.run(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        t[k].append(time.perf_counter() - s)
g, c = t["git rev-list --count"], t["customcd"]
print(f"git rev-list --count: median {statistics.median(g)*1000:.1f} ms, min {min(g)*1000:.1f} ms")
print(f"customcd:             median {statistics.median(c)*1000:.1f} ms, min {min(c)*1000:.1f} ms")
print(f"ratio of medians {statistics.median(c)/statistics.median(g):.2f}x, of minimums {min(c)/min(g):.2f}x, "
      f"median of paired ratios {statistics.median([a/b for a, b in zip(c, g)]):.2f}x ({n} pairs)")
PY
