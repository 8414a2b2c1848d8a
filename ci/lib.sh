# Shared helpers for the ci/ scripts. Source it; it does not run anything by itself.
# shellcheck shell=bash

CI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$CI_DIR/.." && pwd)
DEFAULT_BIN="$ROOT/target/x86_64-unknown-linux-gnu/release/customcd"
export CONTAINERS_CONF=${CONTAINERS_CONF:-/tmp/customcd-containers.conf}

log() { printf '[%s] %s\n' "${SCRIPT_NAME:-ci}" "$*" >&2; }
die() { printf '[%s] FAIL: %s\n' "${SCRIPT_NAME:-ci}" "$*" >&2; exit 1; }

# resolve_binary [PATH]: absolute path of the static customcd binary to test.
resolve_binary() {
  local bin=${1:-$DEFAULT_BIN}
  [[ -f "$bin" ]] || die "no binary at $bin; build it with: RUSTFLAGS=\"-C target-feature=+crt-static\" cargo build --release --target x86_64-unknown-linux-gnu"
  [[ -x "$bin" ]] || die "$bin is not executable"
  (cd "$(dirname "$bin")" && printf '%s/%s\n' "$(pwd)" "$(basename "$bin")")
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

# start_receiver DIR [LIFETIME_S]: starts ci/receiver.py on a free loopback port; sets
# RECEIVER_PID, RECEIVER_PORT, RECEIVER_LOG.
start_receiver() {
  local dir=$1 lifetime=${2:-600}
  RECEIVER_LOG="$dir/received.jsonl"
  : >"$RECEIVER_LOG"
  python3 "$CI_DIR/receiver.py" --port 0 --log "$RECEIVER_LOG" --port-file "$dir/receiver.port" \
    --lifetime "$lifetime" 2>"$dir/receiver.err" &
  RECEIVER_PID=$!
  wait_for 15 "the receiver to listen" test -s "$dir/receiver.port"
  RECEIVER_PORT=$(cat "$dir/receiver.port")
  log "receiver pid $RECEIVER_PID on 127.0.0.1:$RECEIVER_PORT"
}

stop_receiver() {
  if [[ -n "${RECEIVER_PID:-}" ]]; then
    kill "$RECEIVER_PID" 2>/dev/null || true
    wait "$RECEIVER_PID" 2>/dev/null || true
    RECEIVER_PID=
  fi
}

# expect CHECK...: assertions on the receiver's log (see ci/expect.py).
expect() { python3 "$CI_DIR/expect.py" "$RECEIVER_LOG" "$@"; }

# run_bounded SECONDS COMMAND...: runs COMMAND with a hard time limit (exit 124 on timeout).
run_bounded() {
  local t=$1
  shift
  timeout --kill-after=10 "$t" "$@"
}

# build_local_image BIN TAG WORKDIR: `podman build --target runtime-local --pull=never` with BIN as
# the binary. The checkout is the context when BIN is the default build output; otherwise a
# staged context with the same layout (Dockerfile, .dockerignore, docker/links, the binary).
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
  run_bounded 300 podman build --pull=never --target runtime-local -t "$tag" -f "$ROOT/Dockerfile" "$context" \
    >"$work/build.log" 2>&1 || { cat "$work/build.log" >&2; die "podman build --target runtime-local failed"; }
}

# action_image: the image action.yml runs, without the docker:// prefix.
action_image() {
  sed -n 's|^ *image: *docker://\([^ ]*\).*|\1|p' "$ROOT/action.yml" | head -n1
}
