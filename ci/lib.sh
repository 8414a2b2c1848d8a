# Shared helpers for the ci/ scripts: logging, tool checks, the binary under test, facts read
# from Cargo.toml and action.yml (by parsers, never by text scraping), temporary directories,
# loopback servers (the receiver and a release file server), podman and act plumbing.
# Source it; it runs nothing by itself and sets no traps: each script owns its EXIT trap.
# shellcheck shell=bash

CI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$CI_DIR/.." && pwd)
DEFAULT_BIN="$ROOT/target/x86_64-unknown-linux-gnu/release/customcd"
export CONTAINERS_CONF=${CONTAINERS_CONF:-/tmp/customcd-containers.conf}

log() { printf '[%s] %s\n' "${SCRIPT_NAME:-ci}" "$*" >&2; }
die() { printf '[%s] FAIL: %s\n' "${SCRIPT_NAME:-ci}" "$*" >&2; exit 1; }

# have COMMAND: whether COMMAND is on PATH.
have() { command -v "$1" >/dev/null 2>&1; }

# require_tools TOOL...: dies naming the first missing tool and how to get it.
require_tools() {
  local tool
  for tool in "$@"; do
    have "$tool" || die "$tool is not installed (run ci/install-tools.sh)"
  done
}

# resolve_binary [PATH]: absolute path of the static customcd binary to test.
resolve_binary() {
  local bin=${1:-$DEFAULT_BIN}
  [[ -f "$bin" ]] || die "no binary at $bin; build it with: RUSTFLAGS=\"-C target-feature=+crt-static -C relocation-model=static\" cargo build --release --target x86_64-unknown-linux-gnu"
  [[ -x "$bin" ]] || die "$bin is not executable"
  (cd "$(dirname "$bin")" && printf '%s/%s\n' "$(pwd)" "$(basename "$bin")")
}

# crate_version: the customcd package's version, as cargo reads Cargo.toml.
crate_version() {
  cargo metadata --format-version 1 --no-deps --offline --manifest-path "$ROOT/Cargo.toml" \
    | python3 -c '
import json, sys
packages = [p for p in json.load(sys.stdin)["packages"] if p["name"] == "customcd"]
if len(packages) != 1:
    sys.exit("cargo metadata lists no customcd package")
print(packages[0]["version"])
' || die "cannot read the crate version with cargo metadata"
}

# action_image: the image action.yml runs (runs.image), without the docker:// prefix.
action_image() {
  python3 - "$ROOT/action.yml" <<'PY' || die "cannot read runs.image from action.yml"
import sys, yaml
with open(sys.argv[1], encoding="utf-8") as f:
    image = (yaml.safe_load(f).get("runs") or {}).get("image", "")
if not isinstance(image, str) or not image.startswith("docker://"):
    sys.exit(f"action.yml: runs.image is {image!r}, not a docker:// image")
print(image[len("docker://"):])
PY
}

# make_workdir NAME: a new private temporary directory (mktemp: unique, 0700) for one run.
make_workdir() { mktemp -d "${TMPDIR:-/tmp}/customcd-$1.XXXXXX"; }

# remove_workdir DIR: removes DIR, or keeps it (and says where) when KEEP_WORK=1.
remove_workdir() {
  [[ -n "${1:-}" && -d "$1" ]] || return 0
  if [[ "${KEEP_WORK:-}" == 1 ]]; then log "kept $1"; else rm -rf "$1"; fi
}

