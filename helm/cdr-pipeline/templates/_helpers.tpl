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

{{/* Environment of every command: secrets only as file paths. */}}
{{- define "cdr.commonEnv" -}}
{{- if eq .Values.kafka.sasl.mechanism "oauthbearer" }}
{{- with .Values.kafka.sasl.oauth.tokenFile }}
- name: KAFKA_OAUTH_TOKEN_FILE
  value: {{ . | quote }}
{{- end }}
{{- with .Values.kafka.sasl.oauth.tokenCommand }}
- name: KAFKA_OAUTH_TOKEN_COMMAND
  value: {{ . | quote }}
{{- end }}
{{- else if .Values.kafka.sasl.mechanism }}
- name: KAFKA_SASL_PASSWORD_FILE
  value: /etc/cdr-pipeline/secrets/kafka-sasl-password
{{- end }}
{{- with .Values.kafka.tls.caSecret }}
- name: KAFKA_SSL_CA_FILE
  value: /etc/cdr-pipeline/kafka-ca/ca.crt
{{- end }}
{{- with .Values.kafka.tls.clientSecret }}
- name: KAFKA_SSL_CERT_FILE
  value: /etc/cdr-pipeline/kafka-client/tls.crt
- name: KAFKA_SSL_KEY_FILE
  value: /etc/cdr-pipeline/kafka-client/tls.key
{{- end }}
{{- if .Values.schemaRegistry.username }}
- name: SCHEMA_REGISTRY_PASSWORD_FILE
  value: /etc/cdr-pipeline/secrets/schema-registry-password
{{- end }}
{{- end -}}


{{/* The Kafka CA and client certificate Secrets, mounted as files where the environment says. */}}
{{- define "cdr.kafkaTlsMounts" -}}
{{- if .Values.kafka.tls.caSecret }}
- name: kafka-ca
  mountPath: /etc/cdr-pipeline/kafka-ca
  readOnly: true
{{- end }}
{{- if .Values.kafka.tls.clientSecret }}
- name: kafka-client
  mountPath: /etc/cdr-pipeline/kafka-client
  readOnly: true
{{- end }}
{{- end -}}

{{- define "cdr.kafkaTlsVolumes" -}}
{{- with .Values.kafka.tls.caSecret }}
- name: kafka-ca
  secret:
    secretName: {{ . }}
    items:
      - key: ca.crt
        path: ca.crt
{{- end }}
{{- with .Values.kafka.tls.clientSecret }}
- name: kafka-client
  secret:
    secretName: {{ . }}
    items:
      - key: tls.crt
        path: tls.crt
      - key: tls.key
        path: tls.key
{{- end }}
{{- end -}}
