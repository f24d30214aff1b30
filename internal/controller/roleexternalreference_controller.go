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
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// Finalizer keeps a RoleExternalReference until its PostHog reference is deleted.
const Finalizer = "iam.posthog-operator.io/finalizer"

// connectionRecheckWait is how soon a reference looks again while its
// connection's edited spec is being checked: an edit of a Ready connection
// leaves its references' conditions as they are meanwhile, so GitOps
// health does not flap.
const connectionRecheckWait = 2 * time.Second

// RoleExternalReferenceReconciler keeps one PostHog role external reference
// equal to each RoleExternalReference: observe PostHog, decide, act, record.
type RoleExternalReferenceReconciler struct {
	client.Client
	Connections *Connections
	// NewExternal chooses how PostHog is observed.
	NewExternal ExternalFactory
	// Roles resolves spec.roleName and tells a role of an organization.
	Roles    *RoleDirectory
	Recorder events.EventRecorder
	// ResyncPeriod is how often a Ready reference is checked against PostHog
	// for drift (deleted or replaced out of band).
	ResyncPeriod time.Duration
	// MaxConcurrentReconciles bounds reconciles in flight (at least 1).
	MaxConcurrentReconciles int
	// Clock times refused writes (the real clock when nil).
	Clock clock.PassiveClock

	// Settled learns of every reconcile this manager finishes, for the
	// prune guard (see prune.go).
	Settled *settledObjects

	refusedWrites *refusedWrites
}

// +kubebuilder:rbac:groups=iam.posthog-operator.io,resources=roleexternalreferences,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=iam.posthog-operator.io,resources=roleexternalreferences/status,verbs=get;patch
// +kubebuilder:rbac:groups=iam.posthog-operator.io,resources=roleexternalreferences/finalizers,verbs=update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile makes PostHog match one RoleExternalReference: observe what
// PostHog holds, decide, act, and record the outcome in status. Status is
// written at the end, only if it changed; the one write before that is the
// note of a create about to be sent (see notePendingCreate).
func (r *RoleExternalReferenceReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	ref := &iamv1alpha1.RoleExternalReference{}
	if err := r.Get(ctx, req.NamespacedName, ref); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	s := &referenceSync{reconciler: r, ref: ref, lastWritten: ref.DeepCopy(), desired: desiredReference(ref)}
	var o outcome
	if ref.DeletionTimestamp.IsZero() {
		o = s.reconcileMapping(ctx)
	} else {
		o = s.reconcileDeletion(ctx) // see deletion.go
	}
	result, err := s.record(ctx, o)
	if ref.DeletionTimestamp.IsZero() && (o.reason != "" || o.err != nil) {
		r.Settled.record(ref, o)
	}
	return result, err
}

// referenceSync is one reconcile of one RoleExternalReference.
type referenceSync struct {
	reconciler *RoleExternalReferenceReconciler
	ref        *iamv1alpha1.RoleExternalReference
	// lastWritten is ref as last read from or written to the API server:
	// the base, and the resourceVersion, of the next write.
	lastWritten *iamv1alpha1.RoleExternalReference
	desired     posthog.ReferenceSpec
	// here is where the connection points: where this reconcile observes
	// and creates.
	here location
	ext  External
	api  posthog.API
	// checked is api through checkedAnswers: what every observation and
	// create of this reconcile goes through.
	checked posthog.API
	// roleRefreshed: this reconcile already re-read the organization's
	// roles after PostHog refused one.
	roleRefreshed bool
	// allowed is what the connection lets its users map (see mapping.go).
	allowed allowList
	// connection names the connection in messages.
	connection connectionKey
}

