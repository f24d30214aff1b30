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
	"time"

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
}

// roleMissing reports whether PostHog refused a create because its role is
// not a role of the organization (deleted, or never there).
func roleMissing(err error) bool {
	e, ok := errors.AsType[*posthog.Error](err)
	return ok && e.Kind == posthog.KindValidation && e.Attr == "role" && e.Code == "does_not_exist"
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
		return outcome{reason: iamv1alpha1.ReasonConnectionNotReady, message: connErr.message}
	}
	if blocked, ok := errors.AsType[*moveBlockedError](err); ok {
		return outcome{reason: iamv1alpha1.ReasonMoveBlocked, message: blocked.message}
	}
	return failureOf(classOf(err).reference, err)
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
