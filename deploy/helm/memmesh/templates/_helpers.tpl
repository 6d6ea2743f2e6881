{{/*
Names, labels and the pieces every memmesh workload shares.
*/}}

{{- define "memmesh.fullname" -}}
{{- .Release.Name | trunc 50 | trimSuffix "-" -}}
{{- end -}}

{{- define "memmesh.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* The region this release runs, refused when its region file is missing from `regions`. */}}
{{- define "memmesh.region" -}}
{{- $region := required "region is required: install with -f values-<region>.yaml" .Values.region -}}
{{- if not (hasKey .Values.regions $region) -}}
{{- fail (printf "region %s has no entry in regions: regenerate the values with node scripts/deploy/region-values.ts" $region) -}}
{{- end -}}
{{- $region -}}
{{- end -}}

{{/* The own region's file (as a dict). */}}
{{- define "memmesh.ownRegion" -}}
{{- toJson (index .Values.regions (include "memmesh.region" .)) -}}
{{- end -}}

{{- define "memmesh.labels" -}}
helm.sh/chart: {{ include "memmesh.chart" . }}
app.kubernetes.io/name: memmesh
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
memmesh.io/region: {{ include "memmesh.region" . }}
{{- end -}}

{{/* Selector labels of one component: pass (dict "ctx" $ "component" "agent"). */}}
{{- define "memmesh.selectorLabels" -}}
app.kubernetes.io/name: memmesh
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "memmesh.componentLabels" -}}
{{ include "memmesh.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "memmesh.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "memmesh.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "memmesh.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}

{{- define "memmesh.natsUrl" -}}
{{- if .Values.nats.enabled -}}
{{- printf "nats://%s-nats.%s.svc.cluster.local:4222" (include "memmesh.fullname" .) .Release.Namespace -}}
{{- else -}}
{{- .Values.nats.url -}}
{{- end -}}
{{- end -}}

{{/*
The Secret whose CA the agents verify NATS with: the in-chart servers' own (its ca.crt), or
nats.tls.caSecret for an external NATS; empty when neither (the system's CAs then).
*/}}
{{- define "memmesh.natsCaSecret" -}}
{{- if .Values.nats.enabled -}}
{{- include "memmesh.natsTlsSecret" . -}}
{{- else -}}
{{- .Values.nats.tls.caSecret -}}
{{- end -}}
{{- end -}}

{{/* The in-chart NATS refuses anonymous clients: the agents must be given a user. */}}
{{- define "memmesh.natsCredentialsCheck" -}}
{{- if and .Values.nats.enabled (not .Values.nats.credentials.existingSecret) -}}
{{- fail "nats.credentials.existingSecret is required with the in-chart NATS: a Secret with the region agent's nkey seed (its public key goes in nats.users.agentNkey)" -}}
{{- end -}}
{{- end -}}

{{- define "memmesh.agentServiceUrl" -}}
{{- printf "http://%s-agent.%s.svc.cluster.local:%d" (include "memmesh.fullname" .) .Release.Namespace (int .Values.agent.port) -}}
{{- end -}}

{{/* The restricted security context of every container. */}}
{{- define "memmesh.containerSecurityContext" -}}
{{- toYaml .Values.securityContext }}
{{- end -}}

{{/*
Volumes every memmesh pod mounts: the region files, the tenants file and a writable /tmp.
The files are mounted one by one (subPath) so that MEMMESH_REGIONS_DIR holds real folders,
<id>/region.json, as in regions/: a whole ConfigMap volume would present the folders as
symbolic links next to its ..data folder, and loadTopology reads only real folders.
Pods restart on a change through the checksum/regions annotation (subPath mounts are not
refreshed in place).
*/}}
{{- define "memmesh.regionsVolume" -}}
- name: regions
  configMap:
    name: {{ include "memmesh.fullname" . }}-regions
{{- with .Values.secrets.tenants.existingSecret }}
- name: tenants
  secret:
    secretName: {{ . }}
{{- end }}
- name: tmp
  emptyDir:
    sizeLimit: 256Mi
{{- end -}}

{{- define "memmesh.regionsMounts" -}}
{{- range $id, $_ := .Values.regions }}
- name: regions
  mountPath: /etc/memmesh/regions/{{ $id }}/region.json
  subPath: {{ $id }}.region.json
  readOnly: true
{{- end }}
- name: {{ if .Values.secrets.tenants.existingSecret }}tenants{{ else }}regions{{ end }}
  mountPath: /etc/memmesh/regions/tenants.json
  subPath: tenants.json
  readOnly: true
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/* Environment shared by agents and gateway: log level, routing table. */}}
{{- define "memmesh.commonEnv" -}}
- name: MEMMESH_LOG_LEVEL
  value: {{ .Values.logLevel | quote }}
- name: MEMMESH_REGIONS_DIR
  value: /etc/memmesh/regions
- name: MEMMESH_ROUTING
  value: {{ .Values.routing.backend | quote }}
{{- if eq .Values.routing.backend "dynamodb" }}
- name: MEMMESH_DYNAMODB_TABLE
  value: {{ .Values.routing.dynamodb.table | quote }}
{{- with .Values.routing.dynamodb.endpoint }}
- name: MEMMESH_DYNAMODB_ENDPOINT
  value: {{ . | quote }}
{{- end }}
- name: AWS_REGION
  value: {{ default (include "memmesh.region" .) .Values.routing.dynamodb.awsRegion | quote }}
{{- with .Values.secrets.aws.existingSecret }}
- name: AWS_ACCESS_KEY_ID
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: AWS_ACCESS_KEY_ID
- name: AWS_SECRET_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: AWS_SECRET_ACCESS_KEY
{{- end }}
{{- end }}
{{- end -}}

{{- define "memmesh.probes" -}}
livenessProbe:
  httpGet:
    path: /healthz
    port: http
  {{- toYaml .Values.probes.liveness | nindent 2 }}
readinessProbe:
  httpGet:
    path: /readyz
    port: http
  {{- toYaml .Values.probes.readiness | nindent 2 }}
{{- end -}}