// reconcileMapping creates, adopts, replaces or checks the remote
// reference. Each step before the look at PostHog either clears the way or
// says, as an error, why this reconcile ends (see fail).
func (s *referenceSync) reconcileMapping(ctx context.Context) outcome {
	steps := []func(context.Context) error{
		s.ensureFinalizer,
		s.checkNotPaused,
		s.connect,
		s.checkProviderAllowed, // see mapping.go
		s.resolveRole,
		s.checkRoleAllowed,
		s.settlePendingCreate, // see lifecycle.go
		s.settlePendingDelete,
		s.checkMoveAllowed, // see moves.go
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			return s.fail(err)
		}
	}
	in, err := s.look(ctx)
	if err != nil {
		return s.fail(err)
	}
	return s.act(ctx, in)
}

// checkNotPaused stops the reconcile while the object or its connection is
// paused.
func (s *referenceSync) checkNotPaused(ctx context.Context) error {
	if isPaused(s.ref) {
		return &pausedError{by: "this object's " + iamv1alpha1.AnnotationPaused + " annotation"}
	}
	key := connectionOf(s.ref)
	conn := key.newObject()
	if err := s.reconciler.Get(ctx, key.object(), conn); err != nil {
		return client.IgnoreNotFound(err)
	}
	if isPaused(conn) {
		return &pausedError{by: fmt.Sprintf("the %s annotation of %s", iamv1alpha1.AnnotationPaused, key)}
	}
	return nil
}

// connect finds the PostHog client of the object's connection. While a
// reconcile-requested-at annotation is not handled, PostHog is observed
// with a lookup of this one object, whatever the observer, so the answer
// is fresh without walking the whole list.
func (s *referenceSync) connect(ctx context.Context) error {
	api, conn, err := s.reconciler.Connections.ForReference(ctx, s.ref)
	if err != nil {
		return err
	}
	spec := conn.ConnectionSpec()
	s.use(api, location{host: spec.Host, organizationID: spec.OrganizationID})
	s.allowed = allowListOf(spec)
	s.connection = keyOf(conn)
	if st := &s.ref.Status; st.ID != "" && st.OrganizationID == "" {
		// Recorded before status said where: where the connection points is
		// where it has always been taken to live (recordedLocation). Said
		// now, it keys ownership by location (see ownership.go).
		st.Host, st.OrganizationID = s.here.host, s.here.organizationID
	}
	if s.freshLookRequested() {
		s.ext = freshObservation{External: s.ext, lookup: lookupExternal{api: s.checked}}
	}
	return nil
}

// use makes api, for loc, where this reconcile observes and creates,
// through checkedAnswers. s.api stays api itself: it is what refused writes
// are remembered by (see writegate.go).
func (s *referenceSync) use(api posthog.API, loc location) {
	s.api, s.checked = api, s.checkAnswers(api, loc)
	s.ext = s.reconciler.NewExternal(loc.host, loc.organizationID, s.checked)
	s.here = loc
}

// freshLookRequested reports whether a reconcile request waits for a fresh
// look at PostHog.
func (s *referenceSync) freshLookRequested() bool {
	requested := reconcileRequest(s.ref)
	return requested != "" && requested != s.ref.Status.LastHandledReconcileAt
}

// resolveRole settles the role to ask for: spec.role, or the UUID that
// spec.roleName names in the organization (read fresh when a person asked
// for a fresh look).
func (s *referenceSync) resolveRole(ctx context.Context) error {
	name := s.ref.Spec.RoleName
	if name == "" {
		s.ref.Status.RoleID = s.desired.Role
		return nil
	}
	id, found, err := s.reconciler.Roles.Resolve(ctx, s.here.host, s.here.organizationID, s.api, name,
		s.freshLookRequested())
	if err != nil {
		return err
	}
	if !found {
		return s.roleNotFound()
	}
	s.useRole(id, s.specUnchanged())
	return nil
}

func (s *referenceSync) roleNotFound() error {
	return &specError{reason: iamv1alpha1.ReasonRoleNotFound, message: fmt.Sprintf("No role named %q in PostHog "+
		"organization %s: create it, or fix spec.roleName (a role renamed in PostHog needs the spec to follow). "+
		"Nothing is written or deleted until then%s", s.ref.Spec.RoleName, s.here.organizationID, s.keptNote())}
}

