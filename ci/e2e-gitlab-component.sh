#!/usr/bin/env bash
# The GitLab component's own suite under gitlab-ci-local (shell executor), against a receiver and
# a release file server, both on 127.0.0.1.
#
# 1. The project pipeline (.gitlab-ci.yml at the root) in a throwaway copy of this checkout whose
#    origin is gitlab.example.com/acme/customcd: the component is included as
#    $CI_SERVER_FQDN/$CI_PROJECT_PATH/customcd@$CI_COMMIT_SHA (this commit's own templates/),
#    with typed inputs; component-report is reported from after_script, component-check runs the
#    same script as its script (a dry run). The release job exists only on a vX.Y.Z tag, and the
#    file is schema-clean (check-jsonschema vendor.gitlab-ci).
# 2. Typed inputs are enforced: a quoted service_id or a status outside the options is refused.
# 3. The pin is checked on every use: no customcd on PATH, the release comes from the file server
#    into a cache; the second run uses the cache (no download) after checking it; a wrong pin fails
#    even though the binary is cached; a tampered cache is downloaded again; a customcd on PATH
#    that does not match the pin is not run.
# usage: ci/e2e-gitlab-component.sh [PATH_TO_STATIC_BINARY]
set -euo pipefail
SCRIPT_NAME=e2e-gitlab-component
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"

