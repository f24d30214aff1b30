# Build the manager binary
# Override BASE_IMAGE to build from another registry, e.g. docker.io/library/golang:1.26
ARG BASE_IMAGE=golang:1.26
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

# distroless static:nonroot: CA certificates and a nonroot user, no shell or
# package manager. https://github.com/GoogleContainerTools/distroless
FROM gcr.io/distroless/static:nonroot
WORKDIR /
COPY --from=builder /workspace/manager /manager
# Numeric, so the kubelet can verify runAsNonRoot without /etc/passwd.
USER 65532:65532

ENTRYPOINT ["/manager"]
