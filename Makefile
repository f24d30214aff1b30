# Image URL to use all building/pushing image targets. The default is the
# release dist/install.yaml and dist/chart point at (config/manager/kustomization.yaml
# records it), so build-installer leaves the tree clean unless IMG is overridden.
IMG ?= ghcr.io/posthog-operator/posthog-operator:v0.1.0
# YEAR defines the year value used for substituting the YEAR placeholder in the boilerplate header.
YEAR ?= 2026

# Get the currently used golang install path (in GOPATH/bin, unless GOBIN is set)
ifeq (,$(shell go env GOBIN))
GOBIN=$(shell go env GOPATH)/bin
else
GOBIN=$(shell go env GOBIN)
endif

# CONTAINER_TOOL defines the container tool to be used for building images.
# Be aware that the target commands are only tested with Docker which is
# scaffolded by default. However, you might want to replace it to use other
# tools. (i.e. podman)
CONTAINER_TOOL ?= docker

# Setting SHELL to bash allows bash commands to be executed by recipes.
# Options are set to exit when a recipe line exits non-zero or a piped command fails.
SHELL = /usr/bin/env bash -o pipefail
.SHELLFLAGS = -ec

.PHONY: all
all: build

##@ General

# The help target prints out all targets with their descriptions organized
# beneath their categories. The categories are represented by '##@' and the
# target descriptions by '##'. The awk command is responsible for reading the
# entire set of makefiles included in this invocation, looking for lines of the
# file as xyz: ## something, and then pretty-format the target and help. Then,
# if there's a line with ##@ something, that gets pretty-printed as a category.
# More info on the usage of ANSI control characters for terminal formatting:
# https://en.wikipedia.org/wiki/ANSI_escape_code#SGR_parameters
# More info on the awk command:
# http://linuxcommand.org/lc3_adv_awk.php

.PHONY: help
help: ## Display this help.
	@awk 'BEGIN {FS = ":.*##"; printf "\nUsage:\n  make \033[36m<target>\033[0m\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-15s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) } ' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: controller-gen ## Generate the CRDs, the ClusterRole and the API reference from the Go types.
	"$(CONTROLLER_GEN)" rbac:roleName=manager-role crd webhook paths="./..." output:crd:artifacts:config=config/crd/bases
	go run ./hack/apidocs config/crd/bases docs/api-reference.md
	@$(MAKE) --no-print-directory helm-chart-crds

.PHONY: docs
docs: manifests ## Regenerate docs/api-reference.md from the CRDs (make manifests does it too).

.PHONY: generate
generate: controller-gen ## Generate code containing DeepCopy, DeepCopyInto, and DeepCopyObject method implementations.
	"$(CONTROLLER_GEN)" object:headerFile="hack/boilerplate.go.txt",year=$(YEAR) paths="./..."

# The tools the operator's module does not need live in modules of their own,
# which ./... does not reach; fmt, vet and lint visit each (golangci-lint finds
# the root's .golangci.yml from there).
NESTED_MODULES = hack/bench hack/image test/alerts

.PHONY: fmt
fmt: ## Run go fmt against code.
	go fmt ./...
	for m in $(NESTED_MODULES); do (cd "$$m" && go fmt ./...) || exit 1; done

.PHONY: vet
vet: ## Run go vet against code.
	go vet ./...
	for m in $(NESTED_MODULES); do (cd "$$m" && go vet ./...) || exit 1; done

# RACE_PACKAGES run under the race detector: the reconcilers and the PostHog
# client are where goroutines share state (workers, the inventory, the rate
# limiter). The other packages run without it: the install, demo and fault
# tests spend their time in processes they start, which -race does not
# instrument, and building them with it would only slow their harnesses.
# test/faults builds the manager it runs with -race itself, and fails on any
# data race a manager reports.
# ./... stops at nested modules, so hack/bench's and test/alerts' tests run
# in their own modules (hack/image, the other one, has no tests).
RACE_PACKAGES = ./internal/controller/... ./internal/posthog/...
.PHONY: test
test: manifests generate fmt vet envtest helm ## Run every test: unit, envtest (real kube-apiserver + etcd), install paths, fuzz seeds.
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" HELM="$(HELM)" go test -race $(RACE_PACKAGES) -count=1 -timeout 30m
	race="$$(go list $(RACE_PACKAGES))"; \
	KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" HELM="$(HELM)" go test $$(go list ./... | grep -vxF "$$race") -count=1 -timeout 30m
	cd hack/bench && go test ./... -count=1
	cd test/alerts && go test ./... -count=1
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(FUZZTIME)

