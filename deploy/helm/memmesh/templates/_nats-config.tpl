{{/*
nats-server configuration of the in-chart NATS (checked with `nats-server -t` by the chart
tests). Locked down: TLS on client, route and gateway connections (routes and gateways verify
the peer's certificate, so only servers holding a certificate of the shared CA join), and only
the users listed in the MEMMESH account may connect, with the permissions of their role.
*/}}
{{- define "memmesh.natsConfig" -}}
{{- $fullname := include "memmesh.fullname" . -}}
{{- $own := include "memmesh.ownRegion" . | fromJson -}}
{{- $headless := printf "%s-nats-headless.%s.svc.cluster.local" $fullname .Release.Namespace -}}
server_name: $POD_NAME
listen: 0.0.0.0:4222
http: 0.0.0.0:8222
pid_file: /var/run/nats/nats.pid
lame_duck_duration: 30s
tls {
  {{- include "memmesh.natsTlsFiles" . | nindent 2 }}
  timeout: 2
}
{{ include "memmesh.natsAccounts" . }}
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
  tls {
    {{- include "memmesh.natsTlsFiles" . | nindent 4 }}
    verify: true
    timeout: 2
  }
}
gateway {
  name: {{ $own.nats.cluster | quote }}
  listen: 0.0.0.0:7222
  {{- with .Values.nats.gatewayAdvertise }}
  advertise: {{ . | quote }}
  {{- end }}
  tls {
    {{- include "memmesh.natsTlsFiles" . | nindent 4 }}
    verify: true
    timeout: 2
  }
  gateways: [
    {{- range .Values.nats.gateways }}
    { name: {{ .name | quote }}, urls: [{{ range $i, $u := .urls }}{{ if $i }}, {{ end }}{{ $u | quote }}{{ end }}] }
    {{- end }}
  ]
}
{{- end -}}

{{- define "memmesh.natsTlsFiles" -}}
cert_file: /etc/nats/tls/tls.crt
key_file: /etc/nats/tls/tls.key
ca_file: /etc/nats/tls/ca.crt
{{- end -}}

{{/* The Secret with the servers' certificate and the CA: provided, or issued by cert-manager. */}}
{{- define "memmesh.natsTlsSecret" -}}
{{- if .Values.nats.tls.certManager.enabled -}}
{{- printf "%s-nats-tls" (include "memmesh.fullname" .) -}}
{{- else -}}
{{- required "nats.tls.existingSecret is required with the in-chart NATS (a kubernetes.io/tls Secret with ca.crt), or set nats.tls.certManager.enabled" .Values.nats.tls.existingSecret -}}
{{- end -}}
{{- end -}}

{{/*
The MEMMESH account and its users: this region's agent (and its previous key while a key
rotation is under way) and, when given, operator tooling.
No `no_auth_user`, so a client without credentials is refused. Other regions' agents connect
to their own region's servers and are listed there.
*/}}
{{- define "memmesh.natsAccounts" -}}
{{- $agent := required "nats.users.agentNkey is required with the in-chart NATS: the public nkey (U...) of the region agent, whose seed is in nats.credentials.existingSecret" .Values.nats.users.agentNkey -}}
accounts {
  MEMMESH: {
    jetstream: enabled
    users: [
      { nkey: {{ $agent | quote }}, permissions: {{ include "memmesh.natsAgentPermissions" . }} }
      {{- with .Values.nats.users.previousAgentNkey }}
      { nkey: {{ . | quote }}, permissions: {{ include "memmesh.natsAgentPermissions" $ }} }
      {{- end }}
      {{- with .Values.nats.users.gatewayNkey }}
      { nkey: {{ . | quote }}, permissions: {{ include "memmesh.natsGatewayPermissions" $ }} }
      {{- end }}
      {{- with .Values.nats.users.operatorNkey }}
      { nkey: {{ . | quote }}, permissions: { publish: { allow: [">"] }, subscribe: { allow: [">"] } } }
      {{- end }}
    ]
  }
}
{{- end -}}

