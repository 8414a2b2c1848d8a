#!/usr/bin/env bash
# Benchmarks customcd against the commands a user would otherwise script, side by side, in one run:
#   1. `customcd report --dry-run` vs `git rev-parse HEAD`, in a small repository and in a large
#      synthetic one (50k commits, 100k tags in a sorted packed-refs, 10k loose refs, an origin);
#      median wall time (hyperfine) and instruction counts (valgrind --tool=callgrind).
#   2. The change set: `customcd report --dry-run --previous-sha PREV` in the large repository for
#      ranges of 10, 1,000 and 40,000 commits vs `git rev-list --count PREV..HEAD` plus
#      `git log -1 --format=%ct`; customcd's commit_count is checked against git's count.
#   3. `customcd report` to nginx on 127.0.0.1 vs `curl` posting the same body to it.
#   4. The static binary's size, the image's size (podman, when installed) and peak RSS.
# Prints a markdown report (for BENCHMARKS.md) on stdout; progress goes to stderr.
# usage: bench/bench.sh [STATIC_BINARY]   (installs hyperfine, nginx-light, time with apt if missing)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
BIN=$(realpath "${1:-target/x86_64-unknown-linux-gnu/release/customcd}")
RUNS=${RUNS:-300}
log() { printf 'bench: %s\n' "$*" >&2; }

