#!/usr/bin/env bash
# Builds kube-apiserver, etcd, kubectl and kube-controller-manager from the Go
# module proxy into DEST (the directory layout setup-envtest uses, so
# `setup-envtest use -i` finds them too). Idempotent: a binary already present
# is not rebuilt. Called by `make envtest`.
set -euo pipefail

DEST=${1:?usage: build.sh DEST}
mkdir -p "$DEST"
DEST=$(cd "$DEST" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
cd "$here"

k8s_version=$(go list -m -f '{{.Version}}' k8s.io/kubernetes)       # e.g. v1.37.2
etcd_version=$(go list -m -f '{{.Version}}' go.etcd.io/etcd/server/v3)
minor=$(echo "$k8s_version" | cut -d. -f2)

# The version strings kubernetes' own build stamps in, so `kubectl version` and
# the API server's /version report the real release instead of v0.0.0.
ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$minor"
  ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

build() { # build NAME PACKAGE
  local name=$1 pkg=$2
  if [[ -x "$DEST/$name" ]]; then return; fi
  echo "building $name ($pkg) into $DEST"
  CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$DEST/$name.tmp" "$pkg"
  mv "$DEST/$name.tmp" "$DEST/$name"
}

build etcd go.etcd.io/etcd/server/v3
build kube-apiserver k8s.io/kubernetes/cmd/kube-apiserver
build kubectl k8s.io/kubernetes/cmd/kubectl
build kube-controller-manager k8s.io/kubernetes/cmd/kube-controller-manager
echo "control plane $k8s_version (etcd $etcd_version) ready in $DEST"
