/*
Copyright 2026.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package controller

import (
	"context"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// PostHogConnectionReconciler proves each connection of one kind usable: its
// Secret exists and PostHog accepts a read with its key for its
// organization. Both kinds share it: Kind says which it reconciles
// (PostHogConnection when empty; see clusterposthogconnection_controller.go
// for what only the cluster kind has).
type PostHogConnectionReconciler struct {
	client.Client
	// Kind is PostHogConnection or ClusterPostHogConnection.
	Kind string
	// APIReader reads what the cache does not hold (the namespace).
	APIReader   client.Reader
	Connections *Connections
	// Lister lists the organization's references as cheaply as the observer
	// allows: from the inventory's copy, or with one walk.
	Lister ReferenceLister
	// ResyncPeriod is how often a Ready connection is re-checked.
	ResyncPeriod time.Duration
	Recorder     events.EventRecorder
	// Pruner runs the prune pass of a connection with spec.prune.
	Pruner *pruner
}

// ConnectionFinalizer keeps a PostHogConnection while references being
// deleted still need it to delete their PostHog references.
const ConnectionFinalizer = "iam.posthog-operator.io/in-use"

// +kubebuilder:rbac:groups=iam.posthog-operator.io,resources=posthogconnections,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=iam.posthog-operator.io,resources=posthogconnections/status,verbs=get;patch
// +kubebuilder:rbac:groups=iam.posthog-operator.io,resources=posthogconnections/finalizers,verbs=update
// +kubebuilder:rbac:groups=iam.posthog-operator.io,resources=clusterposthogconnections,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=iam.posthog-operator.io,resources=clusterposthogconnections/status,verbs=get;patch
// +kubebuilder:rbac:groups=iam.posthog-operator.io,resources=clusterposthogconnections/finalizers,verbs=update
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",namespace=system,resources=secrets,verbs=get;list;watch

// Reading the Secrets of namespaced PostHogConnections, in every namespace,
// is granted apart (config/rbac/namespaced_connections_secrets_role.yaml and
// the chart's namespacedConnections value), so that an install without
// namespaced connections holds no cluster-wide right on Secrets.

// Reconcile checks one connection and records the verdict in its Ready
// condition: observe (read PostHog with the key), record.
func (r *PostHogConnectionReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	key := connectionKey{Kind: r.kind(), Namespace: req.Namespace, Name: req.Name}
	conn := key.newObject()
	if err := r.Get(ctx, req.NamespacedName, conn); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, r.forgetWhenUnused(ctx, key)
		}
		return ctrl.Result{}, err
	}
	if !conn.GetDeletionTimestamp().IsZero() {
		return r.removeFinalizerWhenUnused(ctx, conn)
	}
	if !controllerutil.ContainsFinalizer(conn, ConnectionFinalizer) {
		base := conn.DeepCopyObject().(iamv1alpha1.Connection)
		controllerutil.AddFinalizer(conn, ConnectionFinalizer)
		if err := r.Patch(ctx, conn, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
			return ctrl.Result{}, err
		}
	}
	lastWritten := conn.DeepCopyObject().(iamv1alpha1.Connection)

	o := r.check(ctx, conn)
	status := conn.ConnectionStatus()
	if !o.paused {
		status.LastHandledReconcileAt = reconcileRequest(conn)
	}
	r.announce(conn, o)

	setConditions(conn, &status.Conditions, o)
	status.ObservedGeneration = conn.GetGeneration()
	if _, err := writeStatus(ctx, r.Client, lastWritten, conn); err != nil && o.err == nil {
		return ctrl.Result{}, err
	}
	return o.result(resyncOrDefault(r.ResyncPeriod))
}

// announce records an event when the connection enters a state other than
// Ready, once per change of reason: Warning when a person must act.
func (r *PostHogConnectionReconciler) announce(conn iamv1alpha1.Connection, o outcome) {
	if r.Recorder == nil || o.ready || o.reason == "" ||
		conditionReason(conn.ConnectionStatus().Conditions, iamv1alpha1.ConditionSynced) == o.reason {
		return
	}
	r.Recorder.Eventf(conn, nil, eventTypeFor(o.reason), o.reason, "Check", "%s", o.message)
}

// check proves host, key, scope and organization together with a read of
// the organization's references, and counts them. The list comes from the
// inventory's copy when it is fresh, plus a read of one item with this
// connection's own key (another connection's walk proves nothing about
// this key); otherwise this check's walk refreshes the copy. Either way it
// costs no more than the one walk per organization per resync period the
// inventory makes anyway. Every check is fresh, so a reconcile-requested-at
// annotation needs nothing more than to be handled.
func (r *PostHogConnectionReconciler) check(ctx context.Context, conn iamv1alpha1.Connection) outcome {
	if isPaused(conn) {
		return outcome{paused: true, reason: iamv1alpha1.ReasonPaused,
			message: "Paused by the " + iamv1alpha1.AnnotationPaused + " annotation; nothing is sent to PostHog, " +
				"for this connection nor for the references using it"}
	}
	api, err := r.Connections.ForConnection(ctx, conn)
	if err != nil {
		return connectionFailure(err)
	}
	spec, status := conn.ConnectionSpec(), conn.ConnectionStatus()
	// A reconcile request asks for fresh data: the counts too.
	fresh := reconcileRequest(conn) != "" && reconcileRequest(conn) != status.LastHandledReconcileAt
	refs, walked, err := r.Lister.References(ctx, spec.Host, spec.OrganizationID, api, fresh)
	if err == nil && !walked {
		_, err = api.List(ctx, posthog.ListOptions{Limit: 1})
	}
	if err != nil {
		return connectionFailure(err)
	}
	counts, err := r.countReferences(ctx, refs)
	if err != nil {
		return kubernetesFailure(err)
	}
	status.References = counts
	if spec.Prune != nil {
		status.Prune = r.Pruner.pass(ctx, conn, api, refs, walked, r.Lister)
	} else {
		status.Prune = nil
	}
	refused, err := r.refusedWrites(ctx, conn)
	if err != nil {
		return kubernetesFailure(err)
	}
	setWritesRefused(conn, refused)
	return readyOutcome("PostHog accepted the API key for organization " + spec.OrganizationID)
}

// countReferences says how many of refs a RoleExternalReference records.
// Reference ids are UUIDs, so one id recorded anywhere in the cluster is
// that reference.
func (r *PostHogConnectionReconciler) countReferences(
	ctx context.Context, refs []posthog.Reference,
) (*iamv1alpha1.ReferenceCounts, error) {
	var mappings iamv1alpha1.RoleExternalReferenceList
	if err := r.List(ctx, &mappings, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	recorded := make(map[string]bool, len(mappings.Items))
	for i := range mappings.Items {
		if id := mappings.Items[i].Status.ID; id != "" {
			recorded[strings.ToLower(id)] = true
		}
	}
	counts := &iamv1alpha1.ReferenceCounts{Total: int32(len(refs))}
	for _, ref := range refs {
		if recorded[strings.ToLower(ref.ID)] {
			counts.Managed++
		}
	}
	counts.Unmanaged = counts.Total - counts.Managed
	return counts, nil
}

// refusedWrites names the references using conn whose writes PostHog
// refuses for the key's rights: the connection reads, but cannot write.
func (r *PostHogConnectionReconciler) refusedWrites(
	ctx context.Context, conn iamv1alpha1.Connection,
) ([]string, error) {
	key := keyOf(conn)
	refs, err := referencesUsing(ctx, r, key)
	if err != nil {
		return nil, err
	}
	var names []string
	for i := range refs {
		if writesRefused(&refs[i]) {
			name := refs[i].Name
			if key.cluster() {
				name = refs[i].Namespace + "/" + name
			}
			names = append(names, name)
		}
	}
	return names, nil
}

// writesRefused reports whether PostHog refuses ref's writes for its key.
func writesRefused(ref *iamv1alpha1.RoleExternalReference) bool {
	return conditionReason(ref.Status.Conditions, iamv1alpha1.ConditionReady) == iamv1alpha1.ReasonForbidden
}

// ReferenceLister lists an organization's references (fresh: walking
// PostHog whatever any copy says) and says whether it walked PostHog with
// api to do so.
type ReferenceLister interface {
	References(ctx context.Context, host, organizationID string, api posthog.API,
		fresh bool) ([]posthog.Reference, bool, error)
}

// walkingLister walks the list every time: under --observe=lookup it is
// the only list the operator makes.
type walkingLister struct{}

func (walkingLister) References(
	ctx context.Context, _, _ string, api posthog.API, _ bool,
) ([]posthog.Reference, bool, error) {
	refs, err := api.ListAll(ctx, posthog.ListOptions{Limit: InventoryPageSize})
	return refs, err == nil, err
}

// connectionReleaseWait is how often a connection in deletion looks again
// at the references that still need it (their deletions also wake it).
const connectionReleaseWait = 5 * time.Second

// removeFinalizerWhenUnused removes the connection's finalizer once no reference
// needs it to finish a deletion: none being deleted, or, in a namespace
// being deleted (where the namespace controller deletes objects in no set
// order), none left at all. A connection deleted while its references live
// on is released at once, so one of the same name can replace it.
func (r *PostHogConnectionReconciler) removeFinalizerWhenUnused(
	ctx context.Context, conn iamv1alpha1.Connection,
) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(conn, ConnectionFinalizer) {
		return ctrl.Result{}, nil
	}
	needed, err := r.stillNeeded(ctx, conn)
	if err != nil || needed {
		return ctrl.Result{RequeueAfter: connectionReleaseWait}, err
	}
	base := conn.DeepCopyObject().(iamv1alpha1.Connection)
	controllerutil.RemoveFinalizer(conn, ConnectionFinalizer)
	if err := r.Patch(ctx, conn, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	return ctrl.Result{}, nil
}

// forgetWhenUnused drops the client of a deleted connection, and the key it
// holds in memory, once no reference names the connection any more: until
// then it may finish their deletions.
func (r *PostHogConnectionReconciler) forgetWhenUnused(ctx context.Context, key connectionKey) error {
	refs, err := referencesUsing(ctx, r, key)
	if err != nil {
		return err
	}
	if len(refs) == 0 {
		r.Connections.Forget(key)
	}
	return nil
}

// stillNeeded reports whether a reference using conn may still need it to
// delete its PostHog reference.
func (r *PostHogConnectionReconciler) stillNeeded(
	ctx context.Context, conn iamv1alpha1.Connection,
) (bool, error) {
	key := keyOf(conn)
	refs, err := referencesUsing(ctx, r, key)
	if err != nil {
		return false, err
	}
	if len(refs) == 0 {
		return false, nil
	}
	for _, ref := range refs {
		if !ref.DeletionTimestamp.IsZero() && controllerutil.ContainsFinalizer(&ref, Finalizer) {
			return true, nil
		}
	}
	if key.cluster() {
		return false, nil // no namespace of its own to be torn down with it
	}
	ns := &corev1.Namespace{}
	if err := r.APIReader.Get(ctx, client.ObjectKey{Name: conn.GetNamespace()}, ns); err != nil {
		if apierrors.IsForbidden(err) {
			// Installed with namespaced Roles (--watch-namespaces), which cannot
			// grant a read of a namespace: release. References deleted later
			// still finish with the client held in memory (Connections.ForDeletion).
			return false, nil
		}
		return false, client.IgnoreNotFound(err)
	}
	return !ns.DeletionTimestamp.IsZero(), nil
}

// SetupWithManager registers the PostHogConnection controller. Secrets are
// watched as metadata only: the cache never holds an API key, and a rotation
// still re-checks the connection at once. The field indexes it reads are
// registered by SetupControllers.
func (r *PostHogConnectionReconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(newConnection(r.kind()), builder.WithPredicates(ignoreStatusOnlyUpdates())).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.connectionsUsing), builder.OnlyMetadata).
		Watches(&iamv1alpha1.RoleExternalReference{}, handler.EnqueueRequestsFromMapFunc(r.connectionToRecheck)).
		WithOptions(controller.Options{RateLimiter: retryBackoff()}).
		Named(strings.ToLower(r.kind())).
		Complete(r)
}

// kind is the connection kind r reconciles.
func (r *PostHogConnectionReconciler) kind() string {
	if r.Kind == "" {
		return iamv1alpha1.KindPostHogConnection
	}
	return r.Kind
}

// connectionToRecheck maps a reference to its connection when the
// connection has to look again: while it is being deleted or gone (its
// finalizer, and forgetting its client, wait for the references), and when
// PostHog refuses, or stops refusing, the reference's writes (the
// connection names them). An update maps both the old and the new object.
func (r *PostHogConnectionReconciler) connectionToRecheck(ctx context.Context, obj client.Object) []reconcile.Request {
	ref := obj.(*iamv1alpha1.RoleExternalReference)
	key := connectionOf(ref)
	if key.Kind != r.kind() {
		return nil
	}
	if writesRefused(ref) {
		return []reconcile.Request{{NamespacedName: key.object()}}
	}
	conn := key.newObject()
	err := r.Get(ctx, key.object(), conn)
	if err == nil && conn.GetDeletionTimestamp().IsZero() || err != nil && !apierrors.IsNotFound(err) {
		return nil
	}
	return []reconcile.Request{{NamespacedName: key.object()}}
}

// connectionsUsing maps a Secret to the connections of r's kind that read it.
func (r *PostHogConnectionReconciler) connectionsUsing(ctx context.Context, secret client.Object) []reconcile.Request {
	conns, err := connectionsReading(ctx, r, r.Connections, r.kind(), secret)
	if err != nil {
		return nil
	}
	requests := make([]reconcile.Request, 0, len(conns))
	for _, conn := range conns {
		requests = append(requests, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(conn)})
	}
	return requests
}

// connectionsReading lists, from the cache, the connections of kind that
// read their API key from secret.
func connectionsReading(
	ctx context.Context, reader client.Reader, connections *Connections, kind string, secret client.Object,
) ([]iamv1alpha1.Connection, error) {
	byName := client.MatchingFields{indexConnectionSecret: secret.GetName()}
	if kind != iamv1alpha1.KindClusterPostHogConnection {
		var list iamv1alpha1.PostHogConnectionList
		err := reader.List(ctx, &list, client.InNamespace(secret.GetNamespace()), byName)
		conns := make([]iamv1alpha1.Connection, 0, len(list.Items))
		for i := range list.Items {
			conns = append(conns, &list.Items[i])
		}
		return conns, err
	}
	if secret.GetNamespace() != connections.ClusterResourceNamespace {
		return nil, nil
	}
	var list iamv1alpha1.ClusterPostHogConnectionList
	err := reader.List(ctx, &list, byName)
	conns := make([]iamv1alpha1.Connection, 0, len(list.Items))
	for i := range list.Items {
		conns = append(conns, &list.Items[i])
	}
	return conns, err
}
