# Base images, pinned by digest so a rebuild gets the same toolchain and the
# same root filesystem (and its CA bundle) until the pin is changed in review.
# Both are multi-platform index digests, so buildx picks each --platform's
# image from them:
#   - golang:1.26 (Go 1.26.5), as docker-library's repo-info lists it
#     (repos/golang/remote/1.26.md: "docker pull golang@sha256:3aff…");
#   - gcr.io/distroless/static:nonroot, the index digest multi-platform builds
#     pin for that tag.
# They were written where no registry could be reached, so `docker build` is
# the first to check them. To move a pin, read the new index digest
# (`crane digest golang:1.26`, or the Digest: line of `docker buildx
# imagetools inspect`) and write it as name:tag@sha256:<digest>. Override
# BASE_IMAGE to build from a mirror, e.g.
# docker.io/library/golang:1.26@sha256:<digest>.
ARG BASE_IMAGE=golang:1.26@sha256:3aff6657219a4d9c14e27fb1d8976c49c29fddb70ba835014f477e1c70636647
ARG RUNTIME_IMAGE=gcr.io/distroless/static:nonroot@sha256:f7f8f729987ad0fdf6b05eeeae94b26e6a0f613bdf46feea7fc40f7bd72953e6

# Build the manager binary
FROM ${BASE_IMAGE} AS builder
ARG TARGETOS
ARG TARGETARCH

WORKDIR /workspace
# Copy the Go Modules manifests
COPY go.mod go.mod
COPY go.sum go.sum
# cache deps before building and copying source so that we don't need to re-download as much
# and so that source changes don't invalidate our downloaded layer
RUN go mod download

# Copy the Go source (relies on .dockerignore to filter)
COPY . .

# CGO_ENABLED=0: the distroless static base has no libc. GOARCH has no default
# so the binary matches the platform buildx builds for (--platform).
# -trimpath and -ldflags "-s -w" match `make image`, so both builds ship the same binary.
RUN CGO_ENABLED=0 GOOS=${TARGETOS:-linux} GOARCH=${TARGETARCH} \
    go build -trimpath -ldflags="-s -w" -o manager ./cmd

# The SBOM of the manager: the Go version, the modules it was built from
# (with their go.sum hashes) and the build settings, as the toolchain
# recorded them in the binary. (`make image` writes the same facts as
# CycloneDX, with hack/image, which .dockerignore keeps out of this build.)
RUN go version -m manager > manager.buildinfo.txt

# distroless static:nonroot: CA certificates and a nonroot user, no shell or
# package manager. https://github.com/GoogleContainerTools/distroless
FROM ${RUNTIME_IMAGE}
WORKDIR /
COPY --from=builder /workspace/manager /manager
COPY --from=builder /workspace/manager.buildinfo.txt /sbom/manager.buildinfo.txt
# Numeric, so the kubelet can verify runAsNonRoot without /etc/passwd.
USER 65532:65532

ENTRYPOINT ["/manager"]
