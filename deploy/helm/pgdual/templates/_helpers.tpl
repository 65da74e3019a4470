{{/*
Named templates shared by the manifests. The chart keeps to a small part of Helm's template
language (tests/integration/deploy/helm_render.py renders exactly that part and refuses the
rest), so that the test suite can render it without a helm binary.
*/}}

{{- define "pgdual.appName" -}}
{{- .Values.app.name | default .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "pgdual.configMapName" -}}
{{- .Values.configMap.name | default (printf "%s-pgdual-config" (include "pgdual.appName" .)) -}}
{{- end -}}

{{- define "pgdual.secretName" -}}
{{- .Values.secret.name | default (printf "%s-pgdual-secrets" (include "pgdual.appName" .)) -}}
{{- end -}}

{{- define "pgdual.image" -}}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) -}}
{{- end -}}

{{/* Helm's bookkeeping labels, on every object's metadata (never in selectors). */}}
{{- define "pgdual.helmLabels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
config.admin_listen: 127.0.0.1 keeps the admin port inside the pod (the exec probes reach it);
Prometheus scrapes from outside the pod, so any scraping binds it to 0.0.0.0.
*/}}
{{- define "pgdual.adminListen" -}}
{{- $m := .Values.metrics -}}
{{- if or $m.annotations $m.podMonitor.enabled $m.serviceMonitor.enabled -}}
0.0.0.0:{{ .Values.pgdual.adminPort }}
{{- else -}}
127.0.0.1:{{ .Values.pgdual.adminPort }}
{{- end -}}
{{- end -}}

{{/* pgdual.yaml: the config value with the admin_listen the chart decides. */}}
{{- define "pgdual.configFile" -}}
{{- toYaml (set (deepCopy .Values.config) "admin_listen" (include "pgdual.adminListen" .)) -}}
{{- end -}}

{{/*
The restart-only keys of config/restart_keys.cpp as JSON, under the key paths it names. Their
checksum is a pod annotation: changing one rolls the pods, while every other key (phase, limits,
log, users, passwords) reaches the running pods by a live reload and must not roll them. Keep in
step with restart_keys.cpp; test_helm_chart.py changes each key it lists and checks that the
checksum moves. Only switching to or from cdc needs a restart, not sync <-> async <-> outbox.
migration.mapping counts with its schema and tables (its rollback rule reloads live), and only
when one of them is set: without a mapping the checksum stays what it was before the key existed
(deploy/kubernetes/sidecar.yaml carries that value).
*/}}
{{- define "pgdual.restartKeys" -}}
{{- $c := .Values.config -}}
{{- $backends := $c.backends | default dict -}}
{{- $migration := $c.migration | default dict -}}
{{- $cdc := $migration.cdc | default dict -}}
{{- $keys := dict -}}
{{- $_ := set $keys "listen" $c.listen -}}
{{- $_ = set $keys "admin_listen" (include "pgdual.adminListen" .) -}}
{{- $_ = set $keys "workers" $c.workers -}}
{{- $_ = set $keys "tls" (pick ($c.tls | default dict) "cert_file" "key_file" "ca_file" "require") -}}
{{- $_ = set $keys "auth.method" ($c.auth | default dict).method -}}
{{- $_ = set $keys "backends.old" (pick ($backends.old | default dict) "host" "port" "user" "dbname" "sslmode" "sslrootcert" "sslcert" "sslkey" "connect_timeout_ms") -}}
{{- $_ = set $keys "backends.new" (pick ($backends.new | default dict) "host" "port" "user" "dbname" "sslmode" "sslrootcert" "sslcert" "sslkey" "connect_timeout_ms") -}}
{{- $_ = set $keys "migration.journal" (pick ($migration.journal | default dict) "store" "schema" "directory" "instance") -}}
{{- $_ = set $keys "migration.strategy is cdc" (eq ($migration.strategy | default "sync") "cdc") -}}
{{- $_ = set $keys "migration.cdc" (pick $cdc "copy_data" "manage") -}}
{{- $_ = set $keys "migration.cdc.publisher" (pick ($cdc.publisher | default dict) "host" "port" "user" "dbname" "sslmode") -}}
{{- $mapping := pick ($migration.mapping | default dict) "schema" "tables" -}}
{{- if $mapping -}}
{{- $_ = set $keys "migration.mapping" $mapping -}}
{{- end -}}
{{- toJson $keys -}}
{{- end -}}

{{/* The Secret's keys as environment variables, and the pod's name for ${POD_NAME}. */}}
{{- define "pgdual.env" -}}
{{- range .Values.secret.env -}}
- name: {{ .name }}
  valueFrom:
    secretKeyRef:
      name: {{ include "pgdual.secretName" $ }}
      key: {{ .key }}
{{ end -}}
# migration.journal.instance: each pgdual's name in the shared journal.
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
{{- end -}}

{{/*
The config and the secret files as two directory mounts: no subPath, because the kubelet
updates directory mounts in place (and pgdual reloads them) while subPath mounts never change.
*/}}
{{- define "pgdual.volumeMounts" -}}
- name: pgdual-config
  mountPath: /etc/pgdual/config
  readOnly: true
{{- if .Values.secret.files }}
- name: db-secrets
  mountPath: /etc/pgdual/secrets
  readOnly: true
{{- end }}
{{- end -}}

{{- define "pgdual.volumes" -}}
- name: pgdual-config
  configMap:
    name: {{ include "pgdual.configMapName" . }}
{{- if .Values.secret.files }}
- name: db-secrets
  secret:
    secretName: {{ include "pgdual.secretName" . }}
    defaultMode: {{ .Values.secret.defaultMode }}
    items:
      {{- range .Values.secret.files }}
      - key: {{ . }}
        path: {{ . }}
      {{- end }}
{{- end }}
{{- end -}}

{{/* What the chart refuses to render, with the reason. */}}
{{- define "pgdual.validate" -}}
{{- if not .Values.app.containers -}}
{{- fail "app.containers: list the application's containers (examples/orders-api.yaml)" -}}
{{- end -}}
{{- $backends := .Values.config.backends | default dict -}}
{{- $_ := required "config.backends.old.host is required" ($backends.old | default dict).host -}}
{{- $_ = required "config.backends.new.host is required" ($backends.new | default dict).host -}}
{{- /* pgdual's default drain timeout; `default` would also replace an explicit 0. */ -}}
{{- $limits := .Values.config.limits | default dict -}}
{{- $drainMs := 30000 -}}
{{- if hasKey $limits "drain_timeout_ms" -}}
{{- $drainMs = $limits.drain_timeout_ms | int64 -}}
{{- end -}}
{{- if le (mul .Values.app.terminationGracePeriodSeconds 1000) $drainMs -}}
{{- fail "app.terminationGracePeriodSeconds must exceed config.limits.drain_timeout_ms, or Kubernetes kills pgdual while it drains" -}}
{{- end -}}
{{- end -}}
