#!/usr/bin/env bash
# Compile-check for macOS: `cargo clippy --target aarch64-apple-darwin -- -D warnings` type-checks
# and lints customcd's own code for Darwin (the Unix side of src/fs, rustix for Darwin) on this
# Linux machine. Nothing is linked or run: macOS binaries are built and run only by the release
# workflow on GitHub's macOS runners (docs/platforms.md).
#
# The one obstacle is ring's build script, which compiles ring's C for the target even for a check:
# there is no Apple SDK here, so clang compiles it freestanding (-ffreestanding -nostdlibinc, with
# clang's own stdint.h/stddef.h) against three stand-in headers made below (an empty
# TargetConditionals.h, assert.h, string.h declarations). Those objects are never linked into
# anything; they only let the build script finish so that rustc can check customcd.
# usage: ci/check-macos.sh   (installs clang with apt-get and the Rust target with rustup if missing)
set -euo pipefail
SCRIPT_NAME=check-macos
# shellcheck source=ci/lib.sh
source "$(dirname "$0")/lib.sh"
TARGET=aarch64-apple-darwin

if ! have clang; then
  log "apt-get install clang"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends clang >/dev/null
fi
rustup target list --installed 2>/dev/null | grep -qx "$TARGET" || rustup target add "$TARGET"

inc=$(make_workdir check-macos)
trap 'remove_workdir "$inc"' EXIT
: >"$inc/TargetConditionals.h"
printf '#define assert(x) ((void)0)\n' >"$inc/assert.h"
cat >"$inc/string.h" <<'EOF'
#include <stddef.h>
void *memcpy(void *, const void *, size_t);
void *memmove(void *, const void *, size_t);
void *memset(void *, int, size_t);
int memcmp(const void *, const void *, size_t);
EOF

export CC_aarch64_apple_darwin=clang
export CFLAGS_aarch64_apple_darwin="-ffreestanding -nostdlibinc -I$inc"
(cd "$ROOT" && cargo clippy --locked --target "$TARGET" -- -D warnings) || die "customcd does not check cleanly for $TARGET"
log "customcd type-checks and lints cleanly for $TARGET (not linked, not run)"
