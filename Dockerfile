# Base images, pinned by digest so a rebuild gets the same toolchain and the
# same root filesystem (and its CA bundle) until the pin is changed in review.
#
# The digests below are PLACEHOLDERS: they were written where no registry
# could be reached to read, let alone verify, the real ones. The build fails
# at once on them ("invalid reference format"). Pin both before building:
# read the index digest of each (`crane digest golang:1.26`, or the Digest:
# line of `docker buildx imagetools inspect golang:1.26`; the same for
# gcr.io/distroless/static:nonroot) and write it as name:tag@sha256:<digest>.
# Override BASE_IMAGE to build from another registry, e.g.
# docker.io/library/golang:1.26@sha256:<digest>.
ARG BASE_IMAGE=golang:1.26@sha256:PLACEHOLDER-pin-the-golang-image-digest
ARG RUNTIME_IMAGE=gcr.io/distroless/static:nonroot@sha256:PLACEHOLDER-pin-the-distroless-image-digest

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
