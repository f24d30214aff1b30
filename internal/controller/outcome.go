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

	"github.com/posthog-operator/posthog-operator/internal/posthog"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
)

// outcome is how one failed step ends a reconcile: the Ready reason and
// message to show, and whether to retry with backoff (transient) or after a
// fixed wait (terminal until something changes, or throttled).
type outcome struct {
	reason     string
	message    string
	transient  bool          // return the error: controller-runtime backs off exponentially
	retryAfter time.Duration // otherwise requeue after this long (0: the resync period)
}

// credentialsRetry is how soon a reference refused for its credentials tries
// again: a fixed Secret is usually noticed through the connection first.
const credentialsRetry = time.Minute

// classify maps an error to its outcome, once, for every step of the
// RoleExternalReference reconciler.
func classify(err error) outcome {
	if connErr, ok := errors.AsType[*connectionError](err); ok {
		return outcome{reason: iamv1alpha1.ReasonConnectionNotReady, message: connErr.message}
	}
	switch posthog.KindOf(err) {
	case posthog.KindValidation:
		return outcome{reason: iamv1alpha1.ReasonInvalidSpec, message: "PostHog refused the spec: " + err.Error()}
	case posthog.KindUnauthenticated, posthog.KindForbidden, posthog.KindNotFound:
		return outcome{
			reason:     iamv1alpha1.ReasonConnectionNotReady,
			message:    "PostHog refused the connection's API key or organization: " + err.Error(),
			retryAfter: credentialsRetry,
		}
	case posthog.KindThrottled:
		wait, _ := posthog.RetryAfter(err)
		return outcome{
			reason:     iamv1alpha1.ReasonThrottled,
			message:    fmt.Sprintf("PostHog rate limit reached; retrying in %s", wait.Round(time.Second)),
			retryAfter: wait,
		}
	default:
		return outcome{reason: iamv1alpha1.ReasonUnavailable, message: err.Error(), transient: true}
	}
}
