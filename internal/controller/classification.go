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
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
	"github.com/posthog-operator/posthog-operator/internal/posthog"
)

// retryPolicy is when a failed step is tried again.
type retryPolicy int

const (
	// retryWithBackoff returns the error: the workqueue backs off
	// exponentially (capped at maxRetryDelay). For failures that end by
	// themselves: 5xx, timeouts, networks.
	retryWithBackoff retryPolicy = iota
	// retryAfterPostHogsWait requeues after the wait a 429 named.
	retryAfterPostHogsWait
	// retryAfterCredentialsWait requeues after credentialsRetry: a fixed key
	// is usually noticed through the connection first.
	retryAfterCredentialsWait
	// retryAtResync requeues at the next resync: only a change by a person
	// (which the watches see at once) can help.
	retryAtResync
)

// credentialsRetry is how soon a reference refused for its credentials tries
// again.
const credentialsRetry = time.Minute

// verdict is what one kind of failure means to one kind of object.
type verdict struct {
	reason string
	// prefix starts the condition message; PostHog's own error follows it.
	prefix string
	retry  retryPolicy
}

// class is one row of the classification: how a PostHog error kind ends a
// RoleExternalReference reconcile and a PostHogConnection check, and
// whether a write that failed so may still have landed.
type class struct {
	reference  verdict
	connection verdict
	// writeRefused: PostHog said no, so the write did not happen. Otherwise
	// (a timeout, a 5xx, an unreadable answer) it may have committed with
	// its answer lost.
	writeRefused bool
}

var (
	credentialsRefused = verdict{reason: iamv1alpha1.ReasonConnectionNotReady,
		prefix: "PostHog refused the connection's API key or organization: ", retry: retryAfterCredentialsWait}
	throttled = verdict{reason: iamv1alpha1.ReasonThrottled, retry: retryAfterPostHogsWait}
	// PostHog out of reach, or an answer that makes no sense: wait it out.
	referenceUnavailable  = verdict{reason: iamv1alpha1.ReasonUnavailable, retry: retryWithBackoff}
	connectionUnreachable = verdict{reason: iamv1alpha1.ReasonUnreachable,
		prefix: "PostHog could not be reached: ", retry: retryWithBackoff}
	unexpected = class{reference: referenceUnavailable, connection: connectionUnreachable}
)

// classification is the one table from PostHog's error kinds to what the
// operator does about them. Kinds not listed are unexpected.
var classification = map[posthog.Kind]class{
	posthog.KindValidation: {
		reference: verdict{reason: iamv1alpha1.ReasonInvalidSpec, prefix: "PostHog refused the spec: ",
			retry: retryAtResync},
		connection:   connectionUnreachable,
		writeRefused: true,
	},
	posthog.KindAlreadyExists: {reference: referenceUnavailable, connection: connectionUnreachable, writeRefused: true},
	posthog.KindUnauthenticated: {
		reference: credentialsRefused,
		connection: verdict{reason: iamv1alpha1.ReasonUnauthorized, prefix: "PostHog rejected the API key: ",
			retry: retryAtResync},
		writeRefused: true,
	},
	posthog.KindForbidden: {
		reference: credentialsRefused,
		connection: verdict{reason: iamv1alpha1.ReasonForbidden,
			prefix: "the API key may not read this organization's role external references " +
				"(it needs organization:read and organization:write, from an organization admin): ",
			retry: retryAtResync},
		writeRefused: true,
	},
	posthog.KindNotFound: {
		reference: credentialsRefused,
		connection: verdict{reason: iamv1alpha1.ReasonOrganizationNotFound,
			prefix: "PostHog does not know this organization id, or the key's user is not a member: ",
			retry:  retryAtResync},
		writeRefused: true,
	},
	posthog.KindOrganizationNotFound: {
		reference: verdict{reason: iamv1alpha1.ReasonConnectionNotReady,
			prefix: "PostHog cannot reach the connection's organization (deleted, a wrong id, or the key's user " +
				"removed from it); nothing is deleted or forgotten until it can: ",
			retry: retryAfterCredentialsWait},
		connection: verdict{reason: iamv1alpha1.ReasonOrganizationNotFound,
			prefix: "PostHog does not know this organization id, or the key's user is not a member: ",
			retry:  retryAtResync},
		writeRefused: true,
	},
	posthog.KindMethodNotAllowed: {reference: referenceUnavailable, connection: connectionUnreachable,
		writeRefused: true},
	// A 429 refuses nothing: a connection keeps its last verified Ready
	// (Throttled passes) and everyone waits the time PostHog names.
	posthog.KindThrottled: {reference: throttled, connection: throttled, writeRefused: true},
	// A list past --max-references-per-organization, or a page past its
	// size bound. Retried with backoff, as one oversized answer may be a
	// proxy's passing fault; a list reporting more than the cap costs one
	// page a retry. A write answered so may have landed.
	posthog.KindTooLarge: {
		reference:  verdict{reason: iamv1alpha1.ReasonUnavailable, prefix: answerTooLarge, retry: retryWithBackoff},
		connection: verdict{reason: iamv1alpha1.ReasonUnreachable, prefix: answerTooLarge, retry: retryWithBackoff},
	},
	// Pages that do not add up (no new item, more pages than the count):
	// a proxy or a server answering wrongly, perhaps for a while.
	posthog.KindPagination: {
		reference:  verdict{reason: iamv1alpha1.ReasonUnavailable, prefix: pagesDoNotAddUp, retry: retryWithBackoff},
		connection: verdict{reason: iamv1alpha1.ReasonUnreachable, prefix: pagesDoNotAddUp, retry: retryWithBackoff},
	},
}

