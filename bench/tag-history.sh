#!/usr/bin/env bash
# Checks the previous-release rule (docs/history.md) on a real repository against git itself:
# runs `customcd backfill --from-git-tags PATTERN` (a dry run: nothing is sent) and compares,
# per tag, the previous release it chose and its commit_count with
#   describe: the tag `git describe --candidates=100 --abbrev=0 --match PATTERN --exclude TAG TAG`
#             names (100 candidates: with its default of 10, describe settles on a sibling
#             line's tag hundreds of commits away in git/git's merged-up maintenance releases), or
#   previous: the previous version number (the matching tags in `sort -V` order, a leading `v`
#             ignored): the release just before as a person reads the list,
# and with `git rev-list --count PREVIOUS..TAG` for the previous release customcd chose.
# Not a CI test: it needs the real repository (e.g. the `fetch` tool's mirror of casey/just).
# usage: bench/tag-history.sh BINARY REPO PATTERN describe|previous
set -euo pipefail
BIN=$(realpath "$1") REPO=$2 PATTERN=$3 MODE=$4
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
g() { git -C "$REPO" "$@"; }
jobs=$(mktemp)
trap 'rm -f "$jobs"' EXIT
start=$(date +%s.%N)
(cd "$REPO" && CUSTOMCD_CHANGE_SET_LIMIT=100000 "$BIN" backfill --from-git-tags "$PATTERN" --service-id 1 --repo-name x/y) >"$jobs" 2>/dev/null
elapsed=$(echo "$(date +%s.%N) - $start" | bc)
mapfile -t tags < <(g for-each-ref --format='%(refname:short)' "refs/tags/" | while read -r t; do
  # shellcheck disable=SC2254 # the pattern is a glob on purpose, as git tag -l reads it
  case "$t" in $PATTERN) printf '%s %s\n' "${t#v}" "$t" ;; esac
done | sort -V | cut -d' ' -f2)
declare -A sha_tag
for t in "${tags[@]}"; do sha_tag[$(g rev-parse "$t^{commit}")]+="$t "; done
total=0 agree=0 same_n=0 counted=0 count_ok=0 prev=
for t in "${tags[@]}"; do
  line=$(grep -F "\"job_id\":\"x/y@$t\"" "$jobs" || true)
  ours=$(jq -r '[.optional[]? | select(.key=="previous_sha") | .value][0] // ""' <<<"$line")
  n=$(jq -r '[.optional[]? | select(.key=="commit_count") | .value][0] // ""' <<<"$line")
  if [[ $MODE == describe ]]; then
    want=$(g describe --candidates=100 --abbrev=0 --match "$PATTERN" --exclude "$t" "$t" 2>/dev/null || true)
  else
    want=$prev
  fi
  prev=$t
  [[ -z $want && -z $ours ]] && continue
  total=$((total + 1))
  want_sha=
  [[ -z $want ]] || want_sha=$(g rev-parse "$want^{commit}")
  ours_name=-
  [[ -z $ours ]] || ours_name=${sha_tag[$ours]:-?}
  if [[ $ours == "$want_sha" ]]; then agree=$((agree + 1)); mark=ok; else mark=DIFFERS; fi
  if [[ -n $ours ]]; then
    counted=$((counted + 1))
    git_n=$(g rev-list --count "$ours..$t")
    [[ $n == "$git_n" ]] && count_ok=$((count_ok + 1))
  else git_n=-; fi
  want_n=-
  [[ -z $want ]] || want_n=$(g rev-list --count "$want..$t")
  if [[ $mark == DIFFERS && $n == "$want_n" ]]; then mark="same-count"; fi
  [[ $n == "$want_n" ]] && same_n=$((same_n + 1))
  printf '%-12s %-8s git:%-12s (%5s)  customcd:%-24s commit_count %5s (git rev-list %5s)\n' \
    "$t" "$mark" "${want:--}" "$want_n" "$ours_name" "${n:--}" "$git_n"
done
echo "tags with a previous release: $total; customcd chose git's ($MODE): $agree; commit_count equal to git rev-list --count since git's: $same_n; commit_count equal to git rev-list --count for the one chosen: $count_ok of $counted; backfill took ${elapsed}s"