need=()
command -v hyperfine >/dev/null || need+=(hyperfine)
command -v nginx >/dev/null || need+=(nginx-light)
[[ -x /usr/bin/time ]] || need+=(time)
command -v valgrind >/dev/null || need+=(valgrind)
if ((${#need[@]})); then
  log "apt-get install ${need[*]}"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

WORK=$(mktemp -d /tmp/customcd-bench.XXXXXX)
NGINX_PID=
cleanup() {
  [[ -n $NGINX_PID ]] && kill "$NGINX_PID" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
g() { git -c user.name=Bench -c user.email=bench@example.com -c init.defaultBranch=main "$@"; }

log "small repository"
mkdir "$WORK/small" && cd "$WORK/small"
g init -q && g remote add origin https://github.com/acme/small.git && g commit -q --allow-empty -m one

log "large repository: 50k commits (fast-import), 100k tags in packed-refs, 10k loose refs"
mkdir "$WORK/large" && cd "$WORK/large"
g init -q
python3 - <<'PY' | g fast-import --quiet
import sys
w = sys.stdout.write
for i in range(1, 50001):
    data = f"{i}\n"
    w(f"commit refs/heads/main\nmark :{i}\ncommitter Bench <bench@example.com> {1600000000 + i} +0000\n")
    w(f"data 2\nc\n")
    if i > 1:
        w(f"from :{i-1}\n")
    w(f"M 100644 inline f\ndata {len(data)}\n{data}\n")
PY
g remote add origin git@github.com:acme/large.git
g rev-list main > "$WORK/shas"
python3 - "$WORK/shas" <<'PY'
import sys, os
shas = open(sys.argv[1]).read().split()
# packed-refs: existing refs plus 100k tags, sorted by name, as git writes it.
refs = {}
if os.path.exists(".git/packed-refs"):
    for line in open(".git/packed-refs"):
        if line.startswith(("#", "^")):
            continue
        sha, name = line.split()
        refs[name] = sha
for i in range(100000):
    refs[f"refs/tags/v{i // 1000}.{i % 1000}.0"] = shas[i % len(shas)]
with open(".git/packed-refs", "w") as f:
    f.write("# pack-refs with: peeled fully-peeled sorted \n")
    for name in sorted(refs):
        f.write(f"{refs[name]} {name}\n")
os.makedirs(".git/refs/heads/loose", exist_ok=True)
for i in range(10000):
    with open(f".git/refs/heads/loose/b{i:05d}", "w") as f:
        f.write(shas[i % len(shas)] + "\n")
PY
g checkout -q main 2>/dev/null || true
log "large: $(g rev-list --count HEAD) commits, $(grep -c refs/tags .git/packed-refs) packed tags, $(find .git/refs -type f | wc -l) loose refs"

DRY=("$BIN" report --dry-run --service-id 1 --status success --job-start-time 1704018030)
median_ms() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1]))["results"]; print(" ".join("%.3f" % (x["median"]*1000) for x in r))' "$1"; }
instr() { valgrind --tool=callgrind --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'; }

declare -A T I
for repo in small large; do
  cd "$WORK/$repo"
  log "$repo: hyperfine ($RUNS runs each)"
  hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$WORK/$repo.json" "git rev-parse HEAD" "${DRY[*]}" >/dev/null 2>&1
  read -r git_ms cc_ms < <(median_ms "$WORK/$repo.json")
  T[$repo.git]=$git_ms
  T[$repo.cc]=$cc_ms
  I[$repo.git]=$(instr git rev-parse HEAD)
  I[$repo.cc]=$(instr "${DRY[@]}")
done
cd "$WORK/large"
RSS_DRY=$(/usr/bin/time -f '%M' "${DRY[@]}" 2>&1 >/dev/null | tail -1)

log "change sets in the large repository: ranges of 10, 1000 and 40000 commits"
CS_RUNS=${CS_RUNS:-$((RUNS / 5 > 10 ? RUNS / 5 : 10))}
declare -A CS CS_RSS GIT_RSS
for n in 10 1000 40000; do
  prev=$(sed -n "$((n + 1))p" "$WORK/shas")
  want=$(g rev-list --count "$prev..HEAD")
  got=$("${DRY[@]}" --change-set-limit 100000 --previous-sha "$prev" 2>/dev/null | python3 -c 'import json,sys; print([f["value"] for f in json.load(sys.stdin)["optional"] if f["key"]=="commit_count"][0])')
  [[ $got == "$want" ]] || { log "commit_count $got differs from git rev-list --count $want for $n"; exit 1; }
  hyperfine -N --warmup 3 --runs "$CS_RUNS" --export-json "$WORK/cs$n.json" "git rev-list --count $prev..HEAD" \
    "git log -1 --format=%ct" "${DRY[*]} --change-set-limit 100000 --previous-sha $prev" >/dev/null 2>&1
  CS[$n]=$(median_ms "$WORK/cs$n.json")
  CS_RSS[$n]=$(/usr/bin/time -f '%M' "${DRY[@]}" --change-set-limit 100000 --previous-sha "$prev" 2>&1 >/dev/null | tail -1)
  GIT_RSS[$n]=$(/usr/bin/time -f '%M' git rev-list --count "$prev..HEAD" 2>&1 >/dev/null | tail -1)
done
# Both read the pack through mmap, so the pages of the pack and its index that a walk touches
# count in both peak RSS figures; the pack's size says how much of a figure that can be.
PACK_KIB=$(du -sk .git/objects/pack | cut -f1)
cs_row() {
  read -r revlist_ms log_ms cs_ms <<<"${CS[$1]}"
  base=$(python3 -c "print(f'{$revlist_ms+$log_ms:.3f}')")
  echo "| change set of $1 commits, dry run (median) | ${cs_ms} ms | \`git rev-list --count\` ${revlist_ms} ms + \`git log -1\` ${log_ms} ms = ${base} ms | $(ratio "$cs_ms" "$base")x | <= 1.5x |"
}

log "end to end: nginx on 127.0.0.1"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
mkdir -p "$WORK/nginx"
cat >"$WORK/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/error.log;
events { worker_connections 64; }
http {
  access_log off;
  client_body_temp_path $WORK/nginx;
  server {
    listen 127.0.0.1:$PORT;
    location / { default_type application/json; return 200 '{"ok":true}'; }
  }
}
CONF
nginx -c "$WORK/nginx/nginx.conf" &
NGINX_PID=$!
for _ in $(seq 50); do curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break; sleep 0.1; done
URL="http://127.0.0.1:$PORT/webhook/company/1/cicd_job"
cd "$WORK/small"
"${DRY[@]}" >"$WORK/body.json" 2>/dev/null
export CUSTOMCD_TOKEN=bench-token-0123456789 CUSTOMCD_URL=$URL
SEND=("$BIN" report --service-id 1 --status success --job-start-time 1704018030)
CURL=(curl -sS -o /dev/null -X POST -H "Authorization: Bearer $CUSTOMCD_TOKEN" -H "Content-Type: application/json" --data-binary "@$WORK/body.json" "$URL")
hyperfine -N --warmup 20 --runs "$RUNS" --export-json "$WORK/e2e.json" "${CURL[*]}" "${SEND[*]}" >/dev/null 2>&1
read -r curl_ms send_ms < <(median_ms "$WORK/e2e.json")
RSS_SEND=$(/usr/bin/time -f '%M' "${SEND[@]}" 2>&1 >/dev/null | tail -1)
RSS_CURL=$(/usr/bin/time -f '%M' "${CURL[@]}" 2>&1 >/dev/null | tail -1)

log "bulk: 100k jobs to nginx, and curl in a shell loop over the first 2000 of the same records"
python3 - "$WORK/bulk.jsonl" <<'PY'
import sys
sha = "a2e7da86cc392417b0d9f605b28038aae80b002f"
with open(sys.argv[1], "w") as f:
    for i in range(100000):
        f.write(f'{{"job_id":"bench-{i}","commit_sha":"{sha}","service_id":1,"job_start_time":{1700000000 + i},'
                f'"job_duration":60,"status":"Succeeded","repo_name":"acme/app","job_type":"Backfill"}}\n')
PY
cd "$WORK"
BULK_START=$(date +%s.%N)
/usr/bin/time -f '%M' -o "$WORK/bulk.rss" "$BIN" send "$WORK/bulk.jsonl" --concurrency 4 >/dev/null 2>"$WORK/bulk.log"
BULK_END=$(date +%s.%N)
BULK_RSS=$(tail -1 "$WORK/bulk.rss")
BULK_RATE=$(python3 -c "print(f'{100000/($BULK_END-$BULK_START):.0f}')")
BULK_SECS=$(python3 -c "print(f'{$BULK_END-$BULK_START:.1f}')")
head -2000 "$WORK/bulk.jsonl" >"$WORK/curl.jsonl"
CURL_START=$(date +%s.%N)
while IFS= read -r line; do
  curl -sS -o /dev/null -X POST -H "Authorization: Bearer $CUSTOMCD_TOKEN" -H "Content-Type: application/json" --data-binary "$line" "$URL"
done <"$WORK/curl.jsonl"
CURL_END=$(date +%s.%N)
CURL_RATE=$(python3 -c "print(f'{2000/($CURL_END-$CURL_START):.0f}')")

SIZE=$(stat -c %s "$BIN")
# The musl build is what releases and the image ship (ci/size-budget.sh holds it to 4 MiB); it is
# measured when it has been built (.ci/run builds it).
MUSL_BIN="$ROOT/target/x86_64-unknown-linux-musl/release/customcd"
MUSL_SIZE=n/a
[[ -f $MUSL_BIN ]] && MUSL_SIZE=$(stat -c %s "$MUSL_BIN")
IMAGE=n/a
if command -v podman >/dev/null; then
  cd "$ROOT"
  export CONTAINERS_CONF=${CONTAINERS_CONF:-/tmp/customcd-containers.conf}
  [[ -s $CONTAINERS_CONF ]] || printf '[containers]\ndefault_ulimits = []\n' >"$CONTAINERS_CONF"
  if [[ $BIN == "$ROOT/target/x86_64-unknown-linux-gnu/release/customcd" ]] && podman build -q --target runtime-local -t customcd:bench -f Dockerfile . >/dev/null 2>&1; then
    IMAGE=$(podman image inspect --format '{{.Size}}' customcd:bench)
  fi
fi

ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
mib() { python3 -c "print(f'{$1/1048576:.2f} MiB ($1 bytes)')"; }
cat <<MD
| measure | customcd | baseline | ratio | budget |
|---|---|---|---|---|
| dry run, small repo (median) | ${T[small.cc]} ms | \`git rev-parse HEAD\` ${T[small.git]} ms | $(ratio "${T[small.cc]}" "${T[small.git]}")x | |
| dry run, large repo (median) | ${T[large.cc]} ms | \`git rev-parse HEAD\` ${T[large.git]} ms | $(ratio "${T[large.cc]}" "${T[large.git]}")x | <= 1.5x |
| dry run, small repo (instructions) | ${I[small.cc]} | ${I[small.git]} | $(ratio "${I[small.cc]}" "${I[small.git]}")x | |
| dry run, large repo (instructions) | ${I[large.cc]} | ${I[large.git]} | $(ratio "${I[large.cc]}" "${I[large.git]}")x | |
$(cs_row 10)
$(cs_row 1000)
$(cs_row 40000)
| peak RSS, change set of 10 / 1,000 / 40,000 commits (pack files: ${PACK_KIB} KiB) | ${CS_RSS[10]} / ${CS_RSS[1000]} / ${CS_RSS[40000]} KiB | \`git rev-list --count\` ${GIT_RSS[10]} / ${GIT_RSS[1000]} / ${GIT_RSS[40000]} KiB | | <= git's |
| report to nginx on 127.0.0.1 (median) | ${send_ms} ms | \`curl\` same body ${curl_ms} ms | $(ratio "$send_ms" "$curl_ms")x | <= 1.2x |
| static binary (glibc, the documented local build) | $(mib "$SIZE") | | | <= 4,700 KiB |
| static binary (musl, what releases ship) | $( [[ $MUSL_SIZE == n/a ]] && echo n/a || mib "$MUSL_SIZE") | | | <= 4 MiB |
| image (podman, runtime-local) | $( [[ $IMAGE == n/a ]] && echo n/a || mib "$IMAGE") | | | <= 4.5 MiB |
| peak RSS, dry run in the large repo | ${RSS_DRY} KiB | | | <= 10 MiB |
| peak RSS, report to nginx | ${RSS_SEND} KiB | \`curl\` ${RSS_CURL} KiB | | <= 10 MiB |
| bulk send, 100k jobs to nginx, --concurrency 4 | ${BULK_RATE} jobs/s (${BULK_SECS} s) | \`curl\` in a shell loop ${CURL_RATE} jobs/s | $(ratio "$BULK_RATE" "$CURL_RATE")x | >= 5000 jobs/s |
| peak RSS, bulk send of 100k jobs | ${BULK_RSS} KiB | | | flat |
MD