// The messages of answers stopped at a bound.
const (
	answerTooLarge = "PostHog's answer is larger than the operator reads: an organization with more references " +
		"than --max-references-per-organization allows (raise it), or a page larger than the page asked for " +
		"(check what answers for PostHog at the connection's host): "
	pagesDoNotAddUp = "the pages of PostHog's list (the organization's references or roles) do not add up, and " +
		"were not followed further (check what answers for PostHog at the connection's host): "
)

// writeRefusedForKey reports whether PostHog refused a write (a create or a
// delete) for the key's rights: a 403 on a write, when reads pass (the
// connection's check reads). The key lacks organization:write, or its user
// is not an organization admin.
//
// PostHog's 403 says which in its detail: "API key missing required scope
// 'organization:write'" or "Your organization access level is
// insufficient." Its other 403s (a user removed from the organization, a
// key limited to other organizations) are the organization out of reach,
// which reads refuse too.
func writeRefusedForKey(err error) bool {
	e, ok := errors.AsType[*posthog.Error](err)
	if !ok || e.Kind != posthog.KindForbidden || (e.Method != http.MethodPost && e.Method != http.MethodDelete) {
		return false
	}
	detail := strings.ToLower(e.Detail)
	return strings.Contains(detail, "scope") || strings.Contains(detail, "access level")
}

// refusedWrite is what a write refused for the key's rights means to a
// reference: only a person can fix it.
var refusedWrite = verdict{reason: iamv1alpha1.ReasonForbidden,
	prefix: "PostHog refused to write with the connection's API key: the key needs the organization:write " +
		"scope, and its user must be an admin of the organization. Fix the key in the connection's Secret; " +
		"until then this object sends at most one write per resync period. PostHog said: ",
	retry: retryAtResync}

// refusesTheKey reports whether err is PostHog refusing the key for the
// organization (401, 403, an organization out of reach).
func refusesTheKey(err error) bool {
	return classOf(err).reference.reason == iamv1alpha1.ReasonConnectionNotReady
}

// fieldRole is the role field's name in PostHog's API: an error's attr, and
// a name posthog.Differences reports.
const fieldRole = "role"

// roleMissing reports whether PostHog refused a create because its role is
// not a role of the organization (deleted, or never there).
func roleMissing(err error) bool {
	e, ok := errors.AsType[*posthog.Error](err)
	return ok && e.Kind == posthog.KindValidation && e.Attr == fieldRole && e.Code == "does_not_exist"
}

func classOf(err error) class {
	if c, ok := classification[posthog.KindOf(err)]; ok {
		return c
	}
	return unexpected
}

// writeMayHaveLanded reports whether a failed write may still have happened.
func writeMayHaveLanded(err error) bool {
	return !classOf(err).writeRefused
}

// referenceFailure classifies err for a RoleExternalReference.
func referenceFailure(err error) outcome {
	if connErr, ok := errors.AsType[*connectionError](err); ok {
		// The connection's own reasons are the connection's to show; the
		// reference says only whether it may use it.
		reason := iamv1alpha1.ReasonConnectionNotReady
		if connErr.reason == iamv1alpha1.ReasonConnectionNotAllowed {
			reason = connErr.reason
		}
		return outcome{reason: reason, message: connErr.message}
	}
	if blocked, ok := errors.AsType[*moveBlockedError](err); ok {
		return outcome{reason: iamv1alpha1.ReasonMoveBlocked, message: blocked.message}
	}
	if spec, ok := errors.AsType[*specError](err); ok {
		return outcome{reason: spec.reason, message: spec.message}
	}
	if writeRefusedForKey(err) {
		return failureOf(refusedWrite, err)
	}
	return failureOf(classOf(err).reference, err)
}

// specError is a spec the operator will not send, found before anything
// is written (a role that does not exist, a value PostHog would blank).
// Its reason is a stalling one: a person must change the spec or PostHog.
type specError struct {
	reason, message string
}

func (e *specError) Error() string { return e.message }

// pausedError stops a reconcile: the object or its connection is paused.
type pausedError struct {
	by string
	// more says what the pause means to this reconcile, if anything.
	more string
}

func (e *pausedError) Error() string { return "paused by " + e.by }

// isKubernetesError reports whether err came from the API server (a
// conflict, a missing object): retried with backoff, conditions untouched.
func isKubernetesError(err error) bool {
	var status apierrors.APIStatus
	return errors.As(err, &status)
}

// connectionFailure classifies err for a PostHogConnection check. A
// connection's own problems (no Secret, an unusable client config) carry
// their reason already.
func connectionFailure(err error) outcome {
	if connErr, ok := errors.AsType[*connectionError](err); ok {
		return outcome{reason: connErr.reason, message: connErr.message}
	}
	return failureOf(classOf(err).connection, err)
}

func failureOf(v verdict, err error) outcome {
	o := outcome{reason: v.reason, message: v.prefix + err.Error()}
	switch v.retry {
	case retryWithBackoff:
		o.err = err
	case retryAfterPostHogsWait:
		wait, _ := posthog.RetryAfter(err)
		o.message = fmt.Sprintf("PostHog rate limit reached; retrying in %s", wait.Round(time.Second))
		o.requeueAfter = wait
	case retryAfterCredentialsWait:
		o.requeueAfter = credentialsRetry
	case retryAtResync:
	}
	return o
}
