#!/usr/bin/env bash
# The posthog-operator demo: the operator's real job on your machine, with no
# cluster and no PostHog account. `make demo` runs it; read along to learn
# the commands.
#
# It starts, each as a separate process:
#   - a local kube-apiserver + etcd (the `make envtest` binaries, run by
#     `democtl controlplane`, see hack/demo/democtl),
#   - the in-memory PostHog (cmd/inmemory-posthog: TEST ONLY, seeded with an
#     organization, the roles Engineering, Support and Admins, and an admin's
#     API key),
#   - the operator itself (bin/manager, as it runs in a cluster, told the
#     namespace it would run in and the PostHog origin its keys may go to),
# then does what a platform team does, with kubectl and config/samples/: the
# API key's Secret in the operator's namespace, one ClusterPostHogConnection
# allowing the namespaces labelled posthog-operator.io/mappings=allowed, and
# a team's RoleExternalReferences in such a namespace, after showing what
# they will do to PostHog (`kubectl posthog plan`). It waits for them to
# become Ready, shows what PostHog now holds, exports it as manifests with
# the kubectl plugin (`kubectl posthog export`), maps a team by hand in
# PostHog (as someone would in its UI) and shows the connection's
# authoritative mode listing it in a dry run (spec.prune, mode DryRun),
# deletes two references (one with deletionPolicy Delete, one with Orphan)
# and shows the effect in PostHog.
# Every process it started is stopped, and its temporary directory removed,
# when it exits: on success, on failure and on Ctrl-C.
#
# Usage: hack/demo/demo.sh [--keep-running]
#   --keep-running  leave everything up after the demo (even a failed one) and
#                   print the commands to try your own manifests against it
#                   (KUBECONFIG and KUBECACHEDIR, the PostHog URL and API key);
#                   Ctrl-C stops everything and exits 0 after a demo that
#                   succeeded (1 after one that failed).
# It needs bash, go, curl and diff (and the usual grep, sed, awk, pgrep).
# Environment:
#   ENVTEST_ASSETS   directory with kube-apiserver, etcd and kubectl
#                    (default: $KUBEBUILDER_ASSETS, else bin/k8s/1.37.2-linux-amd64)
#   DEMO_TIMEOUT     seconds to wait for each step to converge (default 60)
#   NO_COLOR         set to disable colours
set -Eeuo pipefail

CALLER_DIR=$PWD
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
ROOT=$PWD

KEEP_RUNNING=false
for arg in "$@"; do
  case $arg in
    --keep-running) KEEP_RUNNING=true ;;
    -h | --help) sed -n '2,/^set -Eeuo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "demo.sh: unknown argument '$arg' (try --help)" >&2; exit 2 ;;
  esac
done

