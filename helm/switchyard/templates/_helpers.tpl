{{- define "switchyard.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{- define "switchyard.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* Selector of one component: {{ include "switchyard.selector" (list $root "ingress") }} */}}
{{- define "switchyard.selector" -}}
app.kubernetes.io/instance: {{ (index . 0).Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "switchyard.natsUrl" -}}
{{- if .Values.bundled.nats.enabled -}}
nats://{{ include "switchyard.fullname" . }}-nats:4222
{{- else -}}
{{ .Values.nats.url }}
{{- end -}}
{{- end -}}

{{- define "switchyard.clickhouseUrl" -}}
{{- if .Values.bundled.clickhouse.enabled -}}
http://{{ include "switchyard.fullname" . }}-clickhouse:8123
{{- else -}}
{{ .Values.clickhouse.url }}
{{- end -}}
{{- end -}}

{{/* Secret and key holding DATABASE_URL. */}}
{{- define "switchyard.databaseSecret" -}}
{{- if .Values.bundled.postgres.enabled -}}
{{ include "switchyard.fullname" . }}-postgres
{{- else -}}
{{ .Values.postgres.existingSecret }}
{{- end -}}
{{- end -}}
{{- define "switchyard.databaseSecretKey" -}}
{{- if .Values.bundled.postgres.enabled -}}url{{- else -}}{{ .Values.postgres.secretKey }}{{- end -}}
{{- end -}}
