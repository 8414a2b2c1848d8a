#!/usr/bin/env bash
# Lint the packaging: actionlint on the workflows, hadolint on the Dockerfile, and the JSON
# schemas (check-jsonschema's bundled, offline copies) for action.yml, the workflows and the
# GitLab component (its two YAML documents, spec header and jobs, checked one by one).
set -euo pipefail
SCRIPT_NAME=lint-packaging
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
for tool in actionlint hadolint check-jsonschema; do
  command -v "$tool" >/dev/null || die "$tool is not installed (run ci/install-tools.sh)"
done
WORK=$(mktemp -d /tmp/customcd-lint.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail=0
step() {
  local what=$1
  shift
  if "$@"; then log "ok: $what"; else log "FAILED: $what"; fail=1; fi
}

step "actionlint .github/workflows" actionlint -no-color .github/workflows/*.yml
step "hadolint Dockerfile" hadolint Dockerfile
step "action.yml against vendor.github-actions" check-jsonschema --builtin-schema vendor.github-actions action.yml
step "workflows against vendor.github-workflows" check-jsonschema --builtin-schema vendor.github-workflows .github/workflows/*.yml

# A component file is two YAML documents: `spec:` and the jobs. Validate each on its own.
for tpl in templates/*.yml; do
  name=$(basename "$tpl" .yml)
  # Split on the document marker line; no YAML library needed.
  awk -v out="$WORK/$name" 'BEGIN { n = 0 } /^---[[:space:]]*$/ { n++; next } { print > (out "." n ".yml") }' "$tpl"
  [[ -f "$WORK/$name.1.yml" ]] || { log "FAILED: $tpl has no jobs document after ---"; fail=1; continue; }
  grep -q '^spec:' "$WORK/$name.0.yml" || { log "FAILED: $tpl does not start with spec:"; fail=1; }
  step "$tpl spec against vendor.gitlab-ci" check-jsonschema --builtin-schema vendor.gitlab-ci "$WORK/$name.0.yml"
  step "$tpl jobs against vendor.gitlab-ci" check-jsonschema --builtin-schema vendor.gitlab-ci "$WORK/$name.1.yml"
done

# Every ci/ shell script parses.
for s in ci/*.sh; do step "bash -n $s" bash -n "$s"; done
if command -v shellcheck >/dev/null; then step "shellcheck ci/*.sh" shellcheck -x ci/*.sh; fi

((fail == 0)) || die "packaging lint failed"
log "PASS"