ASSETS=${ENVTEST_ASSETS:-${KUBEBUILDER_ASSETS:-$ROOT/bin/k8s/1.37.2-linux-amd64}}
[[ $ASSETS == /* ]] || ASSETS=$CALLER_DIR/$ASSETS
TIMEOUT=${DEMO_TIMEOUT:-60}
# The operator's namespace, where the platform team keeps the API key (the
# manager's --cluster-resource-namespace; in a cluster, the one it runs in),
# and the team's namespace, which the ClusterPostHogConnection allows by the
# label its sample selects.
OPERATOR_NAMESPACE=posthog-operator-system
NAMESPACE=posthog-demo
ALLOWED_LABEL=posthog-operator.io/mappings=allowed
# The in-memory PostHog's key for its seeded admin. Public on purpose: that
# server holds nothing real. Set explicitly so that a real POSTHOG_API_KEY in
# your environment never ends up in the demo.
DEMO_API_KEY=phx_demo_inmemory_posthog_not_a_secret
# --- output -----------------------------------------------------------------
if [[ -t 1 && -z ${NO_COLOR:-} ]]; then
  BOLD=$'\e[1m' DIM=$'\e[2m' GREEN=$'\e[32m' RED=$'\e[31m' CYAN=$'\e[36m' RESET=$'\e[0m'
else
  BOLD='' DIM='' GREEN='' RED='' CYAN='' RESET=''
fi
STEP=0
STEPS=10
step() { STEP=$((STEP + 1)); printf '\n%s==> [%d/%d] %s%s\n' "$BOLD$CYAN" "$STEP" "$STEPS" "$*" "$RESET"; }
info() { printf '    %s\n' "$*"; }
ok() { printf '    %s✔%s %s\n' "$GREEN" "$RESET" "$*"; }
# show prints a command the way you would type it.
show() { printf '%s$ %s%s\n' "$DIM" "$*" "$RESET"; }
# run shows a command, then runs it.
run() { show "$*"; "$@"; }
elapsed() { echo "$((SECONDS - ${1:-0}))s"; }

# --- processes and cleanup ---------------------------------------------------
DEMO_DIR=$(mktemp -d "${TMPDIR:-/tmp}/posthog-demo.XXXXXX")
CONTROLPLANE_PID='' POSTHOG_PID='' MANAGER_PID='' WATCHDOG_PID=''
CONTROLPLANE_CHILDREN=() # kube-apiserver and etcd, started by the control plane
CLEANED_UP=false
CLUSTER_UP=false # the demo's own kube-apiserver answers (so die may show its objects)

# stop_process NAME PID: SIGTERM, then SIGKILL if it is still up after 30s.
stop_process() {
  local name=$1 pid=$2
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    echo "    $name (pid $pid) did not stop on SIGTERM; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

cleanup() {
  local status=$?
  trap - EXIT INT TERM
  $CLEANED_UP && exit "$status"
  CLEANED_UP=true
  [[ -z $WATCHDOG_PID ]] || { kill "$WATCHDOG_PID" 2>/dev/null; wait "$WATCHDOG_PID" 2>/dev/null || true; }
  printf '\n%sCleaning up%s\n' "$BOLD" "$RESET"
  stop_process manager "$MANAGER_PID"
  stop_process "in-memory PostHog" "$POSTHOG_PID"
  stop_process "control plane" "$CONTROLPLANE_PID"
  # The control plane stops kube-apiserver and etcd itself; make sure.
  local pid
  for pid in "${CONTROLPLANE_CHILDREN[@]}"; do
    if kill -0 "$pid" 2>/dev/null && grep -qaE 'kube-apiserver|etcd' "/proc/$pid/cmdline" 2>/dev/null; then
      echo "    kube-apiserver/etcd (pid $pid) outlived the control plane; killing it" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
  done
  rm -rf "$DEMO_DIR"
  info "stopped: manager${MANAGER_PID:+ (pid $MANAGER_PID)}, in-memory PostHog${POSTHOG_PID:+ (pid $POSTHOG_PID)}," \
    "control plane${CONTROLPLANE_PID:+ (pid $CONTROLPLANE_PID)} with kube-apiserver and etcd" \
    "${CONTROLPLANE_CHILDREN[*]:+(pids ${CONTROLPLANE_CHILDREN[*]})}"
  info "removed $DEMO_DIR"
  exit "$status"
}
trap cleanup EXIT

# started PID: remember a process this script started. If the script itself is
# killed outright (SIGKILL runs no trap), a watchdog stops them and removes
# the temporary directory; otherwise cleanup does, and stops the watchdog first.
started() { echo "$1" >>"$DEMO_DIR/pids"; }
(
  trap - ERR
  set +e
  while kill -0 $$ 2>/dev/null; do sleep 1; done
  pids=$(cat "$DEMO_DIR/pids" 2>/dev/null)
  [[ -n $pids ]] && kill -TERM $pids
  for _ in $(seq 60); do # the control plane needs a few seconds to stop kube-apiserver and etcd
    kill -0 $pids 2>/dev/null || break
    sleep 1
  done
  rm -rf "$DEMO_DIR"
) >/dev/null 2>&1 &
WATCHDOG_PID=$!
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_for_ctrl_c waits until Ctrl-C, or until a component dies. After a demo
# that succeeded, Ctrl-C is how a user ends it: exit 0 (the cleanup runs on
# exit). After one that failed, it stays a failure.
wait_for_ctrl_c() {
  local status=$1
  # shellcheck disable=SC2064 # $status now, not when the trap runs
  trap "printf '\n%s\n' 'Ctrl-C: stopping the demo.'; exit $status" INT
  while kill -0 "$CONTROLPLANE_PID" 2>/dev/null && kill -0 "$POSTHOG_PID" 2>/dev/null \
    && kill -0 "$MANAGER_PID" 2>/dev/null; do
    sleep 1
  done
  echo "${RED}A component exited on its own; stopping.${RESET}" >&2
  return 1
}

# print_try_it_yourself: what --keep-running leaves up, and how to use it.
# Every command it prints uses the demo's own kubeconfig and kubectl cache
# (KUBECACHEDIR, in the demo's directory, removed with it), never ~/.kube.
print_try_it_yourself() {
  printf '\n%s==> Still running (--keep-running). Try your own manifests, from another shell:%s\n' "$BOLD$CYAN" "$RESET"
  info "export KUBECONFIG=$KUBECONFIG KUBECACHEDIR=$KUBECACHEDIR"
  info "export PATH=$ROOT/bin:$ASSETS:\$PATH   # kubectl posthog, democtl and the demo's kubectl"
  info "kubectl get posthog -o wide   # every kind (category posthog; short names cphc, phc, rer) in namespace $NAMESPACE"
  info "${EXPORT[*]}"
  info "${PLAN[*]} -f FILE"
  echo
  info "PostHog URL:   $POSTHOG_URL   (spec.host of a connection; the manager's --allowed-hosts)"
  info "API key:       $DEMO_API_KEY   (Secret posthog-api-key, key apiKey, in namespace $OPERATOR_NAMESPACE)"
  info "operator namespace: $OPERATOR_NAMESPACE   (the manager's --cluster-resource-namespace)"
  info "organization:  $ORG_ID"
  for role in Engineering Support Admins; do info "role:          ${ROLE_IDS[$role]}  $role"; done
  info "PostHog holds: curl -s $POSTHOG_URL/_inmemory/references/$ORG_ID | democtl references --startup $DEMO_DIR/posthog.json"
  info "API calls:     curl -s $POSTHOG_URL/_inmemory/requests | democtl requests"
  info "Logs:          $DEMO_DIR/manager.log, $DEMO_DIR/posthog.log"
  echo
  info "The README's worked example applies here with the PostHog URL above as its host: the demo holds its"
  info "Secret and ClusterPostHogConnection already, so go on from the connection (kubectl create secret says it already exists)."
  info "Press Ctrl-C to stop everything and remove $DEMO_DIR."
}
# die MESSAGE HINT: say what failed and what to do, show the manager's log,
# and exit non-zero (cleanup runs on exit).
die() {
  local message=$1 hint=${2:-}
  trap - ERR
  if ((BASHPID != $$)); then # in a subshell: the script itself reports the failure
    printf '%s\n' "$message" >&2
    exit 1
  fi
  printf '\n%s✘ DEMO FAILED: %s%s\n' "$BOLD$RED" "$message" "$RESET" >&2
  local log
  for log in controlplane posthog manager; do
    [[ -s $DEMO_DIR/$log.log ]] || continue
    local lines=15
    [[ $log == manager ]] && lines=50
    printf '\n%s--- last %d lines of the %s log ---%s\n' "$BOLD" "$lines" "$log" "$RESET" >&2
    tail -n "$lines" "$DEMO_DIR/$log.log" >&2
  done
  if $CLUSTER_UP; then
    printf '\n%s--- objects in namespace %s ---%s\n' "$BOLD" "$NAMESPACE" "$RESET" >&2
    kubectl get clusterposthogconnections,posthogconnections,roleexternalreferences -n "$NAMESPACE" -o wide >&2 2>&1 || true
  fi
  printf '\n%sWhat to do:%s %s\n' "$BOLD" "$RESET" "${hint:-see the logs above.}" >&2
  printf 'Rerun with --keep-running (make demo DEMO_ARGS=--keep-running) to keep everything up and inspect it.\n' >&2
  if $KEEP_RUNNING && [[ -n $MANAGER_PID ]]; then
    print_try_it_yourself
    wait_for_ctrl_c 1 || true
  fi
  exit 1
}
trap 'die "unexpected error at hack/demo/demo.sh line $LINENO: $BASH_COMMAND"' ERR

# wait_until SECONDS PROCESS PID FOR COMMAND...: retry COMMAND until it
# succeeds; fail if PID (the PROCESS that should make it succeed) exits or
# SECONDS pass without FOR (what COMMAND checks) happening.
wait_until() {
  local seconds=$1 process=$2 pid=$3 for=$4
  shift 4
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    kill -0 "$pid" 2>/dev/null || die "the $process exited while waiting for $for" "read its log above."
    ((SECONDS < deadline)) || die "waited ${seconds}s for $for in vain" \
      "read the $process log above; on a slow or busy machine retry with DEMO_TIMEOUT=180."
    sleep 0.5
  done
}

# json_field NAME FILE: a string field of the in-memory PostHog's startup line
# (flat JSON, so grep is enough).
json_field() { grep -o "\"$1\":\"[^\"]*\"" "$2" | sed -n 1p | cut -d '"' -f 4; }

# --- preflight ---------------------------------------------------------------
START=$SECONDS
for tool in go curl diff; do
  command -v "$tool" >/dev/null || die "$tool is not installed" "install $tool and rerun."
done
for binary in kube-apiserver etcd kubectl; do
  [[ -x $ASSETS/$binary ]] || die "$ASSETS/$binary is missing" \
    "run \`make envtest\` first (\`make demo\` does), or point ENVTEST_ASSETS at a directory holding kube-apiserver, etcd and kubectl."
done
# The real kubectl from the envtest binaries; a function, so commands read as you would type them.
kubectl() { "$ASSETS/kubectl" "$@"; }
export KUBECONFIG=$DEMO_DIR/kubeconfig
# kubectl's discovery cache is keyed by host:port, which the next throwaway
# control plane may reuse: keep it with the demo, out of ~/.kube/cache.
export KUBECACHEDIR=$DEMO_DIR/kube-cache

printf '%sposthog-operator demo%s: a local kube-apiserver + etcd, the in-memory PostHog and the\n' "$BOLD" "$RESET"
printf 'manager, driven with kubectl. Logs and the kubeconfig live in %s (removed on exit).\n' "$DEMO_DIR"

# --- 1. build -----------------------------------------------------------------
step "Build the manager, the kubectl plugin, the in-memory PostHog and the demo helper"
run go build -o bin/manager ./cmd || die "building the manager failed" "fix the build error above."
run go build -o bin/ ./cmd/kubectl-posthog ./cmd/inmemory-posthog ./hack/demo/democtl ||
  die "building the demo binaries failed" "fix the build error above."
# kubectl runs bin/kubectl-posthog as `kubectl posthog` once it is on the PATH.
export PATH=$ROOT/bin:$PATH
info "built in $(elapsed "$START")"

# --- 2. control plane ----------------------------------------------------------
step "Start a local control plane (kube-apiserver + etcd) and install the CRDs"
T=$SECONDS
show "bin/democtl controlplane --assets $ASSETS --kubeconfig \$KUBECONFIG &"
bin/democtl controlplane --assets "$ASSETS" --kubeconfig "$KUBECONFIG" >"$DEMO_DIR/controlplane.log" 2>&1 &
CONTROLPLANE_PID=$!
started "$CONTROLPLANE_PID"
wait_until 120 controlplane "$CONTROLPLANE_PID" "kube-apiserver and etcd to start" test -s "$KUBECONFIG"
mapfile -t CONTROLPLANE_CHILDREN < <(pgrep -P "$CONTROLPLANE_PID" || true)
CLUSTER_UP=true
APISERVER_URL=$(grep -o 'https://[^/;]*' "$DEMO_DIR/controlplane.log" | sed -n 1p)
ok "kube-apiserver at $APISERVER_URL, up in $(elapsed "$T")"
info "control plane (pid $CONTROLPLANE_PID) running kube-apiserver and etcd (pids ${CONTROLPLANE_CHILDREN[*]})"
run kubectl apply -f config/crd/bases
run kubectl wait --for=condition=Established crd --all --timeout="${TIMEOUT}s" ||
  die "the CRDs were not established" "read the control plane log above."

# --- 3. in-memory PostHog ------------------------------------------------------
step "Start the in-memory PostHog (test only: an organization, three roles, an admin's API key)"
show "bin/inmemory-posthog --listen 127.0.0.1:0 &"
POSTHOG_API_KEY=$DEMO_API_KEY bin/inmemory-posthog --listen 127.0.0.1:0 \
  >"$DEMO_DIR/posthog.json" 2>"$DEMO_DIR/posthog.log" &
POSTHOG_PID=$!
started "$POSTHOG_PID"
wait_until 30 posthog "$POSTHOG_PID" "the in-memory PostHog's startup line" \
  grep -q organizationId "$DEMO_DIR/posthog.json"
POSTHOG_URL=$(json_field url "$DEMO_DIR/posthog.json")
ORG_ID=$(json_field organizationId "$DEMO_DIR/posthog.json")
declare -A ROLE_IDS
for role in Engineering Support Admins; do
  ROLE_IDS[$role]=$(json_field "$role" "$DEMO_DIR/posthog.json")
  [[ -n ${ROLE_IDS[$role]} ]] || die "the in-memory PostHog seeded no role $role" \
    "cmd/inmemory-posthog's startup line changed; update hack/demo/demo.sh."
done
ok "serving $POSTHOG_URL (pid $POSTHOG_PID)"
info "organization  $ORG_ID"
for role in Engineering Support Admins; do info "role          ${ROLE_IDS[$role]}  $role"; done

# --- 4. manager -------------------------------------------------------------------
step "Start the operator (bin/manager) against the local control plane"
# Out of a cluster the manager has no namespace of its own to default to, and
# the in-memory PostHog is no PostHog cloud: say both.
info "Its API keys are read in $OPERATOR_NAMESPACE only and sent to $POSTHOG_URL only."
PROBE_PORT=$(bin/democtl free-port)
MANAGER_ARGS=(--kubeconfig="$KUBECONFIG" --metrics-bind-address=0 --health-probe-bind-address="127.0.0.1:$PROBE_PORT"
  --cluster-resource-namespace="$OPERATOR_NAMESPACE" --allowed-hosts="$POSTHOG_URL"
  --resync-period=30s --zap-encoder=console)
# The kubectl plugin needs the same allowed host; it reads the cluster
# connection's Secret in posthog-operator-system unless its own
# --cluster-resource-namespace says otherwise.
EXPORT=(kubectl posthog export --cluster-connection posthog --allowed-hosts="$POSTHOG_URL")
PLAN=(kubectl posthog plan --cluster-connection posthog --allowed-hosts="$POSTHOG_URL")
show "bin/manager ${MANAGER_ARGS[*]} &"
bin/manager "${MANAGER_ARGS[@]}" >"$DEMO_DIR/manager.log" 2>&1 &
MANAGER_PID=$!
started "$MANAGER_PID"
wait_until "$TIMEOUT" manager "$MANAGER_PID" "the manager's /readyz" curl -fsS "http://127.0.0.1:$PROBE_PORT/readyz"
ok "ready (pid $MANAGER_PID), logging to $DEMO_DIR/manager.log"

# --- 5. the platform team ------------------------------------------------------------
step "The platform team: the API key in $OPERATOR_NAMESPACE, one ClusterPostHogConnection for the cluster"
# The in-memory PostHog seeds the organization and role ids the samples name,
# so they apply as they are; only the host (the local port changes on every
# run) and the placeholder API key differ, in a copy.
sample_ids() { sed -nE "s/^[[:space:]]*$1:[[:space:]]*\"?([^\"[:space:]]*)\"?.*/\1/p" config/samples/*.yaml; }
for org in $(sample_ids organizationId); do
  [[ $org == "$ORG_ID" ]] || die "config/samples/ names organization $org, but the in-memory PostHog seeded $ORG_ID" \
    "cmd/inmemory-posthog must seed the ids config/samples/ names (its samples_test.go checks that); rebuild it."
done
for role in $(sample_ids role); do
  [[ " ${ROLE_IDS[*]} " == *" $role "* ]] || die \
    "config/samples/ names role $role, which the in-memory PostHog does not have" \
    "cmd/inmemory-posthog must seed the ids config/samples/ names (its samples_test.go checks that); rebuild it."
done
grep -q "^ *${ALLOWED_LABEL%%=*}: ${ALLOWED_LABEL#*=}\$" config/samples/iam_v1alpha1_clusterposthogconnection.yaml ||
  die "config/samples/iam_v1alpha1_clusterposthogconnection.yaml no longer selects the label $ALLOWED_LABEL" \
    "make ALLOWED_LABEL in hack/demo/demo.sh the label its namespaceSelector matches."
mkdir "$DEMO_DIR/samples"
cp config/samples/iam_v1alpha1_roleexternalreference.yaml "$DEMO_DIR/samples/"
sed -E "s|^([[:space:]]*apiKey:).*|\1 $DEMO_API_KEY|" config/samples/posthog_api_key_secret.yaml \
  >"$DEMO_DIR/samples/posthog_api_key_secret.yaml"
sed -E "s|^([[:space:]]*host:).*|\1 $POSTHOG_URL|" config/samples/iam_v1alpha1_clusterposthogconnection.yaml \
  >"$DEMO_DIR/samples/iam_v1alpha1_clusterposthogconnection.yaml"
info "A copy of config/samples/ in $DEMO_DIR/samples/; what differs:"
for sample in posthog_api_key_secret.yaml iam_v1alpha1_clusterposthogconnection.yaml; do
  show "diff config/samples/$sample samples/$sample"
  diff "config/samples/$sample" "$DEMO_DIR/samples/$sample" | grep '^[<>]' || true
done
cd "$DEMO_DIR"
echo
run kubectl create namespace "$OPERATOR_NAMESPACE"
run kubectl -n "$OPERATOR_NAMESPACE" apply -f samples/posthog_api_key_secret.yaml
run kubectl apply -f samples/iam_v1alpha1_clusterposthogconnection.yaml
run kubectl wait --for=condition=Ready clusterposthogconnections --all --timeout="${TIMEOUT}s" ||
  die "the ClusterPostHogConnection did not become Ready within ${TIMEOUT}s" \
    "its Reason column above says why (Unauthorized: the Secret's key; SecretNotFound: the Secret is not in $OPERATOR_NAMESPACE; HostNotAllowed: --allowed-hosts); see the manager log."
run kubectl get clusterposthogconnections -o wide

# --- 6. a team's mappings ------------------------------------------------------------
step "A team: RoleExternalReferences in namespace $NAMESPACE, which the connection allows by its label"
run kubectl create namespace "$NAMESPACE"
run kubectl label namespace "$NAMESPACE" "$ALLOWED_LABEL"
run kubectl config set-context --current --namespace="$NAMESPACE" # later commands need no -n
echo
info "Before applying, what they will do to PostHog: kubectl posthog plan reads PostHog through the connection"
info "(one walk of its references and one of its roles, never a write) and runs the operator's own decisions:"
PLAN_STATUS=0
run "${PLAN[@]}" -f samples/iam_v1alpha1_roleexternalreference.yaml || PLAN_STATUS=$?
# As terraform plan -detailed-exitcode: 2 means changes, 0 nothing to do, 1 an error.
((PLAN_STATUS == 2)) || die "kubectl posthog plan exited $PLAN_STATUS, not 2 (changes to make)" \
  "its output above says why; bin/kubectl-posthog must be on the PATH."
ok "exit status 2: changes to make"
echo
run kubectl apply -f samples/iam_v1alpha1_roleexternalreference.yaml
T=$SECONDS
run kubectl wait --for=condition=Ready roleexternalreferences --all --timeout="${TIMEOUT}s" ||
  die "not every RoleExternalReference became Ready within ${TIMEOUT}s" \
    "the Reason column above and \`kubectl describe rer NAME\` say why (ConnectionNotAllowed: the namespace lacks the label); on a slow or busy machine retry with DEMO_TIMEOUT=180."
ok "all Ready within $(elapsed "$T") of the apply"
run kubectl get roleexternalreferences -o wide

# --- 7. what PostHog holds ----------------------------------------------------------
step "What the in-memory PostHog now holds"
# posthog_references [--ids]: the organization's references, via the in-memory
# PostHog's test-only debug endpoint (the API itself needs the key).
posthog_references() {
  curl -fsS "$POSTHOG_URL/_inmemory/references/$ORG_ID" |
    "$ROOT/bin/democtl" references --startup "$DEMO_DIR/posthog.json" "$@"
}
# posthog_holds ID: whether PostHog holds a reference with that id.
posthog_holds() {
  local ids
  ids=$(posthog_references --ids) || die "could not read the in-memory PostHog's references" "read its log above."
  [[ $'\n'$ids$'\n' == *$'\n'"$1"$'\n'* ]]
}
show "curl -s $POSTHOG_URL/_inmemory/references/$ORG_ID | bin/democtl references"
posthog_references
REFS=() # name=PostHog id, of every RoleExternalReference
mapfile -t REFS < <(kubectl get roleexternalreferences -o jsonpath='{range .items[*]}{.metadata.name}={.status.id}{"\n"}{end}')
((${#REFS[@]} > 0)) || die "no RoleExternalReference in namespace $NAMESPACE" "check config/samples/."
for ref in "${REFS[@]}"; do
  posthog_holds "${ref#*=}" || die \
    "RoleExternalReference ${ref%%=*} is Ready with id ${ref#*=}, which the in-memory PostHog does not hold" \
    "that is an operator bug: please report it with the manager log above."
done
ok "every RoleExternalReference's status.id is a reference in PostHog (${#REFS[@]} of ${#REFS[@]})"
FIRST=${REFS[0]%%=*}
echo
# Events are recorded asynchronously: wait for the Created one.
has_created_event() {
  [[ -n $(kubectl get events --field-selector "involvedObject.name=$FIRST,reason=Created" -o name) ]]
}
wait_until "$TIMEOUT" manager "$MANAGER_PID" "the Created event of $FIRST" has_created_event
show "kubectl describe roleexternalreference $FIRST   # from Status: on"
kubectl describe roleexternalreference "$FIRST" | sed -n '/^Status:/,$p'

# --- 8. export ---------------------------------------------------------------------
step "Export what PostHog holds as manifests: kubectl posthog export"
info "The kubectl plugin reads the connection and its API key from the cluster (as the platform team, who may"
info "read $OPERATOR_NAMESPACE's Secrets), walks PostHog's references and roles once, and writes a"
info "RoleExternalReference per reference (ready for git or kubectl apply):"
run "${EXPORT[@]}" ||
  die "kubectl posthog export failed" "its error above says why; bin/kubectl-posthog must be on the PATH."
echo
info "With --unmanaged it writes only what no RoleExternalReference manages yet; here, nothing:"
run "${EXPORT[@]}" --unmanaged ||
  die "kubectl posthog export --unmanaged failed" "its error above says why."

# --- 9. authoritative mode, dry run ------------------------------------------------
step "Someone maps a team by hand in PostHog; the connection's authoritative mode lists it (DryRun)"
info "A GitHub team mapped in PostHog's UI, outside git: the API call the UI makes, with an admin's key"
info "(DEMO_API_KEY: the in-memory PostHog's public demo key):"
HAND_MADE='{"provider":"github","provider_organization_id":"posthog","provider_role_id":"13579","provider_role_slug":"data-team","provider_role_name":"Data team","role":"'${ROLE_IDS[Support]}'"}'
show "curl -s -H \"Authorization: Bearer \$DEMO_API_KEY\" -H 'Content-Type: application/json' \\
    $POSTHOG_URL/api/organizations/$ORG_ID/role_external_references/ \\
    -d '$HAND_MADE'"
HAND_MADE_ID=$(curl -fsS -H "Authorization: Bearer $DEMO_API_KEY" -H 'Content-Type: application/json' \
  "$POSTHOG_URL/api/organizations/$ORG_ID/role_external_references/" -d "$HAND_MADE" | json_field id /dev/stdin) ||
  die "the in-memory PostHog refused the hand-made reference" "read its log above."
[[ -n $HAND_MADE_ID ]] || die "the in-memory PostHog's answer to the create named no id" "read its log above."
ok "PostHog reference $HAND_MADE_ID, which no RoleExternalReference declares"
echo
info "The platform team makes the connection the only source of truth for the GitHub organization posthog,"
info "in DryRun mode (the default): each check lists what nobody declares there, and deletes nothing."
info "The reconcile request asks for that check now, on a fresh walk of PostHog's references."
PRUNE='{"spec":{"prune":{"mode":"DryRun","scopes":[{"provider":"github","providerOrganizationId":"posthog"}]}}}'
show "kubectl patch clusterposthogconnection posthog --type merge -p '$PRUNE'"
kubectl patch clusterposthogconnection posthog --type merge -p "$PRUNE"
REQUESTED_AT=$(date +%s)
run kubectl annotate clusterposthogconnection posthog --overwrite \
  iam.posthog-operator.io/reconcile-requested-at="$REQUESTED_AT"
# prune_pass_done: the connection handled the request, and its pass lists the hand-made reference.
prune_pass_done() {
  [[ $(kubectl get clusterposthogconnection posthog -o jsonpath='{.status.lastHandledReconcileAt}') == "$REQUESTED_AT" ]] &&
    [[ $(kubectl get clusterposthogconnection posthog -o jsonpath='{.status.prune.items[*].id}') == *"$HAND_MADE_ID"* ]]
}
wait_until "$TIMEOUT" manager "$MANAGER_PID" "the connection's prune pass to list $HAND_MADE_ID" prune_pass_done
show "kubectl get clusterposthogconnection posthog -o jsonpath='{.status.prune}'"
kubectl get clusterposthogconnection posthog -o jsonpath='{.status.prune}'
echo
posthog_holds "$HAND_MADE_ID" ||
  die "the connection is in DryRun mode, but PostHog no longer holds $HAND_MADE_ID" \
    "that is an operator bug: please report it with the manager log above."
CANDIDATES=$(kubectl get clusterposthogconnection posthog -o jsonpath='{.status.prune.candidates}')
ok "$CANDIDATES prune candidate(s); DryRun deleted nothing: PostHog still holds $HAND_MADE_ID"
info "github-frontend is declared, and the linear and okta references are outside the scope: none is a candidate."
info "The plan shows the same candidate as \"- prune\" (exit status 0: in DryRun mode it is no change):"
PLAN_STATUS=0
run "${PLAN[@]}" -f samples/iam_v1alpha1_roleexternalreference.yaml || PLAN_STATUS=$?
((PLAN_STATUS == 0)) || die "kubectl posthog plan exited $PLAN_STATUS, not 0 (nothing to do in DryRun mode)" \
  "its output above says why."
info "Next, in a real organization: adopt what should stay (kubectl posthog export --unmanaged | kubectl apply -f -),"
info "then set spec.prune.mode: Enforce to delete the rest, at most maxPerPass (default 10) per resync period."

# --- 10. delete --------------------------------------------------------------------
step "Delete references: deletionPolicy Delete removes the PostHog reference, Orphan keeps it"
# name_with_policy POLICY: the first reference with that deletionPolicy.
name_with_policy() {
  kubectl get roleexternalreferences -o jsonpath="{range .items[?(@.spec.deletionPolicy==\"$1\")]}{.metadata.name}{\"\\n\"}{end}" |
    sed -n 1p
}
# remote_id NAME: the PostHog id of a reference (before it is deleted).
remote_id() {
  local ref
  for ref in "${REFS[@]}"; do
    if [[ ${ref%%=*} == "$1" ]]; then echo "${ref#*=}"; fi
  done
}
DELETED=$(name_with_policy Delete)
ORPHANED=$(name_with_policy Orphan)
[[ -n $DELETED ]] || die "no sample RoleExternalReference has deletionPolicy: Delete" "check config/samples/."
DELETED_ID=$(remote_id "$DELETED")
BEFORE=$(posthog_references --ids | wc -l)
run kubectl delete roleexternalreference "$DELETED" --timeout="${TIMEOUT}s" ||
  die "deleting $DELETED did not finish within ${TIMEOUT}s" "the manager log above says why the finalizer stayed."
AFTER=$(posthog_references --ids | wc -l)
if posthog_holds "$DELETED_ID"; then
  die "$DELETED is deleted, but PostHog still holds its reference $DELETED_ID" \
    "that is an operator bug: please report it with the manager log above."
fi
ok "$DELETED (deletionPolicy: Delete): PostHog reference $DELETED_ID deleted ($BEFORE → $AFTER references)"
if [[ -n $ORPHANED ]]; then
  ORPHANED_ID=$(remote_id "$ORPHANED")
  echo
  run kubectl delete roleexternalreference "$ORPHANED" --timeout="${TIMEOUT}s" ||
    die "deleting $ORPHANED did not finish within ${TIMEOUT}s" "the manager log above says why the finalizer stayed."
  KEPT=$(posthog_references --ids | wc -l)
  posthog_holds "$ORPHANED_ID" ||
    die "$ORPHANED had deletionPolicy: Orphan, but PostHog no longer holds $ORPHANED_ID" \
      "that is an operator bug: please report it with the manager log above."
  ok "$ORPHANED (deletionPolicy: Orphan): PostHog reference $ORPHANED_ID kept ($AFTER → $KEPT references)"
fi
echo
run kubectl get roleexternalreferences
show "curl -s $POSTHOG_URL/_inmemory/references/$ORG_ID | bin/democtl references"
posthog_references
echo
info "The PostHog API calls the operator made:"
show "curl -s $POSTHOG_URL/_inmemory/requests | bin/democtl requests"
curl -fsS "$POSTHOG_URL/_inmemory/requests" | "$ROOT/bin/democtl" requests | tee "$DEMO_DIR/requests.txt"
CALLS=$(awk '$1 == "total" { print $2 }' "$DEMO_DIR/requests.txt")

# --- summary -------------------------------------------------------------------
printf '\n%s==> Summary%s\n' "$BOLD$GREEN" "$RESET"
ok "ClusterPostHogConnection Ready against the in-memory PostHog at $POSTHOG_URL (organization $ORG_ID)," \
  "its key in $OPERATOR_NAMESPACE, allowing namespace $NAMESPACE by its label"
ok "${#REFS[@]} RoleExternalReferences became Ready, each with a PostHog reference:"
for ref in "${REFS[@]}"; do printf '        %-24s → %s\n' "${ref%%=*}" "${ref#*=}"; done
ok "deleted $DELETED: its PostHog reference is gone"
[[ -z $ORPHANED ]] || ok "deleted $ORPHANED (Orphan): its PostHog reference stays"
ok "the plan showed what applying would do, before it was applied"
ok "DryRun listed $CANDIDATES hand-made reference(s) nobody declares, and deleted nothing"
ok "the operator made $CALLS PostHog API calls in all (table above)"
printf '%sDemo succeeded in %s.%s\n' "$BOLD$GREEN" "$(elapsed "$START")" "$RESET"

if $KEEP_RUNNING; then
  print_try_it_yourself
  wait_for_ctrl_c 0 || exit 1
fi
