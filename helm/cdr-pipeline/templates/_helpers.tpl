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

{{/*
Environment of a service's command, secrets only as file paths. Called with (dict "root" $ "role"
"producer"): the role's own Kafka principal (kafka.roles.<role>) where one is set, else the shared one.
*/}}
{{- define "cdr.commonEnv" -}}
{{- $v := .root.Values }}
{{- $r := index $v.kafka.roles .role | default dict }}
{{- if eq $v.kafka.sasl.mechanism "oauthbearer" }}
{{- with $v.kafka.sasl.oauth.tokenFile }}
- name: KAFKA_OAUTH_TOKEN_FILE
  value: {{ . | quote }}
{{- end }}
{{- with $v.kafka.sasl.oauth.tokenCommand }}
- name: KAFKA_OAUTH_TOKEN_COMMAND
  value: {{ . | quote }}
{{- end }}
{{- else if $v.kafka.sasl.mechanism }}
{{- with $r.username }}
- name: KAFKA_SASL_USERNAME
  value: {{ . | quote }}
{{- end }}
- name: KAFKA_SASL_PASSWORD_FILE
  value: /etc/cdr-pipeline/secrets/{{ default "kafka-sasl-password" $r.passwordKey }}
{{- end }}
{{- with $v.kafka.tls.caSecret }}
- name: KAFKA_SSL_CA_FILE
  value: /etc/cdr-pipeline/kafka-ca/ca.crt
{{- end }}
{{- if (default $v.kafka.tls.clientSecret $r.clientSecret) }}
- name: KAFKA_SSL_CERT_FILE
  value: /etc/cdr-pipeline/kafka-client/tls.crt
- name: KAFKA_SSL_KEY_FILE
  value: /etc/cdr-pipeline/kafka-client/tls.key
{{- end }}
{{- if $v.schemaRegistry.username }}
- name: SCHEMA_REGISTRY_PASSWORD_FILE
  value: /etc/cdr-pipeline/secrets/schema-registry-password
{{- end }}
{{- end -}}


{{/* The Kafka CA and client certificate Secrets, mounted as files where the environment says. */}}
{{- define "cdr.kafkaTlsMounts" -}}
{{- $v := .root.Values }}
{{- $r := index $v.kafka.roles .role | default dict }}
{{- if $v.kafka.tls.caSecret }}
- name: kafka-ca
  mountPath: /etc/cdr-pipeline/kafka-ca
  readOnly: true
{{- end }}
{{- if (default $v.kafka.tls.clientSecret $r.clientSecret) }}
- name: kafka-client
  mountPath: /etc/cdr-pipeline/kafka-client
  readOnly: true
{{- end }}
{{- end -}}

{{- define "cdr.kafkaTlsVolumes" -}}
{{- $v := .root.Values }}
{{- $r := index $v.kafka.roles .role | default dict }}
{{- with $v.kafka.tls.caSecret }}
- name: kafka-ca
  secret:
    secretName: {{ . }}
    items:
      - key: ca.crt
        path: ca.crt
{{- end }}
{{- with (default $v.kafka.tls.clientSecret $r.clientSecret) }}
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
