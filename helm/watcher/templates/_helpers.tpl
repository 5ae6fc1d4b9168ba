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
{{- if .Values.ha.enabled }}
{{- include "watcher.validateHa" (dict "Values" .Values "config" $config) }}
{{- end }}
{{- end }}

{{/* The pod template shared by the Deployment and, with ha.enabled, the StatefulSet. */}}
{{- define "watcher.podTemplate" -}}
{{- $config := include "watcher.config" . | fromYaml }}
{{- $listen := dig "server" "listen" "0.0.0.0:9746" $config | toString }}
{{- $port := regexFind "[0-9]+$" $listen | default "9746" | atoi }}
metadata:
  labels:
    {{- include "watcher.selectorLabels" . | nindent 4 }}
    {{- with .Values.podLabels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  annotations:
    # A changed config, rule file or chart-managed secret rolls the pod.
    checksum/config: {{ include (print $.Template.BasePath "/configmap.yaml") . | sha256sum }}
    checksum/rules: {{ include (print $.Template.BasePath "/rules-configmap.yaml") . | sha256sum }}
    {{- if not .Values.existingSecret }}
    checksum/secret: {{ include (print $.Template.BasePath "/secret.yaml") . | sha256sum }}
    {{- end }}
    {{- with .Values.podAnnotations }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  serviceAccountName: {{ include "watcher.serviceAccountName" . }}
  automountServiceAccountToken: {{ .Values.serviceAccount.automountServiceAccountToken }}
  {{- with .Values.imagePullSecrets }}
  imagePullSecrets:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- with .Values.priorityClassName }}
  priorityClassName: {{ . }}
  {{- end }}
  securityContext:
    {{- toYaml .Values.podSecurityContext | nindent 4 }}
  terminationGracePeriodSeconds: {{ .Values.terminationGracePeriodSeconds }}
  containers:
    - name: watcher
      image: {{ include "watcher.image" . | quote }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args:
        {{- if .Values.args }}
        {{- toYaml .Values.args | nindent 8 }}
        {{- else }}
        - run
        - -c
        - /etc/watcher/config/watcher.yaml
        {{- end }}
      ports:
        - name: metrics
          containerPort: {{ $port }}
          protocol: TCP
      {{- if or .Values.secretEnv .Values.env .Values.ha.enabled }}
      env:
        {{- if .Values.ha.enabled }}
        # ha.replica in the config is ${POD_NAME}: watcher-0, watcher-1 (the ordinal is the index)
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        {{- end }}
        {{- range $name, $key := .Values.secretEnv }}
        - name: {{ $name }}
          valueFrom:
            secretKeyRef:
              name: {{ include "watcher.secretName" $ }}
              key: {{ $key }}
              optional: true
        {{- end }}
        {{- with .Values.env }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
      {{- end }}
      {{- with .Values.envFrom }}
      envFrom:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.livenessProbe }}
      livenessProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      {{- with .Values.readinessProbe }}
      readinessProbe:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      securityContext:
        {{- toYaml .Values.securityContext | nindent 8 }}
      {{- with .Values.resources }}
      resources:
        {{- toYaml . | nindent 8 }}
      {{- end }}
      volumeMounts:
        - name: config
          mountPath: /etc/watcher/config
          readOnly: true
        - name: rules
          mountPath: /etc/watcher/rules
          readOnly: true
        - name: secrets
          mountPath: /etc/watcher/secrets
          readOnly: true
        - name: state
          mountPath: {{ .Values.persistence.mountPath }}
        - name: tmp
          mountPath: /tmp
        {{- with .Values.extraVolumeMounts }}
        {{- toYaml . | nindent 8 }}
        {{- end }}
  volumes:
    - name: config
      configMap:
        name: {{ include "watcher.fullname" . }}-config
    - name: rules
      configMap:
        name: {{ include "watcher.fullname" . }}-rules
    - name: secrets
      secret:
        secretName: {{ include "watcher.secretName" . }}
        defaultMode: 0440
    {{- if not .Values.ha.enabled }}
    {{- /* under ha each pod's "state" volume comes from the StatefulSet's volumeClaimTemplates */}}
    - name: state
      {{- if .Values.persistence.enabled }}
      persistentVolumeClaim:
        claimName: {{ default (printf "%s-state" (include "watcher.fullname" .)) .Values.persistence.existingClaim }}
      {{- else }}
      emptyDir: {}
      {{- end }}
    {{- end }}
    - name: tmp
      emptyDir:
        medium: Memory
        sizeLimit: 16Mi
    {{- with .Values.extraVolumes }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  {{- with .Values.nodeSelector }}
  nodeSelector:
    {{- toYaml . | nindent 4 }}
  {{- end }}
  {{- if .Values.affinity }}
  affinity:
    {{- toYaml .Values.affinity | nindent 4 }}
  {{- else if .Values.ha.enabled }}
  {{- /* replicas on different nodes: a node failure takes one replica, not the pair */}}
  affinity:
    podAntiAffinity:
      {{- $term := dict "labelSelector" (dict "matchLabels" (include "watcher.selectorLabels" . | fromYaml)) "topologyKey" .Values.ha.antiAffinityTopologyKey }}
      {{- if eq .Values.ha.antiAffinity "hard" }}
      requiredDuringSchedulingIgnoredDuringExecution:
        {{- list $term | toYaml | nindent 8 }}
      {{- else }}
      preferredDuringSchedulingIgnoredDuringExecution:
        {{- list (dict "weight" 100 "podAffinityTerm" $term) | toYaml | nindent 8 }}
      {{- end }}
  {{- end }}
  {{- with .Values.tolerations }}
  tolerations:
    {{- toYaml . | nindent 4 }}
  {{- end }}
{{- end }}

{{/* ha.enabled: what the chart writes into the config (README "High availability"). */}}
{{- define "watcher.haConfig" -}}
# Written by the chart (ha.enabled): this pod is replica ${POD_NAME} of {{ .Values.ha.replicas }};
# every replica sends the same alerts to every Alertmanager peer, whose gossip pages once.
ha:
  replicas: {{ .Values.ha.replicas }}
  replica: ${POD_NAME}
  share_rate_limit: {{ .Values.ha.shareRateLimit }}
route:
  receiver: alertmanager
receivers:
  - name: alertmanager
    alertmanager_configs:
      {{- range .Values.ha.alertmanagers }}
      - url: {{ . | quote }}
      {{- end }}
{{- end }}

{{- define "watcher.validateHa" -}}
{{- if not .Values.ha.alertmanagers }}
{{- fail "ha.enabled needs ha.alertmanagers: the URL of every peer of the Alertmanager cluster (e.g. http://alertmanager-0.alertmanager:9093)" }}
{{- end }}
{{- range .Values.ha.alertmanagers }}
{{- if not (regexMatch "^https?://[^\\s/]+" .) }}
{{- fail (printf "ha.alertmanagers: %q is not an http(s) URL" .) }}
{{- end }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) (ne (int .Values.replicaCount) (int .Values.ha.replicas)) }}
{{- fail "with ha.enabled the number of pods is ha.replicas, not replicaCount" }}
{{- end }}
{{- if .Values.persistence.existingClaim }}
{{- fail "ha.enabled gives each replica its own claim (volumeClaimTemplates): persistence.existingClaim cannot be shared" }}
{{- end }}
{{- $written := list }}
{{- range $key := list "ha" "route" "receivers" }}
{{- if and (hasKey $.config $key) (or $.Values.configFile (eq $key "ha")) }}
{{- $written = append $written $key }}
{{- end }}
{{- end }}
{{- if $written }}
{{- fail (printf "with ha.enabled the chart writes %s into the config (from the ha.* values): remove %s from %s" (join ", " (list "ha" "route" "receivers")) (join ", " $written) (ternary "configFile" "config" (not (empty .Values.configFile)))) }}
{{- end }}
{{- end }}