{{/*
The region agent role, as @memmesh/core's regionAgentPermissions defines it (the chart tests
compare the two): its region's write, dead-letter and query subjects, the JetStream API of its
own two streams and their consumers, purges of its region stream (the expiry sweeper's and
erasures'), single-message deletes of its dead letters and the erasure audit subject (erasures),
single-message reads of the other regions' home streams, replies only to the queries it
received, and its inbox prefix.
*/}}
{{- define "memmesh.natsAgentPermissions" -}}
{{- $region := include "memmesh.region" . -}}
{{- $publish := list (printf "mem.%s.>" $region) (printf "dlq.%s.>" $region) (printf "q.%s.>" $region) "$JS.API.INFO" -}}
{{- $audit := include "memmesh.streamName" (list "AUDIT" $region) -}}
{{- range $api := list "STREAM.INFO.%s" "STREAM.CREATE.%s" "STREAM.UPDATE.%s" -}}
{{- $publish = append $publish (printf (printf "$JS.API.%s" $api) $audit) -}}
{{- end -}}
{{- range $stream := list (include "memmesh.streamName" (list "MEM" $region)) (include "memmesh.streamName" (list "DLQ" $region)) -}}
{{- range $api := list "STREAM.INFO.%s" "STREAM.CREATE.%s" "STREAM.UPDATE.%s" "STREAM.MSG.GET.%s" "DIRECT.GET.%s" "DIRECT.GET.%s.>" "CONSUMER.CREATE.%s" "CONSUMER.CREATE.%s.>" "CONSUMER.DURABLE.CREATE.%s.>" "CONSUMER.INFO.%s.>" "CONSUMER.DELETE.%s.>" "CONSUMER.MSG.NEXT.%s.>" -}}
{{- $publish = append $publish (printf (printf "$JS.API.%s" $api) $stream) -}}
{{- end -}}
{{- $publish = append $publish (printf "$JS.ACK.%s.>" $stream) -}}
{{- end -}}
{{- $publish = append $publish (printf "$JS.API.STREAM.PURGE.%s" (include "memmesh.streamName" (list "MEM" $region))) -}}
{{- /* An erasure deletes the erased subjects' dead letters, and appends its audit event. */ -}}
{{- $publish = append $publish (printf "$JS.API.STREAM.MSG.DELETE.%s" (include "memmesh.streamName" (list "DLQ" $region))) -}}
{{- $publish = append $publish (printf "audit.%s.erasure" $region) -}}
{{- range $other := keys .Values.regions | sortAlpha -}}
{{- if ne $other $region -}}
{{- $stream := include "memmesh.streamName" (list "MEM" $other) -}}
{{- range $api := list "STREAM.MSG.GET.%s" "DIRECT.GET.%s" "DIRECT.GET.%s.>" -}}
{{- $publish = append $publish (printf (printf "$JS.API.%s" $api) $stream) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $subscribe := list (printf "q.%s.>" $region) (printf "_INBOX.memmesh.%s.>" $region) -}}
{ publish: { allow: [{{ range $i, $s := $publish }}{{ if $i }}, {{ end }}{{ $s | quote }}{{ end }}] }, subscribe: { allow: [{{ range $i, $s := $subscribe }}{{ if $i }}, {{ end }}{{ $s | quote }}{{ end }}] }, allow_responses: true }
{{- end -}}

{{/* The gateway role, as @memmesh/core's gatewayPermissions: append to this region's audit log only. */}}
{{- define "memmesh.natsGatewayPermissions" -}}
{{- $region := include "memmesh.region" . -}}
{ publish: { allow: [{{ printf "audit.%s.>" $region | quote }}] }, subscribe: { allow: [{{ printf "_INBOX.memmesh-gateway.%s.>" $region | quote }}] } }
{{- end -}}

{{/* MEM_<REGION> or DLQ_<REGION>: (list "MEM" "us-east-1") → MEM_US_EAST_1, as @memmesh/core's streamName. */}}
{{- define "memmesh.streamName" -}}
{{- printf "%s_%s" (index . 0) (index . 1 | upper | replace "-" "_") -}}
{{- end -}}