# BENCH_ARGS are passed to hack/bench, e.g. BENCH_ARGS=-quick, or
# BENCH_ARGS='-n 100,1000 -strategies inventory'; `cd hack/bench && go run . -h`
# lists them. hack/bench is a module of its own (its plotting library stays out
# of the operator's go.mod), so it runs from its directory; the paths it takes
# are still relative to the repository root.
BENCH_ARGS ?=
.PHONY: bench
bench: envtest build ## Benchmark bin/manager against PostHog's rate limits (envtest + in-memory PostHog); writes docs/performance.md.
	cd hack/bench && KUBEBUILDER_ASSETS="$(ENVTEST_ASSETS)" go run . $(BENCH_ARGS)

# A count of executions, not a duration: go1.26's fuzz coordinator can fail
# a target with "context deadline exceeded" when a -fuzztime duration ends
# while a worker is mid-run on a busy machine (golang/go#75804, fixed in
# go1.27). A count has no deadline to race; 2000 runs is a few seconds here.
FUZZTIME ?= 2000x
.PHONY: fuzz
fuzz: ## Run each fuzz target briefly beyond its checked-in seed corpus (FUZZTIME per target).
	@for pkg in $$(go list ./...); do \
	  for target in $$(go test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "fuzzing $$target in $$pkg, $(FUZZTIME)"; \
	    go test $$pkg -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) || exit 1; \
	  done; \
	done

.PHONY: lint
lint: golangci-lint ## Run golangci-lint linter
	"$(GOLANGCI_LINT)" run
	for m in $(NESTED_MODULES); do (cd "$$m" && "$(GOLANGCI_LINT)" run) || exit 1; done

.PHONY: lint-fix
lint-fix: golangci-lint ## Run golangci-lint linter and perform fixes
	"$(GOLANGCI_LINT)" run --fix
	for m in $(NESTED_MODULES); do (cd "$$m" && "$(GOLANGCI_LINT)" run --fix) || exit 1; done

.PHONY: lint-config
lint-config: golangci-lint ## Verify golangci-lint linter configuration
	"$(GOLANGCI_LINT)" config verify

##@ Build

.PHONY: build
build: manifests generate fmt vet ## Build the manager and the kubectl plugin (bin/kubectl-posthog).
	go build -o bin/manager ./cmd
	go build -o bin/kubectl-posthog ./cmd/kubectl-posthog

.PHONY: run
run: manifests generate fmt vet ## Run a controller from your host.
	go run ./cmd

# The demo needs no cluster, no PostHog account and no Docker: see hack/demo/demo.sh.
DEMO_ARGS ?=
.PHONY: demo
demo: envtest ## Run the operator locally against a local kube-apiserver and an in-memory PostHog, and exit (DEMO_ARGS=--keep-running keeps it up).
	ENVTEST_ASSETS="$(ENVTEST_ASSETS)" bash hack/demo/demo.sh $(DEMO_ARGS)

.PHONY: demo-keep
# demo-keep runs the script itself rather than a nested make, so Ctrl-C,
# a normal end of a kept-running demo, is not reported as make's failure.
demo-keep: envtest ## Run the demo and keep it running, to try your own manifests (Ctrl-C stops it).
	ENVTEST_ASSETS="$(ENVTEST_ASSETS)" bash hack/demo/demo.sh --keep-running

# If you wish to build the manager image targeting other platforms you can use the --platform flag.
# (i.e. docker build --platform linux/arm64). However, you must enable docker buildKit for it.
# More info: https://docs.docker.com/develop/develop-images/build_enhancements/
# Override BASE_IMAGE to build from another registry, e.g.
# make docker-build IMG=<img> BASE_IMAGE=docker.io/library/golang:1.26
# docker-build needs a Docker engine (a running daemon); `make image` builds the
# same image without one.
.PHONY: docker-build
docker-build: ## Build docker image with the manager (needs a Docker engine; see `make image`).
	$(CONTAINER_TOOL) build $(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE)) -t ${IMG} .

.PHONY: docker-push
docker-push: ## Push docker image with the manager.
	$(CONTAINER_TOOL) push ${IMG}

