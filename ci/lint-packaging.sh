#!/usr/bin/env bash
# Lint the packaging: actionlint on the workflows, hadolint on the Dockerfile, the JSON schemas
# (check-jsonschema's bundled, offline copies) for action.yml, the workflows and the GitLab
# component (its two YAML documents, spec header and jobs, checked one by one), and shellcheck on
# every ci/ script and .ci/run. Every tool is required: a missing one fails the lint, never skips.
set -euo pipefail
SCRIPT_NAME=lint-packaging
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
cd "$ROOT"
require_tools actionlint hadolint check-jsonschema shellcheck python3
python3 -c 'import yaml' 2>/dev/null || die "python3 cannot import yaml (PyYAML; run ci/install-tools.sh)"
WORK=$(make_workdir lint)
trap 'remove_workdir "$WORK"' EXIT
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

# A component file is two YAML documents: `spec:` and the jobs. Each is written out as JSON by
# a YAML parser and validated on its own.
split_component() {
  python3 - "$1" "$2" <<'PY'
import json, sys, yaml
src, out = sys.argv[1:3]
with open(src, encoding="utf-8") as f:
    docs = list(yaml.safe_load_all(f))
if len(docs) != 2:
    sys.exit(f"{src}: {len(docs)} YAML document(s); a component is a spec header, ---, then the jobs")
if not isinstance(docs[0], dict) or set(docs[0]) != {"spec"}:
    sys.exit(f"{src}: the first document must hold only spec:")
if not isinstance(docs[1], dict) or not docs[1]:
    sys.exit(f"{src}: the second document holds no jobs")
for i, doc in enumerate(docs):
    with open(f"{out}.{i}.json", "w", encoding="utf-8") as f:
        json.dump(doc, f)
PY
}
for tpl in templates/*.yml; do
  name=$(basename "$tpl" .yml)
  if ! split_component "$tpl" "$WORK/$name"; then
    log "FAILED: $tpl is not a spec document followed by a jobs document"
    fail=1
    continue
  fi
  step "$tpl spec against vendor.gitlab-ci" check-jsonschema --builtin-schema vendor.gitlab-ci "$WORK/$name.0.json"
  step "$tpl jobs against vendor.gitlab-ci" check-jsonschema --builtin-schema vendor.gitlab-ci "$WORK/$name.1.json"
done

# Every script parses, and passes shellcheck (following sourced files).
scripts=(ci/*.sh .ci/run)
for s in "${scripts[@]}"; do step "bash -n $s" bash -n "$s"; done
step "shellcheck ${scripts[*]}" shellcheck -x "${scripts[@]}"

((fail == 0)) || die "packaging lint failed"
log "PASS"
