#!/usr/bin/env bash
# The release's git steps (release.yml runs them; --self-test runs them here against a local
# bare repository standing in for GitHub):
#   commit VERSION DIGEST SUMS URL
#                            in this checkout: rewrite action.yml's image to DIGEST
#                            (ci/pin-image-digest.sh) and setup/checksums.json to the sums in the
#                            SHA256SUMS file SUMS with the release files at URL (setup/pin-sums.js),
#                            require those to be the only changes and the docs to pass
#                            ci/version-check.sh, commit it on top of HEAD as
#                            github-actions[bot], tag it vVERSION (annotated) and push the tag to
#                            origin WITHOUT force: a vVERSION that exists is never moved. Prints
#                            the release commit. No branch is pushed: main keeps its tag form.
#   move-major VERSION COMMIT  fetch vVERSION, require it to point at COMMIT, and move v<major>
#                            there (forced: the one tag that moves).
# usage: ci/release-tag.sh commit X.Y.Z sha256:<digest> SHA256SUMS URL | move-major X.Y.Z <commit> | --self-test
set -euo pipefail
SCRIPT_NAME=release-tag
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
require_tools git
BOT=(-c "user.name=github-actions[bot]" -c "user.email=41898282+github-actions[bot]@users.noreply.github.com")

release_commit() {
  local version=$1 digest=$2 sums=$3 url=$4 changed
  sums=$(realpath "$sums")
  cd "$ROOT"
  [[ -z "$(git status --porcelain --untracked-files=no)" ]] || die "the checkout has changes; a release commit starts from a clean one"
  ! git rev-parse -q --verify "refs/tags/v$version" >/dev/null || die "v$version already exists here"
  bash "$CI_DIR/pin-image-digest.sh" action.yml "$digest" "$version" >&2
  node setup/pin-sums.js "$sums" "$version" "$url" >&2 || die "cannot pin the setup action's sums from $sums"
  changed=$(git diff --name-only | tr '\n' ' ')
  [[ "$changed" == "action.yml setup/checksums.json " ]] || die "the release commit would change [$changed], not only action.yml and setup/checksums.json"
  git diff >&2
  bash "$CI_DIR/version-check.sh" >&2
  git "${BOT[@]}" commit -q -m "Release v$version: action.yml runs its image by digest, $digest; the setup action pins the binaries' sums" action.yml setup/checksums.json
  git "${BOT[@]}" tag -a "v$version" -m "customcd v$version"
  # Not forced: if v$version exists on origin by now, this fails and nothing is moved.
  git push -q origin "refs/tags/v$version" >&2 || die "pushing v$version failed (does it exist already?)"
  git rev-parse HEAD
}

move_major() {
  local version=$1 commit=$2 major
  major="v${version%%.*}"
  cd "$ROOT"
  git fetch -q --no-tags origin "+refs/tags/v$version:refs/tags/v$version"
  [[ "$(git rev-parse "v$version^{commit}")" == "$commit" ]] || die "v$version does not point at $commit"
  git tag -f "$major" "$commit" >/dev/null
  git push -q -f origin "refs/tags/$major"
  log "$major -> $commit"
}

