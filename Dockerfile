# syntax=docker/dockerfile:1
# The shop binary (./cmd/shop), one image for every service: compose runs it as
# `shop <service>` per container. Static (CGO_ENABLED=0) on distroless
# static:nonroot, so the image holds the binary, CA certificates and nothing
# to exec into; cmd/healthcheck gives compose a probe that needs no shell.
#
#   docker build -t otelshop/shop .
#   docker buildx build --platform linux/amd64,linux/arm64 -t otelshop/shop .

ARG GO_VERSION=1.26

# The builder runs on the build host's platform and cross-compiles for the
# target one, which is much faster than emulating arm64.
FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
ARG TARGETOS
ARG TARGETARCH
WORKDIR /src

# Dependencies first: this layer stays cached until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download

COPY . .
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/shop ./cmd/shop && \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/healthcheck ./cmd/healthcheck && \
    mkdir -p /out/shop-secrets

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/shop /usr/local/bin/shop
COPY --from=build /out/healthcheck /usr/local/bin/healthcheck
# The client secrets' mount point, owned by the user the services run as, so a
# named volume mounted there starts out theirs (distroless has no shell to chown).
COPY --from=build --chown=65532:65532 /out/shop-secrets /run/shop-secrets
# 65532 is distroless's nonroot user.
USER 65532:65532
# The admin port (ADMIN_ADDR) every process serves /metrics, /healthz on.
EXPOSE 9464
ENTRYPOINT ["/usr/local/bin/shop"]
CMD ["all"]
