{{/* Chart name, truncated to the 63 characters a label value allows. */}}
{{- define "watcher.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Full name: release-chart, or the release name when it already holds the chart name. */}}
{{- define "watcher.fullname" -}}
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

{{- define "watcher.selectorLabels" -}}
app.kubernetes.io/name: {{ include "watcher.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "watcher.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "watcher.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "watcher.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "watcher.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "watcher.secretName" -}}
{{- default (include "watcher.fullname" .) .Values.existingSecret }}
{{- end }}

{{- define "watcher.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}
{{- end }}

{{/*
The rule files as a dict of file name -> file text: the chart's rules/*.yaml (verbatim, comments
kept) when rules.shipped, plus rules.extra (objects rendered as YAML, strings verbatim). The
rules ConfigMap and the PrometheusRule both use it, so watcher and Prometheus get the same rules.
*/}}
{{- define "watcher.ruleFiles" -}}
{{- $files := dict }}
{{- if .Values.rules.shipped }}
{{- range $path, $_ := .Files.Glob "rules/*.yaml" }}
{{- $_ := set $files (base $path) ($.Files.Get $path) }}
{{- end }}
{{- end }}
{{- range $name, $content := .Values.rules.extra }}
{{- if hasKey $files $name }}
{{- fail (printf "rules.extra.%s: a shipped rule file has that name" $name) }}
{{- end }}
{{- if not (regexMatch "^[A-Za-z0-9][A-Za-z0-9._-]*\\.yaml$" $name) }}
{{- fail (printf "rules.extra.%s: rule file names end in .yaml and hold no slash" $name) }}
{{- end }}
{{- $_ := set $files $name (ternary $content (toYaml $content) (kindIs "string" $content)) }}
{{- end }}
{{- toYaml $files }}
{{- end }}

{{/* Recreate when the state volume can be mounted by one node (or pod) only. */}}
{{- define "watcher.strategy" -}}
{{- if .Values.strategy }}
{{- toYaml .Values.strategy }}
{{- else if and .Values.persistence.enabled (or (has "ReadWriteOnce" .Values.persistence.accessModes) (has "ReadWriteOncePod" .Values.persistence.accessModes)) }}
type: Recreate
{{- else }}
type: RollingUpdate
{{- end }}
{{- end }}

{{/* The config as a dict: configFile parsed when given, else config. */}}
{{- define "watcher.config" -}}
{{- if .Values.configFile }}
{{- $parsed := fromYaml .Values.configFile }}
{{- if hasKey $parsed "Error" }}
{{- fail (printf "configFile is not YAML: %s" $parsed.Error) }}
{{- end }}
{{- toYaml $parsed }}
{{- else }}
{{- toYaml .Values.config }}
{{- end }}
{{- end }}

{{/* Fail early on values that would give a pod that cannot work. */}}
{{- define "watcher.validate" -}}
{{- $config := include "watcher.config" . | fromYaml }}
{{- $path := dig "storage" "path" "/var/lib/watcher/state.db" $config | toString }}
{{- $mount := trimSuffix "/" .Values.persistence.mountPath }}
{{- if and (ne $path ":memory:") (not (hasPrefix (printf "%s/" $mount) $path)) }}
{{- fail (printf "config.storage.path %q must be inside persistence.mountPath %q (the only writable place besides /tmp)" $path .Values.persistence.mountPath) }}
{{- end }}
{{- end }}