// useRole asks for role id from now on; a name that now resolves to
// another id replaces the reference. RoleChanged says PostHog changed
// (a role deleted and another created with the name): a person's own edit
// of roleName is announced by the replace, not by RoleChanged.
func (s *referenceSync) useRole(id string, changedInPostHog bool) {
	previous := s.ref.Status.RoleID
	if previous != "" && !strings.EqualFold(previous, id) && s.ref.Status.ID != "" && changedInPostHog {
		s.event(corev1.EventTypeNormal, EventRoleChanged, "Resolve",
			"Role name %q now resolves to %s (was %s): the PostHog reference is replaced",
			s.ref.Spec.RoleName, id, previous)
	}
	s.desired.Role = id
	s.ref.Status.RoleID = id
}

// specUnchanged reports whether the last recorded outcome was about this
// very generation of the spec: whatever changes now changed in PostHog,
// not in git.
func (s *referenceSync) specUnchanged() bool {
	ready := meta.FindStatusCondition(s.ref.Status.Conditions, iamv1alpha1.ConditionReady)
	return ready != nil && ready.ObservedGeneration == s.ref.Generation
}

// look observes PostHog and decides. A decision that will delete something
// (a replace, a move, a switch to another reference) is made again on a
// fresh look when the first was made on a copy: a copy can be a resync
// period old, and a key taken since would be found only after the delete.
func (s *referenceSync) look(ctx context.Context) (intent, error) {
	recorded := s.recordedHereID()
	obs, err := s.ext.Observe(ctx, s.desired, recorded) // ids checked: see checkedAnswers
	if err != nil {
		return nil, err
	}
	in := decide(s.desired, recorded, obs)
	if s.ref.Status.ID != "" && !writesNothing(in) && !obs.Fresh {
		obs, err = (lookupExternal{api: s.checked}).Observe(ctx, s.desired, recorded)
		if err != nil {
			return nil, err
		}
		in = decide(s.desired, recorded, obs)
	}
	if s.freshLookRequested() {
		s.ref.Status.LastHandledReconcileAt = reconcileRequest(s.ref) // only now: the fresh look succeeded
	}
	return s.respectOwners(ctx, in)
}

// act carries out an intent.
func (s *referenceSync) act(ctx context.Context, in intent) outcome {
	switch in := in.(type) {
	case upToDate:
		return s.ready()
	case equalExists:
		return s.adopt(ctx, in.found)
	case nothingHeld:
		return s.create(ctx)
	case recordedDiffers:
		return s.replace(ctx, in.keysCollide)
	case keysHeldByOther:
		return s.reportConflict(in)
	case ownedByOther:
		return s.waitForOwner(in)
	default:
		panic(fmt.Sprintf("unknown intent %T", in))
	}
}

// adopt records an existing reference equal to the spec, then deletes the
// one it replaces, if any.
func (s *referenceSync) adopt(ctx context.Context, found posthog.Reference) outcome {
	s.own(found, s.here)
	s.event(corev1.EventTypeNormal, EventAdopted, EventAdopted, "Adopted existing PostHog reference %s", found.ID)
	if _, err := s.finishPendingDelete(ctx); err != nil {
		return s.fail(err)
	}
	return s.ready()
}

// create creates the spec's reference where the connection points. One
// recorded elsewhere (the connection moved) is deleted after: a move that
// the new organization refuses costs nothing in the old one.
func (s *referenceSync) create(ctx context.Context) outcome {
	moving := s.ref.Status.ID != ""
	created, err := s.createDesired(ctx)
	if err != nil {
		return s.createFailed(ctx, err)
	}
	s.own(created, s.here)
	if moving {
		s.event(corev1.EventTypeNormal, EventCreated, EventCreated,
			"Created PostHog reference %s in organization %s, where the connection now points", created.ID,
			s.here.organizationID)
	} else {
		s.event(corev1.EventTypeNormal, EventCreated, EventCreated, "Created PostHog reference %s", created.ID)
	}
	if _, err := s.finishPendingDelete(ctx); err != nil {
		return s.fail(err)
	}
	return s.ready()
}

