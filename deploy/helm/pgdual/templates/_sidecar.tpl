{{/*
The pgdual container of each application pod: an init container with restartPolicy Always (a
native sidecar, Kubernetes 1.29 and later: started and probed before the application, stopped
after it), or with pgdual.nativeSidecar false a plain container whose preStop sleep keeps it up
while the application shuts down.
*/}}
{{- define "pgdual.sidecar" -}}
{{- $healthz := printf "http://127.0.0.1:%v/healthz" .Values.pgdual.adminPort -}}
{{- $readyz := printf "http://127.0.0.1:%v/readyz" .Values.pgdual.adminPort -}}
- name: pgdual
  image: {{ include "pgdual.image" . }}
  {{- with .Values.image.pullPolicy }}
  imagePullPolicy: {{ . }}
  {{- end }}
  {{- if .Values.pgdual.nativeSidecar }}
  restartPolicy: Always
  {{- else }}
  lifecycle:
    preStop:
      exec:
        command: ["sleep", {{ .Values.pgdual.preStopSleepSeconds | quote }}]
  {{- end }}
  # The config and the secrets are two volumes (a mount nested in another read-only
  # volume is fragile), so the file is named instead of the image's default path.
  command: ["pgdual", "run", "--config", "/etc/pgdual/config/pgdual.yaml"]
  ports:
    - name: admin
      containerPort: {{ .Values.pgdual.adminPort }}
  env:
    {{- include "pgdual.env" . | nindent 4 }}
    {{- with .Values.pgdual.env }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
  volumeMounts:
    {{- include "pgdual.volumeMounts" . | nindent 4 }}
  # Exec probes run inside the container: the kubelet's HTTP probes come from the
  # node and cannot reach an admin port on 127.0.0.1. They work on 0.0.0.0 too.
  startupProbe:
    exec:
      command: ["curl", "-fsS", "-o", "/dev/null", "--max-time", "2", {{ $healthz | quote }}]
    {{- toYaml .Values.pgdual.probes.startup | nindent 4 }}
  readinessProbe:
    exec:
      command: ["curl", "-fsS", "-o", "/dev/null", "--max-time", "2", {{ $readyz | quote }}]
    {{- toYaml .Values.pgdual.probes.readiness | nindent 4 }}
  livenessProbe:
    exec:
      command: ["curl", "-fsS", "-o", "/dev/null", "--max-time", "2", {{ $healthz | quote }}]
    {{- toYaml .Values.pgdual.probes.liveness | nindent 4 }}
  resources:
    {{- toYaml .Values.pgdual.resources | nindent 4 }}
  securityContext:
    {{- toYaml .Values.pgdual.securityContext | nindent 4 }}
{{- end -}}
