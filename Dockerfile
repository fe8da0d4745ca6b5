# syntax=docker/dockerfile:1
#
# pnstream's container image: `make image`, or
#   docker build -t registry.example.com/pnstream/pnstream:0.1.0 .
#
# One image holds every command (ingest, recorder, console, pnctl, pnsim) under
# /usr/local/bin; a pod picks one with `command:`. The commands share almost
# all their code and dependencies, are always released together, and the
# provisioning Job runs the recorder's binary: one image is one build, one
# scan, one signature and one tag to pin, and no version skew between the
# Deployments and the Job.
#
# The binaries are static (CGO_ENABLED=0) and run on distroless/static: no
# shell, no package manager, CA certificates and time zone data included,
# user 65532 (nonroot). The Kubernetes manifests run it with a read-only
# root file system.

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Dependencies first: this layer is reused until go.mod or go.sum change.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS
ARG TARGETARCH
RUN --mount=type=cache,target=/go/pkg/mod \
    --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -ldflags="-s -w" -o /out/ \
        ./cmd/ingest ./cmd/recorder ./cmd/pnctl ./cmd/pnsim ./cmd/console

FROM gcr.io/distroless/static-debian12:nonroot
LABEL org.opencontainers.image.title="pnstream" \
      org.opencontainers.image.description="Huawei Cloud Private Number pushes into ClickHouse and a recording archive in S3" \
      org.opencontainers.image.source="https://github.com/pnstream/pnstream"
COPY --from=build /out/ /usr/local/bin/
USER 65532:65532
# ingest (PN_INGEST_ADDR), the recorder's admin port (PN_RECORDER_ADMIN_ADDR) and the console (PN_CONSOLE_ADDR).
EXPOSE 8080 8081 8090
ENTRYPOINT ["/usr/local/bin/ingest"]
