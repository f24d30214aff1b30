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
	"sigs.k8s.io/controller-runtime/pkg/client"

	iamv1alpha1 "github.com/posthog-operator/posthog-operator/api/v1alpha1"
)

// isPaused reports whether obj carries the paused annotation set to "true".
func isPaused(obj client.Object) bool {
	return obj.GetAnnotations()[iamv1alpha1.AnnotationPaused] == "true"
}

// reconcileRequest is the value of obj's reconcile-requested-at annotation:
// a value not yet in status.lastHandledReconcileAt asks for a check now.
func reconcileRequest(obj client.Object) string {
	return obj.GetAnnotations()[iamv1alpha1.AnnotationReconcileRequestedAt]
}
