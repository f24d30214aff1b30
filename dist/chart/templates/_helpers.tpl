{{/*
Expand the name of the chart.
*/}}
{{- define "posthog-operator.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Create a default fully qualified app name.
We truncate at 63 chars because some Kubernetes name fields are limited to this (by the DNS naming spec).
If release name contains chart name it will be used as a full name.
*/}}
{{- define "posthog-operator.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/*
A resource name: the full name and a suffix, truncated so the suffix always
survives (names that differ only in the suffix must stay distinct).
Takes a dict with .suffix and .context (the root context).
*/}}
{{- define "posthog-operator.resourceName" -}}
{{- $fullname := include "posthog-operator.fullname" .context }}
{{- $maxLen := sub 62 (len .suffix) | int }}
{{- printf "%s-%s" (trunc $maxLen $fullname | trimSuffix "-") .suffix | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
Labels on every object.
*/}}
{{- define "posthog-operator.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "posthog-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | trunc 63 | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/*
Labels that select the manager pods; control-plane matches config/ (kustomize).
*/}}
{{- define "posthog-operator.selectorLabels" -}}
app.kubernetes.io/name: {{ include "posthog-operator.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
control-plane: controller-manager
{{- end }}

{{/*
The manager's ServiceAccount.
*/}}
{{- define "posthog-operator.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "posthog-operator.resourceName" (dict "suffix" "controller-manager" "context" .)) .Values.serviceAccount.name }}
{{- else }}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/*
The manager image: repository@digest when a digest is set, else repository:tag.
*/}}
{{- define "posthog-operator.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/*
The metrics port's name, matching the scheme it serves.
*/}}
{{- define "posthog-operator.metricsPortName" -}}
{{- if .Values.metrics.secure }}https{{ else }}http{{ end }}
{{- end }}

{{/*
The cluster resource namespace: where the manager reads the API-key Secrets
of ClusterPostHogConnections. Defaults to the release namespace.
*/}}
{{- define "posthog-operator.clusterResourceNamespace" -}}
{{- .Values.clusterResourceNamespace | default .Release.Namespace }}
{{- end }}

{{/*
The --allowed-hosts value: the allowedHosts origins joined by commas. "*"
(every host) must be the only entry.
*/}}
{{- define "posthog-operator.allowedHosts" -}}
{{- if and (has "*" .Values.allowedHosts) (gt (len .Values.allowedHosts) 1) }}
{{- fail "allowedHosts: \"*\" allows every host and must be the only entry" }}
{{- end }}
{{- join "," .Values.allowedHosts }}
{{- end }}
