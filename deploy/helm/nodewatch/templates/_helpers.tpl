{{/*
Names and labels shared by every template.
*/}}

{{/* The objects' name: the release name when it already says "nodewatch"
(`helm install nodewatch`, which gives the kustomize base's names), else
RELEASE-nodewatch, so two releases never share a Lease or a PriorityClass. */}}
{{- define "nodewatch.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* The selector labels: the base's, never changed by an upgrade. */}}
{{- define "nodewatch.selectorLabels" -}}
app.kubernetes.io/name: nodewatch
app.kubernetes.io/component: agent
{{- end -}}

{{/* Helm's bookkeeping labels, on top of each object's own. */}}
{{- define "nodewatch.helmLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The config file: the values' config with the names the chart owns
(the Lease and audit ConfigMap the Role grants) filled in. */}}
{{- define "nodewatch.config" -}}
{{- $cfg := deepCopy .Values.config -}}
{{- $kube := default dict $cfg.kubernetes -}}
{{- $lease := default dict $kube.lease -}}
{{- $_ := set $lease "name" (include "nodewatch.fullname" .) -}}
{{- $_ := set $lease "namespace" .Release.Namespace -}}
{{- $_ := set $kube "lease" $lease -}}
{{- $audit := default dict $kube.audit -}}
{{- $_ := set $audit "configmap" (printf "%s-audit" (include "nodewatch.fullname" .)) -}}
{{- $_ := set $kube "audit" $audit -}}
{{- $_ := set $cfg "kubernetes" $kube -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/* Whether the config turns drain on (then the eviction RBAC is added). */}}
{{- define "nodewatch.drain" -}}
{{- $kube := default dict .Values.config.kubernetes -}}
{{- $drain := default dict $kube.drain -}}
{{- if $drain.enabled -}}true{{- end -}}
{{- end -}}
