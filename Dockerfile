# syntax=docker/dockerfile:1
# nodewatch's container image: `nodewatch run` as a non-root user on a
# distroless base (glibc and CA certificates, no shell, no package manager).
#
#   docker build -t registry.example.org/nodewatch:0.1.0 .
#
# Not built by CI here (the test machines have no Docker engine);
# tests/deploy/image.rs checks this file's structure against the manifests
# in deploy/ instead.

# Build stage. Debian 12 (bookworm), as the runtime base, so the binary
# links against the same glibc. At least the crate's rust-version.
ARG RUST_VERSION=1.95
FROM docker.io/library/rust:${RUST_VERSION}-bookworm AS build
WORKDIR /src
COPY . .
# The registry and target caches only speed up rebuilds (BuildKit); the
# binary is copied out of the cache mount before the step ends.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin nodewatch \
    && install -m 0755 target/release/nodewatch /nodewatch

# Runtime stage. `nonroot` is UID/GID 65532, which the Deployment also
# sets (runAsUser/runAsGroup), numerically so the kubelet can verify
# runAsNonRoot.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /nodewatch /usr/local/bin/nodewatch
USER 65532:65532
EXPOSE 8080
# The Deployment's args are `nodewatch run` flags. Other subcommands:
#   kubectl -n nodewatch exec deploy/nodewatch -- /usr/local/bin/nodewatch check /etc/nodewatch/rules
ENTRYPOINT ["/usr/local/bin/nodewatch", "run"]