// replace puts a reference equal to the spec in place of the recorded one.
// PostHog has no update. The new one is created first and the old one
// deleted after, unless the old one holds one of the new one's keys, which
// PostHog would refuse to create twice: only then does the delete come
// first, and only once the new spec is known to be one PostHog takes.
func (s *referenceSync) replace(ctx context.Context, keysCollide bool) outcome {
	if err := s.checkAcceptable(ctx); err != nil {
		return s.fail(err)
	}
	existed := true
	if keysCollide {
		var err error
		if existed, err = s.deleteAt(ctx, s.ref.Status.ID, s.here); err != nil {
			return s.fail(err)
		}
		s.disown()
	}
	created, err := s.createDesired(ctx)
	if err != nil {
		return s.createFailed(ctx, err)
	}
	s.own(created, s.here)
	if !keysCollide {
		if existed, err = s.finishPendingDelete(ctx); err != nil {
			return s.fail(err)
		}
	}
	if existed {
		s.event(corev1.EventTypeNormal, EventReplaced, EventReplaced,
			"Replaced the PostHog reference with %s after a spec change", created.ID)
	} else {
		s.event(corev1.EventTypeNormal, EventRecreated, EventRecreated,
			"Recreated PostHog reference %s; the previous one was gone", created.ID)
	}
	return s.ready()
}

// createDesired sends the create, noted first (see notePendingCreate). A
// create refused because its role is gone re-reads the organization's
// roles once: a role deleted and created again under the same name has a
// new id, which spec.roleName then follows.
func (s *referenceSync) createDesired(ctx context.Context) (posthog.Reference, error) {
	if err := s.checkAcceptable(ctx); err != nil {
		return posthog.Reference{}, err
	}
	if err := s.writeHeldBack(); err != nil {
		return posthog.Reference{}, err // not even noted: nothing will be sent
	}
	if err := s.notePendingCreate(ctx); err != nil {
		return posthog.Reference{}, err
	}
	var created posthog.Reference
	err := s.write(func() (err error) {
		created, err = s.ext.Create(ctx, s.desired)
		return err
	})
	if err == nil || !writeMayHaveLanded(err) {
		s.createAnswered()
	}
	if roleMissing(err) && !s.roleRefreshed {
		s.roleRefreshed = true
		if retry, refreshErr := s.refreshRole(ctx); retry || refreshErr != nil {
			if refreshErr != nil {
				return posthog.Reference{}, refreshErr
			}
			return s.createDesired(ctx)
		}
	}
	return created, err
}

// refreshRole re-reads the organization's roles after PostHog refused the
// role, and reports whether spec.roleName now names another id to try. A
// role given by UUID has nothing to follow.
func (s *referenceSync) refreshRole(ctx context.Context) (bool, error) {
	name := s.ref.Spec.RoleName
	if name == "" {
		return false, nil
	}
	id, found, err := s.reconciler.Roles.Resolve(ctx, s.here.host, s.here.organizationID, s.api, name, true)
	switch {
	case err != nil:
		return false, err
	case !found:
		return false, s.roleNotFound()
	case strings.EqualFold(id, s.desired.Role):
		return false, nil
	}
	s.useRole(id, true) // the spec resolved to the old id in this very reconcile
	return true, nil
}

