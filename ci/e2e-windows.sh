#!/usr/bin/env bash
# End to end on Windows, for real: customcd cross-built for x86_64-pc-windows-gnu (mingw-w64) and
# run under Wine against a loopback receiver (ci/receiver.py) and real git repositories:
#   1. `--version`; the binary is a PE32+ executable (its size is printed);
#   2. a dry run in a git checkout (commit and repository read by gix through Wine's Z: drive);
#   3. a real report (body, Authorization header);
#   4. an outage: the job is spooled in a private directory, a warning says so, and one `send`
#      resends it exactly once (a second `send` sends nothing); with no --spool-dir the job is
#      kept under %LOCALAPPDATA%\customcd\spool and a bare `send` sends it; Ctrl-C (CTRL_C_EVENT)
#      during the attempts exits 130 and names the kept job;
#   5. two concurrent `send`s over one spool of several jobs deliver each job once (LockFileEx
#      claims);
#   6. Jenkins-style `start` then `report`: the start state file in WORKSPACE_TMP gives the start
#      time and duration, and is removed;
#   6b. `send` of JSON Lines (a reject, a ledger that makes the rerun a no-op) and
#      `backfill --from-git-tags --send`;
#   7. `env` shows the settings without the token;
#   8. the token is never printed by any run above, and never written to the spool.
# Installs what it needs when missing (apt: mingw-w64, wine64; rustup: the Windows target) and
# builds the ProcessPrng stand-in DLL (ci/windows/bcryptprimitives.c) that Wine 8 lacks.
# usage: ci/e2e-windows.sh [--build-only | IGNORED]  (e2e-all.sh passes the Linux binary; this
# suite builds its own; CUSTOMCD_WINDOWS_EXE=PATH tests a given customcd.exe instead;
# --build-only installs the tools, lints the Windows code with clippy, cross-builds and prints the
# binary's size, as .ci/run's build step)
set -euo pipefail
SCRIPT_NAME=e2e-windows
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
TARGET=x86_64-pc-windows-gnu

