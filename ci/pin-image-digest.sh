#!/usr/bin/env bash
# Names the action's image by digest: rewrites action.yml's one line
#   image: docker://ghcr.io/<owner>/customcd-action:vX.Y.Z
# to
#   image: docker://ghcr.io/<owner>/customcd-action@sha256:<digest> # vX.Y.Z
# so that a commit of a release pins the exact image bytes. release.yml runs it on the release
# commit with the digest it just pushed. It refuses (exit 1, file untouched) unless that line is
# exactly this shape, names vVERSION, and is what a YAML parser reads as runs.image; afterwards
# it parses the result and requires runs.image to be the digest reference and every other value
# of the file to be unchanged. The file is replaced by rename, never half-written.
#
# usage: ci/pin-image-digest.sh ACTION_YML sha256:<64 hex> X.Y.Z
#        ci/pin-image-digest.sh --self-test   (on temporary copies of this checkout's action.yml)
set -euo pipefail
SCRIPT_NAME=pin-image-digest
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
require_tools python3
python3 -c 'import yaml' 2>/dev/null || die "python3 cannot import yaml (PyYAML; run ci/install-tools.sh)"

# pin FILE DIGEST VERSION: the rewrite itself (Python: one precise line, checked by the parser).
pin() {
  python3 - "$@" <<'PY'
import os, re, sys, tempfile
import yaml

path, digest, version = sys.argv[1:4]
def refuse(why):
    sys.exit(f"{path}: refused: {why}")

if not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
    refuse(f"the digest {digest!r} is not sha256:<64 lowercase hex digits>")
if not re.fullmatch(r"\d+\.\d+\.\d+", version):
    refuse(f"the version {version!r} is not X.Y.Z")
with open(path, encoding="utf-8", newline="") as f:
    text = f.read()
before = yaml.safe_load(text)

# The one line to rewrite: two spaces (under runs:), the tag this version's release publishes.
shape = re.compile(r"^  image: (docker://ghcr\.io/[a-z0-9][a-z0-9-]*/customcd-action):(v\d+\.\d+\.\d+)$", re.M)
lines = [m for m in shape.finditer(text)]
if len(lines) != 1:
    other = re.findall(r"^\s*image:.*$", text, re.M)
    refuse(f"expected one line `  image: docker://ghcr.io/<owner>/customcd-action:vX.Y.Z`, found {len(lines)}"
           + (f" (image lines: {other})" if other else ""))
m = lines[0]
runs = (before or {}).get("runs") or {}
if runs.get("image") != f"{m.group(1)}:{m.group(2)}":
    refuse(f"the line {m.group(0).strip()!r} is not what YAML reads as runs.image ({runs.get('image')!r})")
if m.group(2) != f"v{version}":
    refuse(f"runs.image names {m.group(2)}, not v{version}: this is not the release of {version}")

pinned = f"{m.group(1)}@{digest}"
after_text = text[: m.start()] + f"  image: {pinned} # v{version}" + text[m.end():]
after = yaml.safe_load(after_text)
if (after.get("runs") or {}).get("image") != pinned:
    refuse(f"after the rewrite YAML reads runs.image as {(after.get('runs') or {}).get('image')!r}")
after["runs"]["image"] = runs["image"]
if after != before:
    refuse("the rewrite changed more than runs.image")

# Replace by rename: a new file beside it, same mode.
d = os.path.dirname(os.path.abspath(path))
fd, tmp = tempfile.mkstemp(dir=d, prefix=".action.yml.")
try:
    with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
        f.write(after_text)
    os.chmod(tmp, os.stat(path).st_mode & 0o777)
    os.replace(tmp, path)
except BaseException:
    os.unlink(tmp)
    raise
print(pinned)
PY
}