// checkAcceptable refuses, before anything is written, a spec PostHog would
// refuse: a value blank once PostHog strips it, or (when a reference is
// recorded, so a write would replace it) a role that is not one of the
// organization's. Creating it would fail after the delete that a replace
// or a move makes.
func (s *referenceSync) checkAcceptable(ctx context.Context) error {
	if field := blankField(s.desired); field != "" {
		return &specError{reason: iamv1alpha1.ReasonInvalidSpec, message: fmt.Sprintf("spec.%s is blank once "+
			"PostHog strips surrounding whitespace (it strips what Python's str.strip() strips, the separators "+
			"U+001C to U+001F included): give it a visible value%s", field, s.keptNote())}
	}
	if s.ref.Status.ID == "" || s.ref.Spec.RoleName != "" {
		return nil // a name was resolved in this organization just now
	}
	exists, err := s.reconciler.Roles.Exists(ctx, s.here.host, s.here.organizationID, s.api, s.desired.Role)
	if err != nil || exists {
		return err
	}
	return &specError{reason: iamv1alpha1.ReasonInvalidSpec, message: fmt.Sprintf("PostHog role %s does not exist "+
		"in organization %s (deleted in PostHog, which deletes the references to it too; never there; or another "+
		"organization's role): point spec.role at one of its roles, or name it with spec.roleName%s",
		s.desired.Role, s.here.organizationID, s.keptNote())}
}

// keptNote tells, when a reference is recorded, that it stays as it is.
func (s *referenceSync) keptNote() string {
	if s.ref.Status.ID == "" {
		return ""
	}
	return fmt.Sprintf(". PostHog reference %s is kept as it is until then", s.ref.Status.ID)
}

// blankField names the first spec field PostHog requires that is blank once
// stripped ("" if none).
func blankField(d posthog.ReferenceSpec) string {
	for _, f := range []struct{ name, value string }{
		{"provider", d.Provider},
		{"providerOrganizationId", d.ProviderOrganizationID},
		{"providerRoleId", d.ProviderRoleID},
		{"providerRoleName", d.ProviderRoleName},
	} {
		if f.value == "" {
			return f.name
		}
	}
	return ""
}

// createFailed follows a create PostHog did not take.
func (s *referenceSync) createFailed(ctx context.Context, err error) outcome {
	if posthog.IsAlreadyExists(err) {
		return s.actOnWhatExists(ctx, err)
	}
	return s.fail(err)
}

// actOnWhatExists follows a create refused with "already exists". PostHog's
// unique constraints make a duplicate impossible, so another writer, or our
// own create whose answer was lost, holds the keys: look again and act on
// what is there, through the same switch, as long as that writes nothing
// more.
func (s *referenceSync) actOnWhatExists(ctx context.Context, createErr error) outcome {
	in, err := s.look(ctx)
	if err != nil {
		return s.fail(err)
	}
	switch in.(type) {
	case equalExists, keysHeldByOther, ownedByOther:
		return s.act(ctx, in)
	default:
		// Gone again between the create and the look: retry with backoff.
		return s.fail(createErr)
	}
}

func (s *referenceSync) reportConflict(c keysHeldByOther) outcome {
	msg := fmt.Sprintf("PostHog reference %s already holds this provider role with %s; the operator will not "+
		"change it. Delete it in PostHog, or adopt it by making this spec equal to it (`kubectl posthog export "+
		"--unmanaged --connection %s -n %s` prints it as a manifest)",
		c.holder.ID, s.describeDifferences(c), s.ref.Spec.ConnectionRef.Name, s.ref.Namespace)
	s.eventOnChange(iamv1alpha1.ConditionReady, iamv1alpha1.ReasonConflict, corev1.EventTypeWarning, EventConflict,
		"Observe", msg)
	return outcome{reason: iamv1alpha1.ReasonConflict, message: msg}
}