BIN=$(resolve_binary "${1:-}")
command -v gitlab-ci-local >/dev/null || die "gitlab-ci-local is not installed (run ci/install-tools.sh)"
command -v rsync >/dev/null || die "rsync is not installed (gitlab-ci-local needs it)"
GCL=$(command -v gitlab-ci-local)
WORK=$(mktemp -d /tmp/customcd-e2e-gitlab-component.XXXXXX)
FILES_PID=
stop_files() {
  if [[ -n "$FILES_PID" ]]; then
    kill "$FILES_PID" 2>/dev/null || true
    wait "$FILES_PID" 2>/dev/null || true
    FILES_PID=
  fi
}
cleanup() {
  stop_files
  stop_receiver
  if [[ "${KEEP_WORK:-}" == 1 ]]; then log "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

start_receiver "$WORK" 900
TOKEN=e2e-component-token-$RANDOM$RANDOM
URL="http://127.0.0.1:$RECEIVER_PORT/webhook/company/7/cicd_job"
received() { grep -c . "$RECEIVER_LOG" || true; }

# A PATH with the basics and without any customcd this machine may have installed.
CLEAN_PATH=/usr/local/bin:/usr/bin:/bin
if PATH=$CLEAN_PATH command -v customcd >/dev/null 2>&1; then
  die "a customcd is installed in $CLEAN_PATH; the download tests need a PATH without one"
fi

# gitlab-ci-local sets GITLAB_CI=false on purpose; GitLab sets it to true and customcd detects
# GitLab by it, so each run sets what GitLab sets. TMPDIR keeps the component's cache in WORK.
gcl() {
  local dir=$1 path=$2
  shift 2
  (cd "$dir" && PATH=$path run_bounded 300 "$GCL" --no-color --force-shell-executor \
    --variable GITLAB_CI=true --variable "TMPDIR=$WORK/tmp" \
    --variable "CUSTOMCD_URL=$URL" --variable "CUSTOMCD_TOKEN=$TOKEN" "$@")
}

commit_all() {
  git -C "$1" -c user.name=e2e -c user.email=e2e@example.com add -A
  git -C "$1" -c user.name=e2e -c user.email=e2e@example.com commit -q --allow-empty -m "${2:-pipeline}"
}

mkdir -p "$WORK/tmp"

# --- 0. The fields list as real GitLab writes it ----------------------------------------------
# gitlab-ci-local writes an array inside a string as compact JSON; GitLab writes Ruby's inspect
# (["a", "b"]) or JSON, depending on its interpolation. The component's after_script (the last
# block of the file) runs here with a recording customcd on PATH, over both forms and escapes.
awk '/^  after_script:/ { on = 1; next } on && /^    - \|/ { body = 1; next } body { sub(/^      /, ""); print }' \
  "$ROOT/templates/customcd.yml" | sed -e 's/\$\[\[ inputs.service_id \]\]/42/' -e 's/\$\[\[ inputs.dry_run \]\]/false/' \
  >"$WORK/after_script.sh"
grep -q 'customcd_service_id=42' "$WORK/after_script.sh" || die "could not extract the component's after_script"
mkdir -p "$WORK/recorder"
# shellcheck disable=SC2016 # the recorder expands $a and $RECORD itself
printf '#!/bin/sh\nfor a; do printf "%%s\\n" "$a"; done >"$RECORD"\n' >"$WORK/recorder/customcd"
chmod +x "$WORK/recorder/customcd"
fields_case() { # fields_case NAME VALUE EXPECTED_ARGS...
  local name=$1 value=$2
  shift 2
  RECORD="$WORK/fields-$name" PATH="$WORK/recorder:$CLEAN_PATH" CUSTOMCD_SHA256='' CUSTOMCD_VERSION=0.1.0 \
    CUSTOMCD_RELEASE_URL=http://127.0.0.1:9 CUSTOMCD_INPUT_JOB_TYPE=deploy CUSTOMCD_INPUT_STATUS='' \
    CUSTOMCD_INPUT_ENVIRONMENT='' CUSTOMCD_INPUT_FIELDS="$value" sh "$WORK/after_script.sh" \
    || die "fields $name: the after_script failed"
  local want got
  want=$(printf '%s\n' report --service-id 42 --job-type deploy "$@")
  got=$(cat "$WORK/fields-$name")
  [[ "$got" == "$want" ]] || die "fields $name: got [$got], want [$want]"
  log "fields as GitLab writes them: $name"
}
fields_case json 'fields ["team=e2e","note=two words"]' --field team=e2e --field 'note=two words'
fields_case ruby-inspect-and-escapes 'fields ["team=e2e", "q=\"x\" \\ y", "h=\#{x}", "u=caf\u00e9"]' \
  --field team=e2e --field 'q="x" \ y' --field 'h=#{x}' --field 'u=café'
fields_case empty 'fields []'

# --- 1. The project pipeline tests the component of its own commit ---------------------------
PROJ="$WORK/customcd"
mkdir -p "$PROJ/templates"
cp "$ROOT/.gitlab-ci.yml" "$PROJ/.gitlab-ci.yml"
cp "$ROOT/templates/customcd.yml" "$PROJ/templates/customcd.yml"
printf 'bin/\n.gitlab-ci-local/\n' >"$PROJ/.gitignore"
git -C "$PROJ" init -q -b main
commit_all "$PROJ" "component project"
git -C "$PROJ" remote add origin https://gitlab.example.com/acme/customcd.git
PROJ_SHA=$(git -C "$PROJ" rev-parse HEAD)
# What the build job leaves as its artifact.
mkdir -p "$PROJ/bin"
cp "$BIN" "$PROJ/bin/customcd"

if command -v check-jsonschema >/dev/null; then
  check-jsonschema --builtin-schema vendor.gitlab-ci --data-transform gitlab-ci "$ROOT/.gitlab-ci.yml" >"$WORK/schema.log" 2>&1 \
    || { cat "$WORK/schema.log" >&2; die ".gitlab-ci.yml does not match vendor.gitlab-ci"; }
  log ".gitlab-ci.yml matches vendor.gitlab-ci"
else
  log "SKIP schema check: check-jsonschema is not installed"
fi

gcl "$PROJ" "$CLEAN_PATH" --list >"$WORK/list.log" 2>&1 || { cat "$WORK/list.log" >&2; die "gitlab-ci-local --list failed"; }
grep -q '^component-report ' "$WORK/list.log" || { cat "$WORK/list.log" >&2; die "component-report is not in the pipeline"; }
if grep -q '^release ' "$WORK/list.log"; then cat "$WORK/list.log" >&2; die "the release job runs without a tag"; fi
for tag in v1.2.3 v1.2 1.2.3 v1.2.3-rc1; do
  gcl "$PROJ" "$CLEAN_PATH" --list --variable "CI_COMMIT_TAG=$tag" >"$WORK/list-$tag.log" 2>&1 \
    || { cat "$WORK/list-$tag.log" >&2; die "gitlab-ci-local --list with tag $tag failed"; }
  if grep -q '^release ' "$WORK/list-$tag.log"; then has=yes; else has=no; fi
  want=no
  [[ "$tag" == v1.2.3 ]] && want=yes
  [[ "$has" == "$want" ]] || { cat "$WORK/list-$tag.log" >&2; die "tag $tag: release job present=$has, want $want"; }
done
log "the release job runs on a vX.Y.Z tag only (v1.2.3 yes; v1.2, 1.2.3, v1.2.3-rc1 no)"

code=0
gcl "$PROJ" "$CLEAN_PATH" --variable CUSTOMCD_DRY_RUN=false component-report >"$WORK/report.log" 2>&1 || code=$?
[[ $code -eq 0 ]] || { tail -n 60 "$WORK/report.log" >&2; die "component-report exited $code"; }
expect --count 1 0.method==POST 0.path==/webhook/company/7/cicd_job 0.body.status==Succeeded \
  "0.body.commit_sha==$PROJ_SHA" 0.body.service_id==42 0.body.job_type==component-test \
  0.body.repo_name==acme/customcd "0.headers.Authorization==Bearer%20$TOKEN" \
  || { tail -n 60 "$WORK/report.log" >&2; die "component-report was not reported as expected"; }
python3 - "$RECEIVER_LOG" <<'PY' || { tail -n 60 "$WORK/report.log" >&2; die "component-report's optional fields are wrong"; }
import json, sys
body = json.loads(open(sys.argv[1]).readline())["body"]
got = {f["key"]: (f["value"], f["type"]) for f in body.get("optional", [])}
want = {"suite": ("component", "string"), "checked": (1, "integer"), "environment": ("component-test", "string")}
bad = {k: got.get(k) for k, v in want.items() if got.get(k) != v}
if bad:
    sys.exit(f"optional fields: want {want}, got {got}")
PY
log "component-report (after_script, typed inputs, fields array, environment) reported Succeeded"

code=0
gcl "$PROJ" "$CLEAN_PATH" component-check >"$WORK/check.log" 2>&1 || code=$?
[[ $code -eq 0 ]] || { tail -n 60 "$WORK/check.log" >&2; die "component-check exited $code"; }
grep -q '"service_id": *42' "$WORK/check.log" || { tail -n 60 "$WORK/check.log" >&2; die "component-check did not print the dry run's body"; }
[[ $(received) -eq 1 ]] || die "component-check's dry run sent something"
log "component-check ran the component as a script: a dry run, nothing sent"

# --- 2. Typed inputs are enforced -------------------------------------------------------------
APP="$WORK/app"
mkdir -p "$APP/templates"
cp "$ROOT/templates/customcd.yml" "$APP/templates/customcd.yml"
echo app >"$APP/README.md"
git -C "$APP" init -q -b main
git -C "$APP" remote add origin https://gitlab.example.com/acme/app.git
write_app() { # write_app INPUT_LINES...: an app pipeline including the component with these inputs
  {
    echo "include:"
    echo "  - local: templates/customcd.yml"
    echo "    inputs:"
    local line
    for line in "$@"; do echo "      $line"; done
    echo
    echo "deploy:"
    echo "  extends: .customcd-report"
    echo "  script:"
    echo "    - echo deploying"
  } >"$APP/.gitlab-ci.yml"
  commit_all "$APP"
}
refused() { # refused WHAT MESSAGE INPUT_LINES...
  local what=$1 msg=$2
  shift 2
  write_app "$@"
  local code=0
  gcl "$APP" "$CLEAN_PATH" deploy >"$WORK/refused.log" 2>&1 || code=$?
  if [[ $code -eq 0 ]] || ! grep -q -- "$msg" "$WORK/refused.log"; then
    tail -n 20 "$WORK/refused.log" >&2
    die "$what was not refused with '$msg' (exit $code)"
  fi
  log "refused: $what"
}
refused 'service_id: "42" (a string)' "provided value is not a number" 'service_id: "42"'
refused 'status: finished (not an option)' "not in the list of allowed options" 'service_id: 42' 'status: finished'
refused 'fields: "team=e2e" (a string)' "provided value is not a array" 'service_id: 42' 'fields: "team=e2e"'
[[ $(received) -eq 1 ]] || die "a refused pipeline sent something"

# --- 3. The pin is checked every time the binary is used --------------------------------------
VERSION=$(sed -n 's/^version *= *"\(.*\)"/\1/p' "$ROOT/Cargo.toml" | head -n1)
ASSET="customcd-$VERSION-x86_64-unknown-linux-musl"
mkdir -p "$WORK/releases/v$VERSION"
cp "$BIN" "$WORK/releases/v$VERSION/$ASSET"
(cd "$WORK/releases/v$VERSION" && sha256sum "$ASSET" >SHA256SUMS)
PIN=$(cut -d' ' -f1 "$WORK/releases/v$VERSION/SHA256SUMS")
WRONG=$(printf '%064d' 0)
CACHE="$WORK/tmp/customcd-$VERSION-x86_64"
# timeout (not the run_bounded function, whose subshell would hide the PID) passes a kill on.
timeout 600 python3 -u -m http.server --bind 127.0.0.1 --directory "$WORK/releases" 0 \
  >"$WORK/files.log" 2>&1 &
FILES_PID=$!
for _ in $(seq 75); do grep -q 'Serving HTTP' "$WORK/files.log" && break; sleep 0.2; done
FILES_PORT=$(sed -n 's/.*port \([0-9]*\).*/\1/p' "$WORK/files.log" | head -n1)
[[ -n "$FILES_PORT" ]] || die "the release file server did not start"
downloads() { grep -c "GET /v$VERSION/$ASSET " "$WORK/files.log" || true; }

# run_pinned NAME PIN PATH: the app's deploy job with this pin (empty: SHA256SUMS) and PATH.
run_pinned() {
  local name=$1 pin=$2 path=$3 code=0
  write_app 'service_id: 42' 'job_type: deploy' "version: \"$VERSION\"" "sha256: \"$pin\"" \
    "release_url: http://127.0.0.1:$FILES_PORT" 'fields: [pin=checked]'
  gcl "$APP" "$path" deploy >"$WORK/$name.log" 2>&1 || code=$?
  log "$name: gitlab-ci-local exited $code, $(downloads) download(s) so far, $(received) report(s)"
}
reported() { # reported N NAME: the receiver holds N reports, the last one Succeeded with the pin field
  local n=$1 name=$2
  expect --count "$n" "$((n - 1)).body.status==Succeeded" "$((n - 1)).body.service_id==42" \
    || { tail -n 40 "$WORK/$name.log" >&2; die "$name was not reported"; }
}

run_pinned first-download "$PIN" "$CLEAN_PATH"
[[ $(downloads) -eq 1 ]] || { tail -n 40 "$WORK/first-download.log" >&2; die "first-download did not download $ASSET once"; }
reported 2 first-download
[[ -f "$CACHE/customcd" ]] || die "first-download left no cached binary in $CACHE"
grep -q "downloaded $ASSET, sha256 $PIN verified" "$WORK/first-download.log" || die "first-download did not say it verified the pin"

run_pinned cached "$PIN" "$CLEAN_PATH"
[[ $(downloads) -eq 1 ]] || { tail -n 40 "$WORK/cached.log" >&2; die "cached downloaded again"; }
grep -q "using the cached $ASSET, sha256 $PIN verified" "$WORK/cached.log" || { tail -n 40 "$WORK/cached.log" >&2; die "cached did not verify the cached binary"; }
reported 3 cached

run_pinned wrong-pin "$WRONG" "$CLEAN_PATH"
grep -q "checksum mismatch for $ASSET" "$WORK/wrong-pin.log" || { tail -n 40 "$WORK/wrong-pin.log" >&2; die "wrong-pin did not fail on the checksum"; }
[[ $(received) -eq 3 ]] || die "wrong-pin ran the cached binary and reported"
cmp -s "$CACHE/customcd" "$BIN" || die "wrong-pin changed the cache"
log "wrong-pin: the cached binary was not run; the report failed on the checksum"

printf 'not customcd\n' >"$CACHE/customcd"
run_pinned tampered-cache "$PIN" "$CLEAN_PATH"
[[ $(downloads) -eq 3 ]] || { tail -n 40 "$WORK/tampered-cache.log" >&2; die "tampered-cache did not download again"; }
grep -q "the cached $ASSET does not match" "$WORK/tampered-cache.log" || die "tampered-cache did not say why it downloaded"
reported 4 tampered-cache
cmp -s "$CACHE/customcd" "$BIN" || die "tampered-cache did not repair the cache"

run_pinned sha256sums "" "$CLEAN_PATH"
grep -q "GET /v$VERSION/SHA256SUMS " "$WORK/files.log" || die "sha256sums did not fetch SHA256SUMS"
grep -q "using the cached $ASSET, sha256 $PIN verified" "$WORK/sha256sums.log" || { tail -n 40 "$WORK/sha256sums.log" >&2; die "sha256sums did not verify the cache against SHA256SUMS"; }
reported 5 sha256sums

# A customcd on PATH that is not the pinned binary must not run.
mkdir -p "$WORK/impostor"
printf '#!/bin/sh\necho impostor ran >&2\nexit 0\n' >"$WORK/impostor/customcd"
chmod +x "$WORK/impostor/customcd"
run_pinned path-impostor "$PIN" "$WORK/impostor:$CLEAN_PATH"
grep -q "does not match the sha256 input" "$WORK/path-impostor.log" || { tail -n 40 "$WORK/path-impostor.log" >&2; die "path-impostor was not skipped"; }
if grep -q "impostor ran" "$WORK/path-impostor.log"; then die "path-impostor ran"; fi
reported 6 path-impostor
log "PASS"