# PLATFORMS defines the target platforms for the manager image be built to provide support to multiple
# architectures. (i.e. make docker-buildx IMG=myregistry/mypoperator:0.0.1). To use this option you need to:
# - be able to use docker buildx. More info: https://docs.docker.com/build/buildx/
# - have enabled BuildKit. More info: https://docs.docker.com/develop/develop-images/build_enhancements/
# - be able to push the image to your registry (i.e. if you do not set a valid value via IMG=<myregistry/image:<tag>> then the export will fail)
# To adequately provide solutions that are compatible with multiple platforms, you should consider using this option.
PLATFORMS ?= linux/arm64,linux/amd64,linux/s390x,linux/ppc64le
.PHONY: docker-buildx
docker-buildx: ## Build and push docker image for the manager for cross-platform support
	# copy existing Dockerfile and insert --platform=${BUILDPLATFORM} into Dockerfile.cross, and preserve the original Dockerfile
	sed -e '1 s/\(^FROM\)/FROM --platform=\$$\{BUILDPLATFORM\}/; t' -e ' 1,// s//FROM --platform=\$$\{BUILDPLATFORM\}/' Dockerfile > Dockerfile.cross
	- $(CONTAINER_TOOL) buildx create --name posthog-operator-builder
	$(CONTAINER_TOOL) buildx use posthog-operator-builder
	- $(CONTAINER_TOOL) buildx build --push --platform=$(PLATFORMS) $(if $(BASE_IMAGE),--build-arg BASE_IMAGE=$(BASE_IMAGE)) --tag ${IMG} -f Dockerfile.cross .
	- $(CONTAINER_TOOL) buildx rm posthog-operator-builder
	rm Dockerfile.cross

.PHONY: build-installer
build-installer: manifests generate kustomize helm-chart-crds ## Write dist/install.yaml (CRDs, RBAC, Deployment) for IMG.
	mkdir -p dist
	cd config/manager && "$(KUSTOMIZE)" edit set image controller=${IMG}
	"$(KUSTOMIZE)" build config/default > dist/install.yaml