// describeDifferences says what the holder of a conflict holds where it
// differs from the spec, naming roles by name where the operator knows it.
func (s *referenceSync) describeDifferences(c keysHeldByOther) string {
	specValues, heldValues := fieldValues(referenceOf(s.desired)), fieldValues(c.holder)
	parts := make([]string, 0, len(c.fields))
	for _, field := range c.fields {
		theirs, ours := heldValues[field], specValues[field]
		if field == fieldRole {
			theirs, ours = s.roleLabel(theirs), s.roleLabel(ours)
		}
		parts = append(parts, fmt.Sprintf("%s %s (this spec: %s)", field, theirs, ours))
	}
	return strings.Join(parts, ", ")
}

// roleLabel is a role id with its name, when the roles directory knows it.
func (s *referenceSync) roleLabel(id string) string {
	if name := s.reconciler.Roles.NameOf(s.here.host, s.here.organizationID, id); name != "" {
		return fmt.Sprintf("%q (%s)", name, id)
	}
	return id
}

// fieldValues are a reference's fields by their PostHog names.
func fieldValues(r posthog.Reference) map[string]string {
	slug := ""
	if r.ProviderRoleSlug != nil {
		slug = *r.ProviderRoleSlug
	}
	return map[string]string{"provider": strconv.Quote(r.Provider),
		"provider_organization_id": strconv.Quote(r.ProviderOrganizationID),
		"provider_role_id":         strconv.Quote(r.ProviderRoleID), "provider_role_slug": strconv.Quote(slug),
		"provider_role_name": strconv.Quote(r.ProviderRoleName), fieldRole: r.Role}
}

// waitForOwner waits for the object that owns the reference this one wants.
func (s *referenceSync) waitForOwner(d ownedByOther) outcome {
	if d.forget {
		s.disown() // forgotten, not deleted: it is the owner's
	}
	reason := iamv1alpha1.ReasonDuplicate
	if len(d.differs) > 0 {
		reason = iamv1alpha1.ReasonDuplicateConflict
	}
	msg := duplicateMessage(d, s.ref.Namespace)
	// The event reason is the Ready reason: EventDuplicate or EventDuplicateConflict.
	s.eventOnChange(iamv1alpha1.ConditionReady, reason, eventTypeFor(reason), reason, "Observe", msg)
	return outcome{reason: reason, message: msg}
}

func (s *referenceSync) ready() outcome {
	return readyOutcome(fmt.Sprintf("PostHog reference %s matches the spec", s.ref.Status.ID))
}

// fail turns the error that ended a reconcile into its outcome, classified
// once (see classification.go), and says so in an event when the reason
// changes.
func (s *referenceSync) fail(err error) outcome {
	if p, ok := errors.AsType[*pausedError](err); ok {
		return s.paused(p)
	}
	if isKubernetesError(err) {
		return kubernetesFailure(err)
	}
	if c, ok := errors.AsType[*connectionError](err); ok && c.recheckPending {
		// Its status update wakes this object; the wait is a fallback.
		return outcome{requeueAfter: connectionRecheckWait}
	}
	o := referenceFailure(err)
	if roleMissing(err) {
		o.message = s.roleMissingMessage(err)
	}
	s.eventOnChange(iamv1alpha1.ConditionSynced, o.reason, eventTypeFor(o.reason), EventSyncFailed, "Sync", o.message)
	return o
}

// roleMissingMessage explains PostHog refusing the role, in the terms the
// spec used.
func (s *referenceSync) roleMissingMessage(err error) string {
	if name := s.ref.Spec.RoleName; name != "" {
		return fmt.Sprintf("PostHog refused role %s, which spec.roleName %q names in organization %s, even after "+
			"re-reading its roles. Check the role in PostHog. %s", s.desired.Role, name, s.here.organizationID, err)
	}
	return fmt.Sprintf("PostHog role %s does not exist in organization %s: it was deleted in PostHog "+
		"(which deletes the references to it too), or was never there. Point spec.role at an existing role, "+
		"or name it with spec.roleName. %s", s.desired.Role, s.here.organizationID, err)
}

