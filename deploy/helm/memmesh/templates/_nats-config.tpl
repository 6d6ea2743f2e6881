{{/* nats-server configuration of the in-chart NATS (checked with `nats-server -t` by the chart tests). */}}
{{- define "memmesh.natsConfig" -}}
{{- $fullname := include "memmesh.fullname" . -}}
{{- $own := include "memmesh.ownRegion" . | fromJson -}}
{{- $headless := printf "%s-nats-headless.%s.svc.cluster.local" $fullname .Release.Namespace -}}
server_name: $POD_NAME
listen: 0.0.0.0:4222
http: 0.0.0.0:8222
pid_file: /var/run/nats/nats.pid
lame_duck_duration: 30s
jetstream {
  store_dir: /data/jetstream
  max_file_store: {{ .Values.nats.jetstream.maxFileStore }}
  max_memory_store: {{ .Values.nats.jetstream.maxMemoryStore }}
  sync_interval: {{ .Values.nats.jetstream.syncInterval }}
}
cluster {
  name: {{ $own.nats.cluster | quote }}
  listen: 0.0.0.0:6222
  routes: [
    {{- range $i := until (int .Values.nats.replicas) }}
    "nats://{{ $fullname }}-nats-{{ $i }}.{{ $headless }}:6222"
    {{- end }}
  ]
}
gateway {
  name: {{ $own.nats.cluster | quote }}
  listen: 0.0.0.0:7222
  {{- with .Values.nats.gatewayAdvertise }}
  advertise: {{ . | quote }}
  {{- end }}
  gateways: [
    {{- range .Values.nats.gateways }}
    { name: {{ .name | quote }}, urls: [{{ range $i, $u := .urls }}{{ if $i }}, {{ end }}{{ $u | quote }}{{ end }}] }
    {{- end }}
  ]
}
{{- end -}}