if [[ "${1:-}" != --self-test ]]; then
  [[ $# -eq 3 ]] || die "usage: ci/pin-image-digest.sh ACTION_YML sha256:<digest> X.Y.Z | --self-test"
  pin "$@" || die "action.yml was not changed"
  exit 0
fi

# --- self-test ---------------------------------------------------------------------------------
WORK=$(make_workdir pin-image-digest)
trap 'remove_workdir "$WORK"' EXIT
VERSION=$(crate_version)
IMAGE=$(action_image)
FAKE="sha256:$(printf 'customcd fake image' | sha256sum | cut -d' ' -f1)"
copy="$WORK/action.yml"

cp "$ROOT/action.yml" "$copy"
log "pinning a copy of action.yml ($IMAGE) to the fake digest $FAKE"
pin "$copy" "$FAKE" "$VERSION" >/dev/null || die "self-test: the rewrite of an unchanged copy failed"
want="docker://${IMAGE%:*}@$FAKE"
python3 - "$copy" "$want" "v$VERSION" <<'PY' || die "self-test: the pinned copy is not right"
import sys, yaml
path, want, tag = sys.argv[1:4]
doc = yaml.safe_load(open(path, encoding="utf-8"))
got = doc["runs"]["image"]
assert got == want, f"runs.image is {got!r}, want {want!r}"
line = [l for l in open(path, encoding="utf-8") if l.startswith("  image: ")]
assert line == [f"  image: {want} # {tag}\n"], line
print(f"[pin-image-digest] the copy parses; runs.image = {got}; the line keeps the comment # {tag}")
PY
changed=$(diff "$ROOT/action.yml" "$copy" | grep -c '^[<>]' || true)
[[ "$changed" == 2 ]] || { diff "$ROOT/action.yml" "$copy" >&2 || true; die "self-test: the rewrite changed $changed lines, want one line out and one in"; }
log "self-test ok: exactly one line changed"
diff "$ROOT/action.yml" "$copy" | sed -n 's/^/  /p' >&2 || true
if have check-jsonschema; then
  check-jsonschema --builtin-schema vendor.github-actions "$copy" >/dev/null \
    || die "self-test: the pinned copy fails the github-actions schema"
  log "self-test ok: the pinned copy passes the github-actions schema"
fi
python3 "$CI_DIR/version-check.py" --root "$ROOT" --version "$VERSION" >/dev/null \
  || die "self-test: ci/version-check.py fails on the checkout"

# Each of these must be refused and leave the file as it was.
must_refuse() { # must_refuse NAME EXPECTED_MESSAGE FILE DIGEST VERSION
  local name=$1 msg=$2 file=$3
  shift 3
  local sum_before
  sum_before=$(sha256sum "$file")
  if pin "$file" "$@" >"$WORK/out" 2>&1; then die "self-test $name: the rewrite ran, want a refusal"; fi
  grep -qF -- "$msg" "$WORK/out" || { cat "$WORK/out" >&2; die "self-test $name: no message containing: $msg"; }
  [[ "$(sha256sum "$file")" == "$sum_before" ]] || die "self-test $name: the file changed although the rewrite was refused"
  log "self-test ok: $name is refused ($(tail -n1 "$WORK/out"))"
}
must_refuse "an action.yml already pinned" "found 0" "$copy" "$FAKE" "$VERSION"
cp "$ROOT/action.yml" "$copy"
must_refuse "another version's action.yml" "not v9.9.9" "$copy" "$FAKE" 9.9.9
must_refuse "a digest that is not sha256:<64 hex>" "is not sha256" "$copy" "sha256:${FAKE#sha256:}0" "$VERSION"
must_refuse "a tag for a digest" "is not sha256" "$copy" "v$VERSION" "$VERSION"
printf '  # a second image line\n  image: %s\n' "docker://$IMAGE" >>"$copy"
must_refuse "two image lines" "found 2" "$copy" "$FAKE" "$VERSION"
python3 - "$ROOT/action.yml" "$copy" <<'PY'
import sys
src, out = sys.argv[1:3]
text = open(src, encoding="utf-8").read()
# The same value, quoted: YAML reads it alike, but it is not the one expected shape.
line = next(l for l in text.splitlines() if l.startswith("  image: "))
open(out, "w", encoding="utf-8").write(text.replace(line, line.replace("image: ", 'image: "', 1) + '"', 1))
PY
must_refuse "a quoted image line" "found 0" "$copy" "$FAKE" "$VERSION"
log "PASS"