# Tools: the cross compiler, Wine and the Rust target.
apt_pkgs=()
have x86_64-w64-mingw32-gcc || apt_pkgs+=(gcc-mingw-w64-x86-64)
have wine || apt_pkgs+=(wine64 wine)
have git || apt_pkgs+=(git)
have pgrep || apt_pkgs+=(procps)
if ((${#apt_pkgs[@]})); then
  log "apt-get install ${apt_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${apt_pkgs[@]}" >/dev/null
fi
require_tools x86_64-w64-mingw32-gcc wine git python3 pgrep file
rustup target list --installed 2>/dev/null | grep -qx "$TARGET" || rustup target add "$TARGET"

WORK=$(make_workdir e2e-windows)
export WINEPREFIX="$WORK/wineprefix" WINEDEBUG=-all WINEDLLOVERRIDES="bcryptprimitives=n,b;mscoree=;mshtml="
cleanup() {
  stop_receiver
  # Only this run's wineserver (the one for this WINEPREFIX).
  wineserver -k >/dev/null 2>&1 || true
  remove_workdir "$WORK"
}
trap cleanup EXIT

# 1. The binary, beside the stand-in DLL.
if [[ "${1:-}" == --build-only ]]; then
  # The Windows side of src/fs is compiled only for Windows: lint it too.
  (cd "$ROOT" && cargo clippy --locked --target "$TARGET" -- -D warnings) || die "customcd does not lint cleanly for $TARGET"
  (cd "$ROOT" && cargo build --release --locked --target "$TARGET") || die "the Windows cross build failed"
  exe="$ROOT/target/$TARGET/release/customcd.exe"
  file -b "$exe"
  echo "windows binary size: $(stat -c %s "$exe") bytes"
  bash "$CI_DIR/size-budget.sh" "$exe" windows
  exit 0
fi
if [[ -n "${CUSTOMCD_WINDOWS_EXE:-}" ]]; then
  EXE_SRC=$CUSTOMCD_WINDOWS_EXE
else
  t0=$SECONDS
  (cd "$ROOT" && cargo build --release --locked --target "$TARGET") || die "the Windows cross build failed"
  log "cross-built in $((SECONDS - t0))s"
  EXE_SRC="$ROOT/target/$TARGET/release/customcd.exe"
fi
[[ -f "$EXE_SRC" ]] || die "no Windows binary at $EXE_SRC"
mkdir -p "$WORK/bin"
cp "$EXE_SRC" "$WORK/bin/customcd.exe"
x86_64-w64-mingw32-gcc -shared -O2 -o "$WORK/bin/bcryptprimitives.dll" "$CI_DIR/windows/bcryptprimitives.c" -ladvapi32 \
  || die "building the ProcessPrng stand-in DLL failed"
kind=$(file -b "$WORK/bin/customcd.exe")
[[ "$kind" == PE32+* ]] || die "customcd.exe is not a PE32+ executable ($kind)"
size=$(stat -c %s "$WORK/bin/customcd.exe")
log "customcd.exe: $size bytes ($(numfmt --to=iec "$size")), $kind"
echo "windows binary size: $size bytes"

# winpath PATH: the Windows name of a Linux path under Wine (Z: is the root).
winpath() { printf 'Z:%s\n' "${1//\//\\}"; }

TOKEN="e2e-win-T0ken-$RANDOM$RANDOM"
OUTS=()
# win NAME DIR [VAR=VALUE...] -- ARGS...: runs customcd.exe under Wine in DIR with a clean
# environment plus the given variables; stdout+stderr to $WORK/NAME.out (echoed on failure by the
# caller), exit status in WIN_RC.
win() {
  local name=$1 dir=$2 vars=()
  shift 2
  while [[ $# -gt 0 && "$1" != -- ]]; do vars+=("$1"); shift; done
  shift
  OUTS+=("$WORK/$name.out")
  WIN_RC=0
  (cd "$dir" && run_bounded 180 env -i PATH="$PATH" HOME="$WORK/home" WINEPREFIX="$WINEPREFIX" WINEDEBUG=-all \
    WINEDLLOVERRIDES="$WINEDLLOVERRIDES" "${vars[@]}" wine "$WORK/bin/customcd.exe" "$@") \
    >"$WORK/$name.out" 2>&1 || WIN_RC=$?
  # Wine ends lines written by the console with CRLF: compare text, not line ends.
  sed -i 's/\r$//' "$WORK/$name.out"
}
fail_with() { cat "$WORK/$1.out" >&2; die "$2"; }
mkdir -p "$WORK/home"

t_suite=$SECONDS
t0=$SECONDS
win version "$WORK" -- --version
[[ $WIN_RC -eq 0 ]] || fail_with version "customcd.exe --version exited $WIN_RC under Wine"
VERSION=$(crate_version)
grep -qx "customcd $VERSION" "$WORK/version.out" || fail_with version "--version did not print 'customcd $VERSION'"
log "--version under Wine (first run creates the prefix): $((SECONDS - t0))s"

# A real checkout, made by git on the Linux side.
APP="$WORK/app"
mkdir -p "$APP"
git -C "$APP" init -q -b main
git -C "$APP" -c user.name=Dev -c user.email=dev@example.com commit -q --allow-empty -m "first"
git -C "$APP" remote add origin https://github.com/acme/win-app.git
HEAD_SHA=$(git -C "$APP" rev-parse HEAD)
COMMON=(--service-id 42 --job-start-time 1700000000 --job-duration 7 --status success)

# 2. A dry run in the checkout: the commit and repository come from git.
win dry-run "$APP" CUSTOMCD_TOKEN="$TOKEN" -- report --dry-run --job-id win-dry-1 "${COMMON[@]}"
[[ $WIN_RC -eq 0 ]] || fail_with dry-run "the dry run exited $WIN_RC"
grep -q "$HEAD_SHA" "$WORK/dry-run.out" || fail_with dry-run "the dry run does not show the checkout's commit $HEAD_SHA"
grep -q "acme/win-app" "$WORK/dry-run.out" || fail_with dry-run "the dry run does not show the repository from the origin remote"
log "dry run in a git checkout: commit $HEAD_SHA found"

# 3. A real report.
start_receiver "$WORK" 300
URL="http://127.0.0.1:$RECEIVER_PORT/webhook/company/7/cicd_job"
win report "$APP" CUSTOMCD_TOKEN="$TOKEN" -- report --url "$URL" --job-id win-report-1 "${COMMON[@]}" \
  --spool-dir "$(winpath "$WORK/spool-report")"
[[ $WIN_RC -eq 0 ]] || fail_with report "report exited $WIN_RC"
expect --count 1 0.method==POST 0.path==/webhook/company/7/cicd_job 0.body.job_id==win-report-1 \
  "0.body.commit_sha==$HEAD_SHA" 0.body.repo_name==acme/win-app 0.body.service_id==42 \
  0.body.status==Succeeded 0.body.job_duration==7 "0.headers.Authorization==Bearer%20$TOKEN" \
  || die "the report from Windows is not what was sent"
[[ -z "$(find "$WORK/spool-report" -name '*.json' 2>/dev/null)" ]] || die "a delivered job was left in the spool"
log "report: delivered once, spool empty"
stop_receiver

# 4. An outage: nothing listens on the port, the job is kept, and one send delivers it once.
SPOOL="$WORK/spool-outage"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT/webhook/company/7/cicd_job"
win outage "$APP" CUSTOMCD_TOKEN="$TOKEN" CUSTOMCD_FAIL_ON_ERROR=false CUSTOMCD_DEADLINE=3 -- report --url "$URL" \
  --job-id win-outage-1 "${COMMON[@]}" --spool-dir "$(winpath "$SPOOL")"
[[ $WIN_RC -eq 0 ]] || fail_with outage "an outage with fail_on_error false exited $WIN_RC, not 0"
grep -qi "warning" "$WORK/outage.out" || fail_with outage "the outage gave no warning"
mapfile -t kept < <(find "$SPOOL" -maxdepth 1 -name '*.json')
((${#kept[@]} == 1)) || fail_with outage "the outage left ${#kept[@]} spooled jobs, not 1"
grep -q '"job_id":"win-outage-1"' "${kept[0]}" || die "the spooled file does not hold the job: $(cat "${kept[0]}")"
log "outage: kept as $(basename "${kept[0]}")"
start_receiver "$WORK" 300 "$PORT"
win resend "$WORK" CUSTOMCD_TOKEN="$TOKEN" -- send --url "$URL" "$(winpath "$SPOOL")"
[[ $WIN_RC -eq 0 ]] || fail_with resend "send exited $WIN_RC"
win resend-again "$WORK" CUSTOMCD_TOKEN="$TOKEN" -- send --url "$URL" "$(winpath "$SPOOL")"
[[ $WIN_RC -eq 0 ]] || fail_with resend-again "the second send exited $WIN_RC"
expect --count 1 0.body.job_id==win-outage-1 "0.body.commit_sha==$HEAD_SHA" "0.headers.Authorization==Bearer%20$TOKEN" \
  || die "the resent job is not the one kept, or it was sent more than once"
[[ -z "$(find "$SPOOL" -name '*.json')" ]] || die "the resent job is still in the spool"
log "outage: resent exactly once, spool empty"
stop_receiver

# 4b. The default spool outside CI is the profile's own folder (LOCALAPPDATA), and a bare `send`
# sends it.
PORT=$(free_port)
URL="http://127.0.0.1:$PORT/webhook/company/7/cicd_job"
win default-spool "$APP" CUSTOMCD_TOKEN="$TOKEN" CUSTOMCD_FAIL_ON_ERROR=false CUSTOMCD_DEADLINE=2 -- report \
  --url "$URL" --job-id win-default-1 "${COMMON[@]}"
[[ $WIN_RC -eq 0 ]] || fail_with default-spool "an outage with the default spool exited $WIN_RC"
grep -qi 'AppData\\Local\\customcd\\spool\\[0-9]*-win-default-1\.json' "$WORK/default-spool.out" \
  || fail_with default-spool "the job was not kept under LOCALAPPDATA\\customcd\\spool"
start_receiver "$WORK" 300 "$PORT"
win default-send "$APP" CUSTOMCD_TOKEN="$TOKEN" -- send --url "$URL"
[[ $WIN_RC -eq 0 ]] || fail_with default-send "a bare send exited $WIN_RC"
expect --count 1 0.body.job_id==win-default-1 || die "a bare send did not send the default spool's job once"
log "default spool: LOCALAPPDATA\\customcd\\spool, sent by a bare send"
stop_receiver

# 4c. Ctrl-C during the attempts (Wine turns SIGINT into CTRL_C_EVENT, as a console or GitHub's
# Windows runner sends it): exit 130, the job kept and named. The server accepts and never answers.
python3 - "$WORK/hang.port" <<'PY' &
import socket, sys, time
s = socket.socket()
s.bind(("127.0.0.1", 0))
s.listen(8)
s.settimeout(1)
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write(str(s.getsockname()[1]))
import os
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
held, end = [], time.time() + 120
while time.time() < end:
    try:
        held.append(s.accept()[0])
    except socket.timeout:
        pass
PY
HANG_PID=$!
wait_for 15 "the silent server" test -s "$WORK/hang.port"
SPOOL="$WORK/spool-ctrlc"
OUTS+=("$WORK/ctrlc.out")
(cd "$APP" && exec env -i PATH="$PATH" HOME="$WORK/home" WINEPREFIX="$WINEPREFIX" WINEDEBUG=-all \
  WINEDLLOVERRIDES="$WINEDLLOVERRIDES" CUSTOMCD_TOKEN="$TOKEN" wine "$WORK/bin/customcd.exe" report \
  --url "http://127.0.0.1:$(cat "$WORK/hang.port")/webhook/company/7/cicd_job" --job-id "win-ctrlc-$$" "${COMMON[@]}" \
  --spool-dir "$(winpath "$SPOOL")") >"$WORK/ctrlc.out" 2>&1 &
REPORT_PID=$!
# Once the job is on disk the attempt is under way; then Ctrl-C.
wait_for 60 "the job to be spooled" sh -c "ls '$SPOOL'/*-win-ctrlc-$$.json"
sleep 1
ctrlc_pid=$(pgrep -f "customcd.exe report .*win-ctrlc-$$" | head -1)
[[ -n "$ctrlc_pid" ]] || die "the report to interrupt is not running"
kill -INT "$ctrlc_pid"
rc=0
wait "$REPORT_PID" || rc=$?
stop_process "$HANG_PID"
sed -i 's/\r$//' "$WORK/ctrlc.out"
[[ $rc -eq 130 ]] || fail_with ctrlc "Ctrl-C during the attempts exited $rc, not 130"
grep -q "interrupted before the server confirmed job win-ctrlc-$$; it is kept in" "$WORK/ctrlc.out" \
  || fail_with ctrlc "the interrupted report did not name the kept job"
[[ $(find "$SPOOL" -name "*-win-ctrlc-$$.json" | wc -l) -eq 1 ]] || die "the interrupted job is not in the spool"
log "Ctrl-C: exit 130, the job kept and named"

# 5. Two concurrent senders over one spool deliver each job once.
SPOOL="$WORK/spool-many"
PORT=$(free_port)
URL="http://127.0.0.1:$PORT/webhook/company/7/cicd_job"
win spool-many "$APP" CUSTOMCD_TOKEN="$TOKEN" CUSTOMCD_FAIL_ON_ERROR=false CUSTOMCD_DEADLINE=2 -- report \
  --url "$URL" --job-id win-many-0 "${COMMON[@]}" --spool-dir "$(winpath "$SPOOL")"
[[ $WIN_RC -eq 0 ]] || fail_with spool-many "spooling exited $WIN_RC"
# More jobs as the spool keeps them (the same body with another job id), so the race has work.
first=$(find "$SPOOL" -maxdepth 1 -name '*.json' | head -1)
for i in 1 2 3 4 5 6 7; do
  sed "s/win-many-0/win-many-$i/" "$first" >"$SPOOL/1700000000$i-win-many-$i.json"
done
start_receiver "$WORK" 300 "$PORT"
OUTS+=("$WORK/race-a.out" "$WORK/race-b.out")
( win race-a "$WORK" CUSTOMCD_TOKEN="$TOKEN" -- send --url "$URL" "$(winpath "$SPOOL")"; echo "$WIN_RC" >"$WORK/race-a.rc" ) &
race_a=$!
( win race-b "$WORK" CUSTOMCD_TOKEN="$TOKEN" -- send --url "$URL" "$(winpath "$SPOOL")"; echo "$WIN_RC" >"$WORK/race-b.rc" ) &
race_b=$!
wait "$race_a" "$race_b"
[[ "$(cat "$WORK/race-a.rc") $(cat "$WORK/race-b.rc")" == "0 0" ]] \
  || { cat "$WORK/race-a.out" "$WORK/race-b.out" >&2; die "a concurrent send failed"; }
python3 - "$RECEIVER_LOG" <<'PY' || { cat "$WORK/race-a.out" "$WORK/race-b.out" >&2; die "concurrent senders did not deliver each job exactly once"; }
import collections, json, sys
ids = [json.loads(line)["body"]["job_id"] for line in open(sys.argv[1], encoding="utf-8")]
counts = collections.Counter(ids)
want = {f"win-many-{i}" for i in range(8)}
if set(counts) != want or any(n != 1 for n in counts.values()):
    sys.exit(f"received {dict(counts)}")
print(f"[e2e-windows] concurrent sends: {len(ids)} jobs, each once", file=sys.stderr)
PY
[[ -z "$(find "$SPOOL" -name '*.json')" ]] || die "jobs were left in the spool after the concurrent sends"
stop_receiver

# 6. Jenkins on a Windows agent: start, then report; the start state gives the duration.
start_receiver "$WORK" 300
URL="http://127.0.0.1:$RECEIVER_PORT/webhook/company/7/cicd_job"
WSTMP="$WORK/ws@tmp"
JENKINS=(JENKINS_URL=https://ci.example.com/ BUILD_TAG=jenkins-win-app-5 BUILD_NUMBER=5 JOB_NAME=win-app
  "WORKSPACE=$(winpath "$APP")" "WORKSPACE_TMP=$(winpath "$WSTMP")" GIT_COMMIT="$HEAD_SHA"
  GIT_URL=https://github.com/acme/win-app.git CUSTOMCD_TOKEN="$TOKEN")
before=$(date +%s)
win start "$APP" "${JENKINS[@]}" -- start
[[ $WIN_RC -eq 0 ]] || fail_with start "start exited $WIN_RC"
after=$(date +%s)
state=$(find "$WSTMP" -maxdepth 1 -name 'customcd-start-*' | head -1)
[[ -n "$state" ]] || fail_with start "start recorded no state file in WORKSPACE_TMP"
recorded=$(tr -d '\r\n' <"$state")
((recorded >= before && recorded <= after)) || die "start recorded $recorded, not a time between $before and $after"
sleep 2
win start-report "$APP" "${JENKINS[@]}" -- report --url "$URL" --service-id 42 --status success
[[ $WIN_RC -eq 0 ]] || fail_with start-report "report after start exited $WIN_RC"
expect --count 1 0.body.job_id~jenkins-win-app-5 "0.body.job_start_time==$recorded" "0.body.job_duration>=2" \
  "0.body.commit_sha==$HEAD_SHA" || die "report did not take the start recorded by start"
[[ ! -e "$state" ]] || die "report left the start state $state behind"
log "start then report: start $recorded, state file read and removed"
stop_receiver

# 6b. History: a JSON Lines file with one invalid record (rejected into the rejects file, never
# sent) and a resend that the acknowledgement ledger makes a no-op; then a backfill of git tags.
BULK="$WORK/bulk"
mkdir -p "$BULK"
{
  printf '{"job_id":"win-bulk-1","commit_sha":"%s","service_id":42,"job_start_time":1700000000,"job_duration":3,"status":"Succeeded","repo_name":"acme/win-app"}\n' "$HEAD_SHA"
  printf '{"job_id":"win-bulk-2","commit_sha":"not-a-sha","service_id":42,"job_start_time":1700000000,"job_duration":3,"status":"Succeeded"}\n'
  printf '{"job_id":"win-bulk-3","commit_sha":"%s","service_id":42,"job_start_time":1700000100,"job_duration":4,"status":"Failed","repo_name":"acme/win-app"}\n' "$HEAD_SHA"
} >"$BULK/jobs.jsonl"
start_receiver "$WORK" 300
URL="http://127.0.0.1:$RECEIVER_PORT/webhook/company/7/cicd_job"
win bulk "$BULK" CUSTOMCD_TOKEN="$TOKEN" -- send --url "$URL" --spool-dir "$(winpath "$WORK/spool-bulk")" jobs.jsonl
[[ $WIN_RC -eq 2 ]] || fail_with bulk "a bulk send with an invalid record exited $WIN_RC, not 2"
win bulk-again "$BULK" CUSTOMCD_TOKEN="$TOKEN" -- send --url "$URL" --spool-dir "$(winpath "$WORK/spool-bulk")" jobs.jsonl
[[ $WIN_RC -eq 2 ]] || fail_with bulk-again "the resend exited $WIN_RC, not 2 (the invalid record is still there)"
expect --count 2 "*.body.job_id==win-bulk-1" "*.body.job_id==win-bulk-3" || die "the bulk send did not send the two valid records once"
grep -q 'win-bulk-2' "$BULK/customcd-rejects.jsonl" || die "the invalid record is not in the rejects file"
[[ -s "$WORK/spool-bulk/.customcd-acknowledged" ]] || die "no acknowledgement ledger in the spool directory"
log "bulk: 2 sent once, 1 rejected, the rerun sent nothing (the ledger)"
git -C "$APP" -c user.name=Rel -c user.email=rel@example.com tag -a v1.0.0 -m v1.0.0
git -C "$APP" -c user.name=Dev -c user.email=dev@example.com commit -q --allow-empty -m "second"
git -C "$APP" -c user.name=Rel -c user.email=rel@example.com tag -a v1.1.0 -m v1.1.0
win backfill "$APP" CUSTOMCD_TOKEN="$TOKEN" -- backfill --from-git-tags 'v*' --send --url "$URL" --service-id 42 \
  --spool-dir "$(winpath "$WORK/spool-backfill")"
[[ $WIN_RC -eq 0 ]] || fail_with backfill "backfill --send exited $WIN_RC"
# The two tags' jobs (sent concurrently, so in either order).
expect --count 4 "*.body.job_id==acme/win-app@v1.0.0" "*.body.job_id==acme/win-app@v1.1.0" \
  "*.body.commit_sha==$(git -C "$APP" rev-parse HEAD)" "2.body.job_id~@v1" "3.body.job_id~@v1" \
  || die "backfill did not send the two tags"
log "backfill: two tags sent from the Windows binary"
stop_receiver

# 7. env: the settings, the token not shown.
win env "$APP" CUSTOMCD_TOKEN="$TOKEN" -- env --job-id win-env-1 "${COMMON[@]}"
[[ $WIN_RC -eq 0 ]] || fail_with env "env exited $WIN_RC"
grep -qi "token" "$WORK/env.out" || fail_with env "env does not mention the token setting"
grep -q "win-env-1" "$WORK/env.out" || fail_with env "env does not show the job id"

# 8. The token: never printed, never on disk beside the jobs.
for out in "${OUTS[@]}"; do
  [[ -f "$out" ]] || continue
  if grep -qF "$TOKEN" "$out"; then cat "$out" >&2; die "the token was printed in $(basename "$out")"; fi
done
if grep -rqF "$TOKEN" "$WORK"/spool-* "$WSTMP" 2>/dev/null; then die "the token was written to disk"; fi
log "token: in none of ${#OUTS[@]} outputs nor the spools"

echo "windows suite under wine: $((SECONDS - t_suite))s"
log "passed"