// paused is the outcome of a reconcile stopped by a pause: Synced=False,
// Ready as last verified, and an event when the pause begins.
func (s *referenceSync) paused(p *pausedError) outcome {
	msg := "Paused by " + p.by + "; nothing is sent to PostHog" + p.more
	s.eventOnChange(iamv1alpha1.ConditionSynced, iamv1alpha1.ReasonPaused, corev1.EventTypeNormal, EventPaused,
		"Pause", msg)
	return outcome{paused: true, reason: iamv1alpha1.ReasonPaused, message: msg}
}

// resyncAfter spreads resyncs over 10% of the period so a thousand objects
// created together do not all check PostHog in the same second.
func (r *RoleExternalReferenceReconciler) resyncAfter() time.Duration {
	period := resyncOrDefault(r.ResyncPeriod)
	return period + time.Duration(rand.Int64N(int64(period/10)+1))
}

// SetupWithManager registers the RoleExternalReference controller: it
// watches its objects (spec and deletion changes, not its own status writes)
// and the connections they use. The field indexes it reads are registered
// by SetupControllers.
func (r *RoleExternalReferenceReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Clock == nil {
		r.Clock = clock.RealClock{}
	}
	r.refusedWrites = &refusedWrites{clock: r.Clock, period: resyncOrDefault(r.ResyncPeriod)}
	if r.Settled == nil {
		r.Settled = &settledObjects{}
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&iamv1alpha1.RoleExternalReference{}, builder.WithPredicates(ignoreStatusOnlyUpdates())).
		Watches(&iamv1alpha1.PostHogConnection{}, handler.EnqueueRequestsFromMapFunc(r.requestsForReferencesUsing),
			builder.WithPredicates(ignoreConnectionReports())).
		Watches(&iamv1alpha1.ClusterPostHogConnection{},
			handler.EnqueueRequestsFromMapFunc(r.requestsForReferencesUsing),
			builder.WithPredicates(ignoreConnectionReports())).
		WatchesMetadata(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.referencesInNamespace),
			builder.WithPredicates(labelChanges())).
		Watches(&corev1.Secret{}, handler.EnqueueRequestsFromMapFunc(r.refusedReferencesUsingSecret),
			builder.OnlyMetadata).
		Watches(&iamv1alpha1.RoleExternalReference{}, r.wakeTwins()).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: max(r.MaxConcurrentReconciles, 1),
			RateLimiter:             retryBackoff(),
		}).
		Named("roleexternalreference").
		Complete(r)
}

// refusedReferencesUsingSecret maps a Secret to the references whose writes
// PostHog refused for the key it held: a new key is tried at once. (A
// rotation leaves a Ready connection unchanged, so the connection watch
// would not tell them.)
func (r *RoleExternalReferenceReconciler) refusedReferencesUsingSecret(
	ctx context.Context, secret client.Object,
) []reconcile.Request {
	var refused []iamv1alpha1.RoleExternalReference
	for _, kind := range []string{iamv1alpha1.KindPostHogConnection, iamv1alpha1.KindClusterPostHogConnection} {
		conns, err := connectionsReading(ctx, r, r.Connections, kind, secret)
		if err != nil {
			return nil
		}
		for _, conn := range conns {
			refs, err := referencesUsing(ctx, r, keyOf(conn))
			if err != nil {
				return nil
			}
			for j := range refs {
				if writesRefused(&refs[j]) {
					refused = append(refused, refs[j])
				}
			}
		}
	}
	return requestsFor(refused)
}

// requestsForReferencesUsing maps a connection to the references that name it.
func (r *RoleExternalReferenceReconciler) requestsForReferencesUsing(
	ctx context.Context, conn client.Object,
) []reconcile.Request {
	refs, err := referencesUsing(ctx, r, keyOf(conn.(iamv1alpha1.Connection)))
	if err != nil {
		return nil
	}
	return requestsFor(refs)
}