# The chart renders the generated CRDs and manager ClusterRole from verbatim
# copies under dist/chart/files, so they cannot drift from config/.
.PHONY: helm-chart-crds
helm-chart-crds: ## Copy the generated CRDs and RBAC roles into dist/chart/files (make manifests does it too).
	mkdir -p dist/chart/files/crds dist/chart/files/rbac/helpers
	rm -f dist/chart/files/crds/*.yaml dist/chart/files/rbac/helpers/*.yaml
	cp config/crd/bases/*.yaml dist/chart/files/crds/
	cp config/rbac/role.yaml dist/chart/files/rbac/role.yaml
	cp config/rbac/*_admin_role.yaml config/rbac/*_editor_role.yaml config/rbac/*_viewer_role.yaml \
		dist/chart/files/rbac/helpers/

.PHONY: helm-lint
helm-lint: helm helm-chart-crds ## Lint the Helm chart in dist/chart.
	"$(HELM)" lint --strict dist/chart

# The image without a Docker engine: a static linux binary plus
# hack/image (go-containerregistry) writing an archive that is both an OCI
# layout and a `docker save` tar. Load it with `docker load -i`,
# `kind load image-archive` or `ctr images import`.
IMAGE_TARBALL ?= dist/image/posthog-operator.tar
IMAGE_ARCH ?= amd64
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)
.PHONY: image
image: ## Build the manager image for IMG into IMAGE_TARBALL without a Docker engine.
	mkdir -p "$(dir $(IMAGE_TARBALL))"
	CGO_ENABLED=0 GOOS=linux GOARCH=$(IMAGE_ARCH) go build -trimpath -ldflags="-s -w" \
		-o "$(dir $(IMAGE_TARBALL))manager" ./cmd
	cd hack/image && SOURCE_DATE_EPOCH="$(SOURCE_DATE_EPOCH)" go run . \
		--binary "$(abspath $(dir $(IMAGE_TARBALL))manager)" --arch $(IMAGE_ARCH) \
		--image "$(IMG)" --output "$(abspath $(IMAGE_TARBALL))" \
		$(if $(shell git rev-parse HEAD 2>/dev/null),--label org.opencontainers.image.revision=$(shell git rev-parse HEAD))

##@ Deployment

ifndef ignore-not-found
  ignore-not-found = false
endif

.PHONY: install
install: manifests kustomize ## Install CRDs into the K8s cluster specified in ~/.kube/config.
	@out="$$( "$(KUSTOMIZE)" build config/crd 2>/dev/null || true )"; \
	if [ -n "$$out" ]; then echo "$$out" | "$(KUBECTL)" apply -f -; else echo "No CRDs to install; skipping."; fi

.PHONY: uninstall
uninstall: manifests kustomize ## Uninstall CRDs from the K8s cluster specified in ~/.kube/config. Call with ignore-not-found=true to ignore resource not found errors during deletion.
	@out="$$( "$(KUSTOMIZE)" build config/crd 2>/dev/null || true )"; \
	if [ -n "$$out" ]; then echo "$$out" | "$(KUBECTL)" delete --ignore-not-found=$(ignore-not-found) -f -; else echo "No CRDs to delete; skipping."; fi

.PHONY: deploy
deploy: manifests kustomize ## Deploy controller to the K8s cluster specified in ~/.kube/config.
	cd config/manager && "$(KUSTOMIZE)" edit set image controller=${IMG}
	"$(KUSTOMIZE)" build config/default | "$(KUBECTL)" apply -f -

.PHONY: undeploy
undeploy: kustomize ## Undeploy controller from the K8s cluster specified in ~/.kube/config. Call with ignore-not-found=true to ignore resource not found errors during deletion.
	"$(KUSTOMIZE)" build config/default | "$(KUBECTL)" delete --ignore-not-found=$(ignore-not-found) -f -

##@ Dependencies

## Location to install dependencies to
LOCALBIN ?= $(shell pwd)/bin
$(LOCALBIN):
	mkdir -p "$(LOCALBIN)"

## Tool Binaries
KUBECTL ?= $(ENVTEST_ASSETS)/kubectl
KUSTOMIZE ?= $(LOCALBIN)/kustomize
CONTROLLER_GEN ?= $(LOCALBIN)/controller-gen
GOLANGCI_LINT = $(LOCALBIN)/golangci-lint

## Tool Versions
KUSTOMIZE_VERSION ?= v5.8.1
CONTROLLER_TOOLS_VERSION ?= v0.23.0

# The control plane tests run against, built from the Go module proxy by
# hack/envtest (no download bucket or container registry is reachable here).
ENVTEST_K8S_VERSION ?= 1.37.2
ENVTEST_ASSETS ?= $(if $(KUBEBUILDER_ASSETS),$(KUBEBUILDER_ASSETS),$(LOCALBIN)/k8s/$(ENVTEST_K8S_VERSION)-linux-amd64)
HELM ?= $(LOCALBIN)/helm
HELM_VERSION ?= v3.22.0

GOLANGCI_LINT_VERSION ?= v2.15.0
.PHONY: kustomize
kustomize: $(KUSTOMIZE) ## Download kustomize locally if necessary.
$(KUSTOMIZE): $(LOCALBIN)
	$(call go-install-tool,$(KUSTOMIZE),sigs.k8s.io/kustomize/kustomize/v5,$(KUSTOMIZE_VERSION))

.PHONY: controller-gen
controller-gen: $(CONTROLLER_GEN) ## Download controller-gen locally if necessary.
$(CONTROLLER_GEN): $(LOCALBIN)
	$(call go-install-tool,$(CONTROLLER_GEN),sigs.k8s.io/controller-tools/cmd/controller-gen,$(CONTROLLER_TOOLS_VERSION))

.PHONY: envtest
envtest: ## Build kube-apiserver, etcd, kubectl and kube-controller-manager into bin/k8s (once; KUBEBUILDER_ASSETS wins).
	@if [ -n "$(KUBEBUILDER_ASSETS)" ]; then echo "using KUBEBUILDER_ASSETS=$(KUBEBUILDER_ASSETS)"; \
	else bash hack/envtest/build.sh "$(ENVTEST_ASSETS)"; fi

.PHONY: helm
helm: $(HELM) ## Build helm into bin/ if necessary.
$(HELM): $(LOCALBIN)
	$(call go-install-tool,$(HELM),helm.sh/helm/v3/cmd/helm,$(HELM_VERSION))

.PHONY: golangci-lint
golangci-lint: $(GOLANGCI_LINT) ## Download golangci-lint locally if necessary.
$(GOLANGCI_LINT): $(LOCALBIN)
	$(call go-install-tool,$(GOLANGCI_LINT),github.com/golangci/golangci-lint/v2/cmd/golangci-lint,$(GOLANGCI_LINT_VERSION))

# go-install-tool will 'go install' any package with custom target and name of binary, if it doesn't exist
# $1 - target path with name of binary
# $2 - package url which can be installed
# $3 - specific version of package
define go-install-tool
@[ -f "$(1)-$(3)" ] && [ "$$(readlink -- "$(1)" 2>/dev/null)" = "$(1)-$(3)" ] || { \
set -e; \
package=$(2)@$(3) ;\
echo "Downloading $${package}" ;\
rm -f "$(1)" ;\
GOBIN="$(LOCALBIN)" go install $${package} ;\
mv "$(LOCALBIN)/$$(basename "$(1)")" "$(1)-$(3)" ;\
} ;\
ln -sf "$$(realpath "$(1)-$(3)")" "$(1)"
endef

define gomodver
$(shell go list -m -f '{{if .Replace}}{{.Replace.Version}}{{else}}{{.Version}}{{end}}' $(1) 2>/dev/null)
endef
