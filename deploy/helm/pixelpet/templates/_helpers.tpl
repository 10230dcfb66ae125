{{- define "pixelpet.name" -}}
{{- .Chart.Name -}}
{{- end -}}

{{- define "pixelpet.fullname" -}}
{{- if eq .Release.Name .Chart.Name -}}{{ .Chart.Name }}{{- else -}}{{ printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" }}{{- end -}}
{{- end -}}

{{- define "pixelpet.selectorLabels" -}}
app.kubernetes.io/name: {{ include "pixelpet.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "pixelpet.labels" -}}
{{ include "pixelpet.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
{{- end -}}

{{/* The labels the Prometheus operator's selectors need (kube-prometheus-stack: release: <its name>). */}}
{{- define "pixelpet.monitoringLabels" -}}
{{ include "pixelpet.labels" . }}
{{- with .Values.monitoringLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "pixelpet.probeSelectorLabels" -}}
app.kubernetes.io/name: {{ include "pixelpet.name" . }}-probe
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "pixelpet.image" -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}

{{/* The pod template, shared by the Deployment and the canary's Rollout. */}}
{{- define "pixelpet.podTemplate" -}}
metadata:
  labels:
    {{- include "pixelpet.labels" . | nindent 4 }}
spec:
  serviceAccountName: {{ include "pixelpet.fullname" . }}
  automountServiceAccountToken: false
  terminationGracePeriodSeconds: {{ .Values.lifecycle.terminationGracePeriodSeconds }}
  securityContext:
    runAsNonRoot: true
    runAsUser: 10001
    runAsGroup: 10001
    fsGroup: 10001
    seccompProfile:
      type: RuntimeDefault
  topologySpreadConstraints:
    - maxSkew: {{ .Values.topologySpread.maxSkew }}
      topologyKey: topology.kubernetes.io/zone
      whenUnsatisfiable: ScheduleAnyway
      labelSelector:
        matchLabels:
          {{- include "pixelpet.selectorLabels" . | nindent 10 }}
    - maxSkew: {{ .Values.topologySpread.maxSkew }}
      topologyKey: kubernetes.io/hostname
      whenUnsatisfiable: ScheduleAnyway
      labelSelector:
        matchLabels:
          {{- include "pixelpet.selectorLabels" . | nindent 10 }}
  containers:
    - name: pixelpet
      image: {{ include "pixelpet.image" . }}
      imagePullPolicy: {{ .Values.image.pullPolicy }}
      args: ["serve"]
      ports:
        - name: http
          containerPort: {{ .Values.service.targetPort }}
          protocol: TCP
        - name: metrics
          containerPort: {{ .Values.service.metricsPort }}
          protocol: TCP
      # Order matters: Kubernetes expands $(NAME) only for variables defined above the one that uses it.
      env:
        - name: POD_NAME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        - name: POD_NAMESPACE
          valueFrom:
            fieldRef:
              fieldPath: metadata.namespace
        - name: PIXELPET_ENVIRONMENT
          value: {{ .Values.config.environment | quote }}
        - name: PIXELPET_HOST
          value: "0.0.0.0"
        - name: PIXELPET_PORT
          value: {{ .Values.service.targetPort | quote }}
        - name: PIXELPET_METRICS_PORT
          value: {{ .Values.service.metricsPort | quote }}
        - name: PIXELPET_MONGODB_URI
          valueFrom:
            secretKeyRef:
              name: {{ .Values.secrets.mongodbUri.name }}
              key: {{ .Values.secrets.mongodbUri.key }}
        {{- if .Values.secrets.adminToken.name }}
        - name: PIXELPET_ADMIN_TOKEN
          valueFrom:
            secretKeyRef:
              name: {{ .Values.secrets.adminToken.name }}
              key: {{ .Values.secrets.adminToken.key }}
        {{- end }}
        - name: PIXELPET_AUTH__ALGORITHMS
          value: {{ .Values.config.auth.algorithms | toJson | quote }}
        {{- if eq .Values.config.environment "production" }}
        - name: PIXELPET_AUTH__JWKS_URL
          value: {{ required "config.auth.jwksUrl is required in production (the service refuses to start without keys)" .Values.config.auth.jwksUrl | quote }}
        {{- else if .Values.config.auth.jwksUrl }}
        - name: PIXELPET_AUTH__JWKS_URL
          value: {{ .Values.config.auth.jwksUrl | quote }}
        {{- end }}
        {{- if eq .Values.config.environment "production" }}
        - name: PIXELPET_AUTH__ISSUER
          value: {{ required "config.auth.issuer is required in production" .Values.config.auth.issuer | quote }}
        - name: PIXELPET_AUTH__AUDIENCE
          value: {{ required "config.auth.audience is required in production" .Values.config.auth.audience | quote }}
        {{- else }}
        {{- with .Values.config.auth.issuer }}
        - name: PIXELPET_AUTH__ISSUER
          value: {{ . | quote }}
        {{- end }}
        {{- with .Values.config.auth.audience }}
        - name: PIXELPET_AUTH__AUDIENCE
          value: {{ . | quote }}
        {{- end }}
        {{- end }}
        - name: PIXELPET_LIFECYCLE__DRAIN_DELAY_S
          value: {{ .Values.lifecycle.drainDelaySeconds | quote }}
        - name: PIXELPET_LIFECYCLE__SHUTDOWN_GRACE_S
          value: {{ .Values.lifecycle.shutdownGraceSeconds | quote }}
        - name: PIXELPET_LOG_LEVEL
          value: {{ .Values.config.logLevel | quote }}
        - name: PIXELPET_CORS__ALLOWED_ORIGINS
          value: {{ .Values.config.corsAllowedOrigins | toJson | quote }}
        - name: PIXELPET_FORWARDED_ALLOW_IPS
          value: {{ .Values.config.forwardedAllowIps | toJson | quote }}
        - name: OTEL_EXPORTER_OTLP_ENDPOINT
          value: {{ .Values.config.otlpEndpoint | quote }}
        - name: OTEL_RESOURCE_ATTRIBUTES
          value: "k8s.pod.name=$(POD_NAME),k8s.namespace.name=$(POD_NAMESPACE)"
        {{- range $name, $value := .Values.config.extraEnv }}
        - name: {{ $name }}
          value: {{ $value | quote }}
        {{- end }}
      # Startup covers the first connection to MongoDB; liveness only proves the event loop answers (a database
      # outage must not restart every pod); readiness takes a pod out of rotation (database, change stream, drain).
      startupProbe:
        httpGet:
          path: /livez
          port: http
        periodSeconds: 2
        failureThreshold: 30
      livenessProbe:
        httpGet:
          path: /livez
          port: http
        periodSeconds: 10
        timeoutSeconds: 2
        failureThreshold: 3
      readinessProbe:
        httpGet:
          path: /readyz
          port: http
        periodSeconds: 5
        timeoutSeconds: 2
        failureThreshold: 1
      lifecycle:
        preStop:
          sleep:
            seconds: {{ .Values.lifecycle.preStopSleepSeconds }}
      resources:
        {{- toYaml .Values.resources | nindent 8 }}
      securityContext:
        allowPrivilegeEscalation: false
        readOnlyRootFilesystem: true
        capabilities:
          drop: ["ALL"]
{{- end -}}