# stop_process PID: ends a background process this shell started and reaps it; quiet, and a
# no-op for an empty PID or a process that already ended.
stop_process() {
  [[ -n "${1:-}" ]] || return 0
  kill "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

# ensure_containers_conf: podman's runc needs empty default ulimits on this kind of machine.
ensure_containers_conf() {
  [[ -s "$CONTAINERS_CONF" ]] || printf '[containers]\ndefault_ulimits = []\n' >"$CONTAINERS_CONF"
}

# wait_for TIMEOUT_S DESCRIPTION COMMAND...: poll COMMAND until it succeeds, at most TIMEOUT_S.
wait_for() {
  local timeout=$1 what=$2
  shift 2
  local deadline=$((SECONDS + timeout))
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || die "timed out after ${timeout}s waiting for $what"
    sleep 0.2
  done
}

# run_bounded SECONDS COMMAND...: runs COMMAND with a hard time limit (exit 124 on timeout).
run_bounded() {
  local t=$1
  shift
  timeout --kill-after=10 "$t" "$@"
}

# _start_server NAME DIR LOG LIFETIME ARGS...: ci/receiver.py on a free loopback port, logging
# requests to DIR/LOG; sets _PID, _PORT, _LOG for the caller to copy. Waits for its port file.
_start_server() {
  local name=$1 dir=$2 lifetime=$4
  _LOG="$dir/$3"
  shift 4
  : >"$_LOG"
  rm -f "$dir/$name.port"
  python3 "$CI_DIR/receiver.py" --port 0 --log "$_LOG" --port-file "$dir/$name.port" \
    --lifetime "$lifetime" "$@" 2>"$dir/$name.err" &
  _PID=$!
  # In a subshell, so that a server that never listens is stopped before the script dies.
  (wait_for 15 "the $name to listen" test -s "$dir/$name.port") \
    || { stop_process "$_PID"; cat "$dir/$name.err" >&2; die "the $name did not start"; }
  _PORT=$(cat "$dir/$name.port")
  log "$name pid $_PID on 127.0.0.1:$_PORT"
}

# start_receiver DIR [LIFETIME_S] [PORT]: starts ci/receiver.py on a free loopback port (or on
# PORT: the endpoint an outage kept jobs for, come back); sets RECEIVER_PID, RECEIVER_PORT,
# RECEIVER_LOG.
start_receiver() {
  _start_server receiver "$1" received.jsonl "${2:-600}" ${3:+--port "$3"}
  # shellcheck disable=SC2034 # for the sourcing script
  RECEIVER_PID=$_PID RECEIVER_PORT=$_PORT RECEIVER_LOG=$_LOG
}

# free_port: a loopback port nothing listens on now, for an endpoint that is down and comes back
# later on the same address (a kept job is sent only to the endpoint it was kept for).
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

stop_receiver() {
  stop_process "${RECEIVER_PID:-}"
  RECEIVER_PID=
}

# start_file_server SERVE_DIR WORKDIR [LIFETIME_S]: serves SERVE_DIR's files over HTTP on a free
# loopback port (a release host stand-in) and records every request in its access log; sets
# FILES_PID, FILES_PORT, FILES_LOG (JSON Lines: method, path, status; see expect_files).
start_file_server() {
  _start_server files "$2" files-access.jsonl "${3:-600}" --files "$1"
  # shellcheck disable=SC2034 # for the sourcing script
  FILES_PID=$_PID FILES_PORT=$_PORT FILES_LOG=$_LOG
}

stop_file_server() {
  stop_process "${FILES_PID:-}"
  FILES_PID=
}

# expect_log LOG CHECK...: assertions on a JSON Lines request log (see ci/expect.py).
expect_log() { python3 "$CI_DIR/expect.py" "$@"; }
# expect CHECK...: assertions on the receiver's log.
expect() { expect_log "$RECEIVER_LOG" "$@"; }
# expect_files CHECK...: assertions on the file server's access log.
expect_files() { expect_log "$FILES_LOG" "$@"; }

# path_without COMMAND DIR: prints a PATH like the current one under which COMMAND is not found:
# each directory holding COMMAND is replaced by a shadow directory (under DIR) of links to
# everything else in it. Dies if COMMAND would still be found.
path_without() {
  local cmd=$1 work=$2 dir dirs=() shadow n=0 f
  local IFS=:
  for dir in $PATH; do
    [[ -n "$dir" && -d "$dir" ]] || continue
    if [[ -e "$dir/$cmd" ]]; then
      n=$((n + 1))
      shadow="$work/path-without-$cmd.$n"
      mkdir -p "$shadow"
      for f in "$dir"/*; do
        [[ "${f##*/}" == "$cmd" ]] || ln -sf "$f" "$shadow/"
      done
      dirs+=("$shadow")
    else
      dirs+=("$dir")
    fi
  done
  local path="${dirs[*]}"
  if PATH="$path" command -v "$cmd" >/dev/null 2>&1; then
    die "cannot build a PATH without $cmd (still found: $(PATH="$path" command -v "$cmd"))"
  fi
  printf '%s\n' "$path"
}