self_test() {
  local work origin clone base version digest commit parent url target
  work=$(make_workdir release-tag)
  # shellcheck disable=SC2064 # expand now: the trap must remove this run's directory
  trap "remove_workdir '$work'" EXIT
  version=$(crate_version)
  digest="sha256:$(printf 'customcd fake image' | sha256sum | cut -d' ' -f1)"
  origin="$work/origin.git"
  clone="$work/clone"
  git init -q --bare "$origin"
  # CI checks out one commit (a shallow clone); the stand-in for GitHub takes shallow pushes.
  git -C "$origin" config receive.shallowUpdate true
  # The committed tree of this checkout, as the release job's checkout would have it.
  git clone -q --no-local "$ROOT" "$clone"
  git -C "$clone" remote set-url origin "$origin"
  git -C "$clone" push -q origin HEAD:refs/heads/main
  base=$(git -C "$clone" rev-parse HEAD)
  # The release's SHA256SUMS: one line per release file, as release.yml writes it.
  url="https://github.com/acme/customcd-action/releases/download/v$version"
  for target in x86_64-unknown-linux-musl aarch64-unknown-linux-musl x86_64-apple-darwin aarch64-apple-darwin x86_64-pc-windows-msvc.exe; do
    printf '%s  %s\n' "$(printf '%s' "$target" | sha256sum | cut -d' ' -f1)" "customcd-$version-$target"
  done >"$work/SHA256SUMS"

  commit=$(bash "$clone/ci/release-tag.sh" commit "$version" "$digest" "$work/SHA256SUMS" "$url" 2>"$work/commit.log") \
    || { cat "$work/commit.log" >&2; die "self-test: the release commit failed"; }
  [[ "$(git -C "$origin" rev-parse "v$version^{commit}")" == "$commit" ]] || die "self-test: origin's v$version is not the release commit"
  parent=$(git -C "$origin" rev-parse "$commit^")
  [[ "$parent" == "$base" ]] || die "self-test: the release commit's parent is $parent, not the built commit $base"
  [[ "$(git -C "$origin" diff --name-only "$base" "$commit" | tr '\n' ' ')" == "action.yml setup/checksums.json " ]] \
    || die "self-test: the release commit changes more than action.yml and setup/checksums.json"
  [[ "$(git -C "$origin" rev-parse refs/heads/main)" == "$base" ]] || die "self-test: main moved"
  git -C "$origin" show "$commit:action.yml" | python3 -c '
import sys, yaml
want = sys.argv[1]
got = yaml.safe_load(sys.stdin)["runs"]["image"]
assert got.endswith("@" + want), f"the tagged action.yml runs {got}"
print(f"[release-tag] self-test ok: the tagged action.yml runs {got}")
' "$digest" || die "self-test: the tagged action.yml does not run the digest"
  git -C "$origin" show "$commit:setup/checksums.json" | python3 -c '
import json, sys
table, sums, url = json.load(sys.stdin), open(sys.argv[1]).read().split("\n"), sys.argv[2]
want = {line.split()[1]: line.split()[0] for line in sums if line}
got = {e["file"]: e["sha256"] for e in table["files"].values()}
assert got == want, f"the tagged setup/checksums.json pins {got}, SHA256SUMS says {want}"
got_url = table["url"]
assert got_url == url, f"the tagged setup/checksums.json downloads from {got_url}"
print(f"[release-tag] self-test ok: the tagged setup/checksums.json pins the {len(got)} sums of SHA256SUMS")
' "$work/SHA256SUMS" "$url" || die "self-test: the tagged setup/checksums.json does not pin SHA256SUMS"
  log "self-test ok: v$version is a new commit on top of main changing only action.yml and setup/checksums.json; main did not move"

  # Run again from main: the tag exists on origin, so the push is refused and nothing moves.
  git -C "$clone" tag -d "v$version" >/dev/null
  git -C "$clone" reset -q --hard "$base"
  if bash "$clone/ci/release-tag.sh" commit "$version" "sha256:$(printf '%064d' 1)" "$work/SHA256SUMS" "$url" >/dev/null 2>"$work/again.log"; then
    die "self-test: a second release of v$version was pushed"
  fi
  [[ "$(git -C "$origin" rev-parse "v$version^{commit}")" == "$commit" ]] || die "self-test: v$version moved"
  log "self-test ok: a second release of v$version is refused ($(grep -m1 -o 'rejected.*\|FAIL.*' "$work/again.log" || true)); the tag did not move"

  git -C "$clone" reset -q --hard "$base"
  bash "$clone/ci/release-tag.sh" move-major "$version" "$commit" 2>"$work/major.log" || { cat "$work/major.log" >&2; die "self-test: moving the major tag failed"; }
  [[ "$(git -C "$origin" rev-parse "v${version%%.*}^{commit}")" == "$commit" ]] || die "self-test: v${version%%.*} is not at the release commit"
  if bash "$clone/ci/release-tag.sh" move-major "$version" "$base" 2>/dev/null; then
    die "self-test: v${version%%.*} was moved to a commit v$version does not point at"
  fi
  log "self-test ok: v${version%%.*} moved to the release commit, and only there"
  log "PASS"
}

case "${1:-}" in
  commit)
    [[ $# -eq 5 ]] || die "usage: ci/release-tag.sh commit X.Y.Z sha256:<digest> SHA256SUMS URL"
    release_commit "$2" "$3" "$4" "$5"
    ;;
  move-major)
    [[ $# -eq 3 ]] || die "usage: ci/release-tag.sh move-major X.Y.Z <commit>"
    move_major "$2" "$3"
    ;;
  --self-test) self_test ;;
  *) die "usage: ci/release-tag.sh commit X.Y.Z sha256:<digest> SHA256SUMS URL | move-major X.Y.Z <commit> | --self-test" ;;
esac
