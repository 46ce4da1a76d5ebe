{{- define "cdr.fullname" -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cdr.labels" -}}
app.kubernetes.io/name: {{ .Chart.Name }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end -}}

{{- define "cdr.secretName" -}}
{{- default (printf "%s-secrets" (include "cdr.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* The pod-level settings every pipeline pod shares: a restricted security context. */}}
{{- define "cdr.podSecurity" -}}
securityContext:
  runAsNonRoot: true
  runAsUser: 1000
  runAsGroup: 1000
  fsGroup: 1000
  seccompProfile:
    type: RuntimeDefault
{{- end -}}

{{- define "cdr.containerSecurity" -}}
securityContext:
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  runAsNonRoot: true
  capabilities:
    drop: ["ALL"]
{{- end -}}

{{- define "cdr.probes" -}}
livenessProbe:
  httpGet: { path: /healthz, port: metrics }
  initialDelaySeconds: 10
  periodSeconds: 10
readinessProbe:
  httpGet: { path: /readyz, port: metrics }
  initialDelaySeconds: 10
  periodSeconds: 10
  failureThreshold: 3
{{- end -}}

{{/* Environment of both commands: secrets only as file paths. */}}
{{- define "cdr.commonEnv" -}}
{{- if .Values.kafka.sasl.mechanism }}
- name: KAFKA_SASL_PASSWORD_FILE
  value: /etc/cdr-pipeline/secrets/kafka-sasl-password
{{- end }}
{{- if .Values.schemaRegistry.username }}
- name: SCHEMA_REGISTRY_PASSWORD_FILE
  value: /etc/cdr-pipeline/secrets/schema-registry-password
{{- end }}
{{- end -}}