# unique_tag NAME: an image tag no concurrent run uses.
unique_tag() { printf 'localhost/customcd:%s-%s-%s\n' "$1" "$$" "$RANDOM$RANDOM"; }

# build_local_image BIN TAG WORKDIR: `podman build --target runtime-local --pull=never` with BIN as
# the binary. The checkout is the context when BIN is the default build output; otherwise a
# staged context with the same layout (Dockerfile, .dockerignore, docker/links, the binary).
# --layers=false: no intermediate images are kept, so removing TAG leaves nothing behind.
build_local_image() {
  local bin=$1 tag=$2 work=$3 context
  if [[ "$bin" == "$DEFAULT_BIN" ]]; then
    context=$ROOT
  else
    context="$work/context"
    mkdir -p "$context/target/x86_64-unknown-linux-gnu/release" "$context/docker"
    cp "$ROOT/Dockerfile" "$ROOT/.dockerignore" "$context/"
    cp -a "$ROOT/docker/links" "$context/docker/"
    cp "$bin" "$context/target/x86_64-unknown-linux-gnu/release/customcd"
  fi
  log "podman build --target runtime-local -t $tag (context $context)"
  run_bounded 300 podman build --pull=never --layers=false --target runtime-local -t "$tag" -f "$ROOT/Dockerfile" "$context" \
    >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; die "podman build --target runtime-local failed"; }
}

# claim_action_image LOCAL_TAG: tags LOCAL_TAG with the name action.yml runs (sets ACTION_IMAGE),
# so act uses it from the local store. That name is the same for every run on the machine, so it
# is held under an exclusive lock (waits up to 15 minutes for another run to release it) until
# release_action_image or the end of the script.
claim_action_image() {
  ACTION_IMAGE=$(action_image)
  # One lock file for the machine, whatever TMPDIR a run has.
  exec {_ACTION_IMAGE_LOCK}>/tmp/customcd-action-image.lock
  log "waiting for the action image name $ACTION_IMAGE"
  flock -w 900 "$_ACTION_IMAGE_LOCK" || die "another run held $ACTION_IMAGE for 15 minutes"
  _ACTION_IMAGE_HELD=1
  podman tag "$1" "$ACTION_IMAGE" || die "podman tag $1 $ACTION_IMAGE failed"
  log "tagged $ACTION_IMAGE"
}

# release_action_image: removes the action's name from this run's image and lets the next run
# have it; does nothing unless this run holds the name (never untags another run's image).
release_action_image() {
  if [[ -n "${_ACTION_IMAGE_HELD:-}" ]]; then
    # Name the name twice: `podman untag IMAGE` alone removes every name the image has.
    podman untag "$ACTION_IMAGE" "$ACTION_IMAGE" >/dev/null 2>&1 || true
    _ACTION_IMAGE_HELD=
  fi
  if [[ -n "${_ACTION_IMAGE_LOCK:-}" ]]; then
    exec {_ACTION_IMAGE_LOCK}>&-
    _ACTION_IMAGE_LOCK=
  fi
}

# start_podman_api DIR: podman's Docker API on DIR/podman.sock for act, with the host-network
# shim (ci/oci-runtime-hostnet.sh) as its OCI runtime so step containers reach 127.0.0.1; sets
# PODMAN_SOCK and PODMAN_API_PID, and returns once the API answers.
start_podman_api() {
  PODMAN_SOCK="$1/podman.sock"
  CUSTOMCD_RUNC=$(command -v runc) || die "runc is not installed (run ci/install-tools.sh)"
  export CUSTOMCD_RUNC
  podman --runtime "$CI_DIR/oci-runtime-hostnet.sh" system service --time=0 "unix://$PODMAN_SOCK" \
    >"$1/podman-service.log" 2>&1 &
  PODMAN_API_PID=$!
  wait_for 30 "the podman API socket" test -S "$PODMAN_SOCK"
  wait_for 30 "the podman API to answer" python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(2); s.connect(sys.argv[1])
s.sendall(b"GET /_ping HTTP/1.0\r\nHost: d\r\n\r\n"); assert b"200" in s.recv(100)
' "$PODMAN_SOCK"
}

