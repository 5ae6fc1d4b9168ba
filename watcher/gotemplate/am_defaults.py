"""The named templates Alertmanager ships (``default.tmpl``), written for this engine.

Each name renders what Alertmanager 0.25 documents and sends for it (checked byte for byte
against a real Alertmanager in ``tests/test_notify_slack_alertmanager.py``): ``__subject`` is
``[FIRING:2] <group label values> (<other common label values>)``, ``__alertmanagerURL`` links
to the receiver's alerts, ``__text_alert_list`` lists labels, annotations and source. The
``msteams.default.*`` names are Alertmanager 0.27's (the release whose Teams receiver has
``summary``; 0.25 has no Teams receiver), with its Markdown alert list.
"""

from __future__ import annotations

DEFAULT_TEMPLATES = r"""
{{- define "__alertmanager" }}Alertmanager{{ end -}}
{{- define "__alertmanagerURL" -}}
  {{ .ExternalURL }}/#/alerts?receiver={{ urlquery .Receiver }}
{{- end -}}
{{- define "__subject" -}}
  [{{ toUpper .Status }}{{ if eq .Status "firing" }}:{{ len .Alerts.Firing }}{{ end }}]
  {{- " " }}{{ join " " .GroupLabels.SortedPairs.Values }}
  {{- " " }}{{ if gt (len .CommonLabels) (len .GroupLabels) -}}
    ({{ with .CommonLabels.Remove .GroupLabels.Names }}{{ join " " .Values }}{{ end }})
  {{- end }}
{{- end -}}
{{- define "__description" }}{{ end -}}
{{- define "__text_alert_list" -}}
  {{ range $alert := . -}}
    Labels:{{ "\n" }}
    {{- range $alert.Labels.SortedPairs }}{{ printf " - %s = %s\n" .Name .Value }}{{ end -}}
    Annotations:{{ "\n" }}
    {{- range $alert.Annotations.SortedPairs }}{{ printf " - %s = %s\n" .Name .Value }}{{ end -}}
    Source: {{ $alert.GeneratorURL }}{{ "\n" }}
  {{- end }}
{{- end -}}

{{- define "slack.default.title" }}{{ template "__subject" . }}{{ end -}}
{{- define "slack.default.username" }}{{ template "__alertmanager" . }}{{ end -}}
{{- define "slack.default.fallback" -}}
  {{ template "slack.default.title" . }} | {{ template "slack.default.titlelink" . }}
{{- end -}}
{{- define "slack.default.callbackid" }}{{ end -}}
{{- define "slack.default.pretext" }}{{ end -}}
{{- define "slack.default.titlelink" }}{{ template "__alertmanagerURL" . }}{{ end -}}
{{- define "slack.default.iconemoji" }}{{ end -}}
{{- define "slack.default.iconurl" }}{{ end -}}
{{- define "slack.default.text" }}{{ end -}}
{{- define "slack.default.footer" }}{{ end -}}

{{- define "pagerduty.default.description" }}{{ template "__subject" . }}{{ end -}}
{{- define "pagerduty.default.client" }}{{ template "__alertmanager" . }}{{ end -}}
{{- define "pagerduty.default.clientURL" }}{{ template "__alertmanagerURL" . }}{{ end -}}
{{- define "pagerduty.default.instances" }}{{ template "__text_alert_list" . }}{{ end -}}

{{- define "email.default.subject" }}{{ template "__subject" . }}{{ end -}}

{{- define "opsgenie.default.message" }}{{ template "__subject" . }}{{ end -}}
{{- define "opsgenie.default.source" }}{{ template "__alertmanagerURL" . }}{{ end -}}
{{- define "opsgenie.default.description" -}}
  {{ join " " .CommonAnnotations.SortedPairs.Values }}{{ "\n" }}
  {{- with .Alerts.Firing }}Alerts Firing:{{ "\n" }}{{ template "__text_alert_list" . }}{{ end }}
  {{- "\n" }}{{ with .Alerts.Resolved }}Alerts Resolved:{{ "\n" }}{{ template "__text_alert_list" . }}{{ end }}
{{- end -}}
{{- define "__text_alert_list_markdown" -}}
  {{ range $alert := . -}}
    {{ "\n" }}Labels:{{ "\n" }}
    {{- range $alert.Labels.SortedPairs }}{{ printf "  - %s = %s\n" .Name .Value }}{{ end -}}
    {{ "\n" }}Annotations:{{ "\n" }}
    {{- range $alert.Annotations.SortedPairs }}{{ printf "  - %s = %s\n" .Name .Value }}{{ end -}}
    {{ "\n" }}Source: {{ $alert.GeneratorURL }}{{ "\n" }}
  {{- end }}{{ "\n" }}
{{- end -}}

{{- define "msteams.default.summary" }}{{ template "__subject" . }}{{ end -}}
{{- define "msteams.default.title" }}{{ template "__subject" . }}{{ end -}}
{{- define "msteams.default.text" -}}
  {{ "\n" }}
  {{- with .Alerts.Firing }}{{ "\n" }}# Alerts Firing:{{ "\n" }}{{ template "__text_alert_list_markdown" . }}{{ "\n" }}{{ end }}
  {{- "\n" }}
  {{- with .Alerts.Resolved }}{{ "\n" }}# Alerts Resolved:{{ "\n" }}{{ template "__text_alert_list_markdown" . }}{{ "\n" }}{{ end }}
  {{- "\n" }}
{{- end -}}
"""
