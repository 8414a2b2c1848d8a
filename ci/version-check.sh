#!/usr/bin/env bash
# Fails when the `uses:` lines of README and docs/, the GitLab `component:` lines (those, templates/README.md,
# the component's own comments) or the Jenkins examples and defaults name a version the release
# process would not produce. A release of the Cargo.toml version X.Y.Z (read with cargo metadata)
# pushes vX.Y.Z, which never moves, and moves vX; so references may name vX or vX.Y.Z, and a
# commit pin needs a `# vX.Y.Z` comment (as Renovate and Dependabot write it). The checks are
# ci/version-check.py (PyYAML for action.yml, the component and the YAML examples of README and docs/).
#
# usage: ci/version-check.sh              check this checkout
#        ci/version-check.sh --self-test  also prove, on temporary copies of the docs, that the
#                                         check fails on each kind of wrong version
set -euo pipefail
SCRIPT_NAME=version-check
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
require_tools cargo python3
python3 -c 'import yaml' 2>/dev/null || die "python3 cannot import yaml (PyYAML; run ci/install-tools.sh)"

VERSION=$(crate_version)
check() { python3 "$CI_DIR/version-check.py" --root "$1" --version "${2:-$VERSION}"; }

check "$ROOT" || die "the docs name versions that no release of $VERSION makes (above)"
[[ "${1:-}" == --self-test ]] || exit 0

# --- self-test: each mutation of a temporary copy must fail, each good variant must pass -------
WORK=$(make_workdir version-check)
trap 'remove_workdir "$WORK"' EXIT
MAJOR="v${VERSION%%.*}"
REPO=$(action_image)
REPO=${REPO#ghcr.io/}
REPO=${REPO%%[:@]*}
SHA=0123456789abcdef0123456789abcdef01234567

# fresh_copy: the files the check reads, copied into $WORK/tree.
fresh_copy() {
  rm -rf "$WORK/tree"
  mkdir -p "$WORK/tree"
  cp -R "$ROOT/README.md" "$ROOT/docs" "$ROOT/action.yml" "$ROOT/templates" "$ROOT/vars" "$WORK/tree/"
}

# replace_first FILE OLD NEW: replaces the first occurrence of OLD (one wrong example among
# several must be caught as surely as a lone one); dies when there is none.
replace_first() {
  python3 - "$WORK/tree/$1" "$2" "$3" <<'PY' || die "self-test: cannot edit $1"
import sys
path, old, new = sys.argv[1:4]
with open(path, encoding="utf-8") as f:
    text = f.read()
if old not in text:
    sys.exit(f"{path}: {old!r} does not occur")
with open(path, "w", encoding="utf-8") as f:
    f.write(text.replace(old, new, 1))
PY
}

# must_fail NAME EXPECTED_MESSAGE [VERSION]: the check of the copy exits 1 and says EXPECTED_MESSAGE.
must_fail() {
  local rc=0
  check "$WORK/tree" "${3:-}" >"$WORK/out" 2>&1 || rc=$?
  ((rc == 1)) || { cat "$WORK/out" >&2; die "self-test $1: the check exited $rc, want 1"; }
  grep -qF -- "$2" "$WORK/out" || { cat "$WORK/out" >&2; die "self-test $1: no message containing: $2"; }
  log "self-test ok: $1 fails ($(grep -F -- "$2" "$WORK/out" | head -n1))"
}

# must_pass NAME: the check of the copy passes.
must_pass() {
  check "$WORK/tree" >"$WORK/out" 2>&1 || { cat "$WORK/out" >&2; die "self-test $1: the check failed, want a pass"; }
  log "self-test ok: $1 passes"
}

fresh_copy
must_pass "an unchanged copy"

fresh_copy
replace_first README.md "uses: $REPO@$MAJOR" "uses: $REPO@v$((${MAJOR#v} + 1))"
must_fail "README uses: a major that no release made" "uses: names 'v$((${MAJOR#v} + 1))'"

fresh_copy
replace_first README.md "uses: $REPO@$MAJOR" "uses: $REPO@v0"
must_fail "README uses: the v0 the 0.1.0 release would have moved" "uses: names 'v0'"

fresh_copy
replace_first README.md "uses: $REPO@$MAJOR" "uses: $REPO@$SHA"
must_fail "README uses: a commit pin without a version comment" "pins a commit without"

fresh_copy
replace_first README.md "uses: $REPO@$MAJOR" "uses: $REPO@$SHA # v$VERSION"
must_pass "README uses: a commit pin with # v$VERSION"

fresh_copy
replace_first README.md "customcd/customcd@v$VERSION" "customcd/customcd@v0.1.0"
must_fail "README component: an old version" "component: names 'v0.1.0'"

fresh_copy
replace_first docs/github-action.md "customcd-action@<commit sha> # v$VERSION" "customcd-action@<commit sha> # v0.1.0"
must_fail "docs/github-action.md: a commit pin commented with an old version" "v0.1.0"

fresh_copy
replace_first templates/README.md "customcd/customcd@v$VERSION" "customcd/customcd@<tag>"
must_fail "templates/README.md component: a placeholder" "component: names '<tag>'"

fresh_copy
replace_first templates/customcd.yml "customcd/customcd@v$VERSION" "customcd/customcd@$VERSION"
must_fail "the component's comment: a version without v" "component: names '$VERSION'"

fresh_copy
replace_first docs/ci-systems.md "customcd-action/v$VERSION/templates" "customcd-action/main/templates"
must_fail "docs/ci-systems.md remote include: a branch" "remote include names 'main'"

fresh_copy
replace_first README.md "sha256: '<sha256 of customcd-$VERSION-x86_64" "sha256: '<sha256 of customcd-0.1.0-x86_64"
must_fail "README Jenkins example: an old binary" "names the release binary customcd-0.1.0"

fresh_copy
replace_first docs/releases.md "gh release verify-asset v$VERSION" "gh release verify-asset $MAJOR"
must_fail "docs/releases.md's verify commands: the moving tag, which has no release" "names the release '$MAJOR'"

fresh_copy
replace_first vars/customcdReport.groovy "DEFAULT_VERSION = '$VERSION'" "DEFAULT_VERSION = '0.1.0'"
must_fail "the Jenkins step's default version" "DEFAULT_VERSION: is '0.1.0'"

fresh_copy
replace_first vars/customcdReport.txt "default $VERSION." "default 0.1.0."
must_fail "the Jenkins reference page's default version" "documents the default version 0.1.0"

fresh_copy
replace_first templates/customcd.yml "      default: $VERSION
" "      default: 0.1.0
"
must_fail "the component's default version" "spec.inputs.version.default: is '0.1.0'"

fresh_copy
replace_first action.yml "customcd-action:v$VERSION" "customcd-action:v0.1.0"
must_fail "action.yml's image tag" "names the image tag 'v0.1.0'"

fresh_copy
replace_first action.yml "customcd-action:v$VERSION" "customcd-action@sha256:$(printf '%064d' 7)"
must_pass "action.yml naming its image by digest (a release commit)"

fresh_copy
next_minor=$(python3 -c 'import sys; x, y, _ = sys.argv[1].split("."); print(f"{x}.{int(y) + 1}.0")' "$VERSION")
must_fail "Cargo.toml bumped to $next_minor, the docs left at $VERSION" "a release makes $MAJOR or v$next_minor" "$next_minor"

log "PASS: $VERSION; every wrong version above was caught"