stop_podman_api() {
  stop_process "${PODMAN_API_PID:-}"
  PODMAN_API_PID=
}

# start_act_suite NAME [BINARY]: what every act suite needs before its workflow runs: the binary,
# a work dir, the image under action.yml's name, podman's Docker API and a receiver on 127.0.0.1;
# sets BIN, WORK, LOCAL_TAG and URL (the receiver's webhook path). Set `trap stop_act_suite EXIT`
# first, so that a failure half-way is cleaned up too.
start_act_suite() {
  BIN=$(resolve_binary "${2:-}")
  require_tools act podman runc git python3 flock
  ensure_containers_conf
  WORK=$(make_workdir "$1")
  LOCAL_TAG=$(unique_tag "$1")
  # The image under the name action.yml gives.
  build_local_image "$BIN" "$LOCAL_TAG" "$WORK"
  claim_action_image "$LOCAL_TAG"
  start_podman_api "$WORK"
  start_receiver "$WORK" 900
  # shellcheck disable=SC2034 # for the suite that called this
  URL="http://127.0.0.1:$RECEIVER_PORT/webhook/company/7/cicd_job"
}

# stop_act_suite: undoes start_act_suite, whatever part of it ran.
stop_act_suite() {
  stop_receiver
  stop_podman_api
  release_action_image
  [[ -z "${LOCAL_TAG:-}" ]] || podman rmi -f "$LOCAL_TAG" >/dev/null 2>&1 || true
  remove_workdir "${WORK:-}"
}

# commit_app_repo REPO: makes REPO (holding the workflow the suite wrote) a git repository with
# one commit on main and a GitHub origin, as a user's checkout would be; sets HEAD_SHA.
commit_app_repo() {
  local repo=$1
  echo "app" >"$repo/README.md"
  git -C "$repo" init -q -b main
  git -C "$repo" -c user.name=e2e -c user.email=e2e@example.com add -A
  git -C "$repo" -c user.name=e2e -c user.email=e2e@example.com commit -q -m "deploy workflow"
  git -C "$repo" remote add origin https://github.com/acme/e2e-app.git
  HEAD_SHA=$(git -C "$repo" rev-parse HEAD)
  log "temp repo $repo at $HEAD_SHA"
}

# run_act_job REPO WORKFLOW JOB [ACT_ARGS...]: `act push` for one job of REPO's WORKFLOW on the
# host (-P ubuntu-latest=-self-hosted), with Docker actions run by the podman API
# (start_podman_api) and acme/customcd-action@v1 mapped to this checkout, so the action runs as
# a published one (pre-entrypoint included). act's host mode gives Docker-action containers host
# paths in GITHUB_ENV, GITHUB_STATE, GITHUB_OUTPUT and GITHUB_WORKSPACE (under its cache) without
# mounting them; mounting the cache (REPO/../act-cache) at the same path makes them real there.
run_act_job() {
  local repo=$1 workflow=$2 job=$3
  shift 3
  local cache
  cache="$(dirname "$repo")/act-cache"
  mkdir -p "$cache"
  (cd "$repo" && DOCKER_HOST="unix://$PODMAN_SOCK" run_bounded 300 act push \
    -W "$workflow" -j "$job" \
    -P ubuntu-latest=-self-hosted \
    --container-daemon-socket "unix://$PODMAN_SOCK" \
    --local-repository "acme/customcd-action@v1=$ROOT" \
    --action-cache-path "$cache" \
    --container-options "-v $cache:$cache" \
    "$@")
}
