# customcd container image: one static binary in an otherwise empty image.
#
# Stages:
#   builder          rust:alpine, builds a static musl binary for the platform it runs on
#                    (x86_64-unknown-linux-musl or aarch64-unknown-linux-musl).
#   artifact         just that binary, for `--target artifact --output type=local,dest=DIR`.
#   runtime-prebuilt the image from binaries built earlier (the release workflow):
#                    dist/<TARGETARCH>/customcd, so the image holds the released bytes.
#   runtime-local    the image from a binary built on this machine with
#                    RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" \
#                      cargo build --release --target x86_64-unknown-linux-gnu
#                    (no image is pulled for this stage).
#   runtime          the default (last) stage: the builder's binary.
#
# Every runtime stage holds /customcd plus three symlinks to it, /customcd-start,
# /customcd-report and /customcd-post (docker/links/): the binary dispatches on the name it was
# run as, so the GitHub Action's pre-entrypoint, entrypoint and post-entrypoint each name a
# subcommand without `args:` (which the runner would pass to every stage).
# TLS uses Mozilla's roots compiled into the binary (webpki-root-certs), so no CA bundle is needed.
# No USER (GitHub runs Docker actions as root) and no WORKDIR (the runner sets it).

ARG RUST_VERSION=1.89

FROM rust:${RUST_VERSION}-alpine AS builder
# musl-dev: crt objects and libc.a for static linking; ring compiles a little C.
# hadolint ignore=DL3018
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
RUN set -eu; \
    target="$(uname -m)-unknown-linux-musl"; \
    rustup target add "$target"; \
    RUSTFLAGS="-C target-feature=+crt-static -C relocation-model=static" cargo build --release --locked --target "$target"; \
    mkdir -p /out; \
    cp "target/$target/release/customcd" /out/customcd; \
    /out/customcd --version

FROM scratch AS artifact
COPY --from=builder /out/customcd /customcd

FROM scratch AS runtime-prebuilt
ARG TARGETARCH
COPY docker/links/ /
COPY dist/${TARGETARCH}/customcd /customcd
ENTRYPOINT ["/customcd"]

FROM scratch AS runtime-local
COPY docker/links/ /
COPY target/x86_64-unknown-linux-gnu/release/customcd /customcd
ENTRYPOINT ["/customcd"]

FROM scratch AS runtime
COPY docker/links/ /
COPY --from=builder /out/customcd /customcd
ENTRYPOINT ["/customcd"]
