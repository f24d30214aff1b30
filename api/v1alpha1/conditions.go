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

package v1alpha1

// Condition types. Users, `kubectl wait` and GitOps health checks depend on
// these names: they are part of the API.
const (
	// ConditionReady is True when the object's job is done: for a connection,
	// PostHog accepted its key; for a reference, PostHog holds exactly what
	// the current generation's spec asks for, as last verified.
	ConditionReady = "Ready"
	// ConditionReconciling is True only while the current generation is not
	// held yet and the operator is working on it (creating, replacing,
	// deleting, or waiting to retry such a write). Absent otherwise. kstatus
	// reads it as InProgress.
	ConditionReconciling = "Reconciling"
	// ConditionStalled is True only when the operator will make no progress
	// until a person changes something (a Conflict, an InvalidSpec, a key
	// PostHog refuses). Absent otherwise. kstatus reads it as Failed.
	ConditionStalled = "Stalled"
	// ConditionSynced says whether the operator's last look at PostHog
	// succeeded. A transient PostHog error (5xx, 429, timeout) while checking
	// a generation already held makes it False and leaves Ready as last
	// verified, so GitOps health does not flap when PostHog has a bad minute.
	ConditionSynced = "Synced"
	// ConditionWritesRefused, on a PostHogConnection, is True only while
	// PostHog refuses creates or deletes made with its key for references
	// using it (a key that can read but not write: no organization:write
	// scope, or a user who is not an organization admin); its message names
	// them. Absent otherwise.
	ConditionWritesRefused = "WritesRefused"
)

// Annotations users set on either kind.
const (
	// AnnotationPaused "true" stops every PostHog call and write for the
	// object; on a PostHogConnection, for every reference using it.
	AnnotationPaused = "iam.posthog-operator.io/paused"
	// AnnotationReconcileRequestedAt set to a new value makes the operator
	// check the object against PostHog at once, with fresh data (Flux's
	// reconcile.fluxcd.io/requestedAt convention).
	AnnotationReconcileRequestedAt = "iam.posthog-operator.io/reconcile-requested-at"
)

// Reasons of the Ready condition. Each is documented in the README's
// troubleshooting table; keep the two in step.
const (
	// ReasonAvailable: Ready=True.
	ReasonAvailable = "Available"
	// ReasonConflict: another PostHog reference holds the same provider keys
	// with different fields; the operator does not touch it.
	ReasonConflict = "Conflict"
	// ReasonDuplicate: another RoleExternalReference already owns the PostHog
	// reference this one asks for. A wait, not an error: this object writes
	// nothing and takes over when the owner is deleted or changes its spec.
	ReasonDuplicate = "Duplicate"
	// ReasonDuplicateConflict: another RoleExternalReference owns the
	// PostHog reference of this provider role and maps it differently: git
	// declares two mappings of one provider role. A person must settle it;
	// when the owner is deleted, this object takes over with its own spec.
	ReasonDuplicateConflict = "DuplicateConflict"
	// ReasonMoveBlocked: the connection now points at another PostHog
	// organization or host, and the reference recorded in the old one cannot
	// be deleted there (another host, or no access). Nothing is created until
	// access returns or deletionPolicy is set to Orphan.
	ReasonMoveBlocked = "MoveBlocked"
	// ReasonRoleNotFound: spec.roleName matches no role of the organization
	// (never created, or renamed in PostHog). Nothing is written; a person
	// must fix the spec or the role.
	ReasonRoleNotFound = "RoleNotFound"
	// ReasonInvalidSpec: PostHog refused the spec (HTTP 400).
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonConnectionNotReady: the PostHogConnection is missing or not Ready,
	// or PostHog refused its key for this request.
	ReasonConnectionNotReady = "ConnectionNotReady"
	// ReasonThrottled: PostHog answered 429; the operator waits the time it named.
	ReasonThrottled = "Throttled"
	// ReasonUnavailable: PostHog answered 5xx or could not be reached; the
	// operator retries with exponential backoff.
	ReasonUnavailable = "Unavailable"
	// ReasonCreating: the operator is creating the PostHog reference; its
	// answer is not recorded yet.
	ReasonCreating = "Creating"

	// ReasonConnectionNotAllowed: the ClusterPostHogConnection named does
	// not allow this object's namespace (spec.namespaceSelector and
	// spec.namespaces). Nothing is sent to PostHog; what was created stays,
	// and deleting the object still deletes it.
	ReasonConnectionNotAllowed = "ConnectionNotAllowed"
	// ReasonRoleNotAllowed: the connection's spec.allowedRoles does not
	// list the PostHog role this object asks for. Nothing is sent to
	// PostHog; a reference already created stays, and deleting the object
	// still deletes it.
	ReasonRoleNotAllowed = "RoleNotAllowed"
	// ReasonProviderNotAllowed: the connection's spec.allowedProviders does
	// not list spec.provider. Nothing is sent to PostHog; a reference
	// already created stays, and deleting the object still deletes it.
	ReasonProviderNotAllowed = "ProviderNotAllowed"

	// ReasonSecretNotFound: the connection's Secret or its key is missing.
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonAPIKeyMalformed: the Secret's value is not shaped like a
	// PostHog personal API key (phx_ and no whitespace); it is never sent.
	ReasonAPIKeyMalformed = "APIKeyMalformed"
	// ReasonHostNotAllowed: the connection's host is not one of the origins
	// the manager's --allowed-hosts lists; its Secret is not read and
	// nothing is sent.
	ReasonHostNotAllowed = "HostNotAllowed"
	// ReasonDisabled: the manager runs with --namespaced-connections=false;
	// PostHogConnections are not used, ClusterPostHogConnections are.
	ReasonDisabled = "Disabled"
	// ReasonUnauthorized: PostHog rejected the API key (HTTP 401).
	ReasonUnauthorized = "Unauthorized"
	// ReasonForbidden: the key lacks a scope, admin access or access to the
	// organization (HTTP 403). On a RoleExternalReference: PostHog refused a
	// create or delete for the key's rights; nothing changed in PostHog.
	ReasonForbidden = "Forbidden"
	// ReasonOrganizationNotFound: PostHog does not know the organization (404).
	ReasonOrganizationNotFound = "OrganizationNotFound"
	// ReasonUnreachable: PostHog could not be reached or answered 5xx.
	ReasonUnreachable = "Unreachable"

	// ReasonReconcileSuccess: Synced=True, the last look at PostHog succeeded.
	ReasonReconcileSuccess = "ReconcileSuccess"
	// ReasonPaused: Synced=False, the object or its connection carries the
	// paused annotation; nothing is sent to PostHog.
	ReasonPaused = "Paused"
)
