/**
 * @module helm
 * What the chart tests share: the pinned tools (helm, kubernetes-validate, nats-server, put in
 * place by scripts/toolchain.sh), rendering the chart with a region's values, and reading the
 * rendered manifests back as objects. Every child process has a time limit.
 */
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { nkeys } from '@nats-io/transport-node';
import { parseAllDocuments } from 'yaml';

export const ROOT = new URL('../../..', import.meta.url).pathname;
export const CHART_DIR = join(ROOT, 'deploy/helm/memmesh');
/** The Kubernetes version the manifests are validated against (kubernetes-validate's schemas). */
export const KUBERNETES_VERSION = '1.35.0';
/** One helm or kubernetes-validate run; they take well under a second each. */
export const TOOL_TIMEOUT_MS = 30_000;
const OUTPUT_BYTES_MAX = 16 * 1024 * 1024;

function tool(envName: string, fallback: string, hint: string): string {
  const bin = process.env[envName] ?? join(ROOT, fallback);
  if (!existsSync(bin)) throw new Error(`${bin} is missing (${envName}): ${hint}`);
  return bin;
}

const INSTALL_HINT = 'run `bash scripts/deploy/install-tools.sh` (npm test does it)';
export const helmBin = () => tool('MEMMESH_HELM_BIN', '.tools/bin/helm', INSTALL_HINT);
export const kubernetesValidateBin = () =>
  tool('MEMMESH_KUBERNETES_VALIDATE_BIN', '.tools/deploy-venv/bin/kubernetes-validate', INSTALL_HINT);
export const natsServerBin = () =>
  tool('MEMMESH_NATS_SERVER_BIN', '.tools/bin/nats-server', 'run `bash scripts/toolchain.sh` once');

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a tool to its end (bounded by TOOL_TIMEOUT_MS); a non-zero exit is a result, not a throw. */
export function run(
  bin: string,
  args: string[],
  env: Record<string, string> = {},
  input?: string,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      bin,
      args,
      {
        timeout: TOOL_TIMEOUT_MS,
        maxBuffer: OUTPUT_BYTES_MAX,
        // helm keeps its cache and config here; the tests must not touch the user's.
        env: {
          ...process.env,
          HELM_CACHE_HOME: '/tmp/memmesh-helm/cache',
          HELM_CONFIG_HOME: '/tmp/memmesh-helm/config',
          ...env,
        },
      },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') {
          reject(new Error(`${bin} ${args.join(' ')} did not finish: ${error.message}`, { cause: error }));
          return;
        }
        resolve({ code: typeof error?.code === 'number' ? error.code : 0, stdout, stderr });
      },
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** Regions that have a values file (values-<region>.yaml), sorted. */
export function valuesRegions(): string[] {
  return readdirSync(CHART_DIR)
    .map((name) => /^values-(.+)\.yaml$/.exec(name)?.[1])
    .filter((region): region is string => region !== undefined)
    .sort();
}

export const valuesFile = (region: string) => join(CHART_DIR, `values-${region}.yaml`);

/** helm template of one region's release, with extra `--set`/`--set-json` style arguments. */
export async function helmTemplate(region: string | undefined, extraArgs: string[] = []): Promise<RunResult> {
  const args = ['template', `memmesh-${region ?? 'none'}`, CHART_DIR, '--namespace', 'memmesh'];
  if (region !== undefined) args.push('--values', valuesFile(region));
  return run(helmBin(), [...args, ...extraArgs]);
}

/** Renders a region's release and fails the test with helm's own message if it does not render. */
export async function render(region: string, extraArgs: string[] = []): Promise<Manifest[]> {
  const result = await helmTemplate(region, extraArgs);
  if (result.code !== 0) throw new Error(`helm template failed for ${region}:\n${result.stderr}`);
  return parseManifests(result.stdout);
}

export interface Manifest {
  apiVersion: string;
  kind: string;
  metadata: { name: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec?: any;
  data?: Record<string, string>;
  [key: string]: unknown;
}

export function parseManifests(text: string): Manifest[] {
  return parseAllDocuments(text)
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`rendered YAML does not parse: ${doc.errors[0]?.message}`);
      return doc.toJS() as Manifest | null;
    })
    .filter((m): m is Manifest => m !== null);
}

export const byKind = (manifests: Manifest[], kind: string) => manifests.filter((m) => m.kind === kind);

/** Pod templates of Deployments and StatefulSets, with the workload's name. */
export function podTemplates(manifests: Manifest[]): { workload: string; spec: any }[] {
  return manifests
    .filter((m) => m.kind === 'Deployment' || m.kind === 'StatefulSet')
    .map((m) => ({ workload: `${m.kind}/${m.metadata.name}`, spec: m.spec.template.spec }));
}

/** The container of a memmesh component (agent or gateway) in a render. */
export function componentContainer(manifests: Manifest[], component: 'agent' | 'gateway'): any {
  const workload = manifests.find(
    (m) =>
      (m.kind === 'Deployment' || m.kind === 'StatefulSet') &&
      m.metadata.labels?.['app.kubernetes.io/component'] === component,
  );
  if (!workload) throw new Error(`no ${component} workload in the render`);
  const container = workload.spec.template.spec.containers.find((c: any) => c.name === component);
  if (!container) throw new Error(`${workload.metadata.name} has no container named ${component}`);
  return container;
}

/**
 * Values that switch on every optional part at once: production backends with their Secrets,
 * DynamoDB routing, in-chart NATS with gateways. Renders of it show every variable the chart
 * can set.
 */
/** Public nkeys of this run's NATS users (the seeds are never needed: nothing connects). */
export const AGENT_NKEY = nkeys.createUser().getPublicKey();
export const OPERATOR_NKEY = nkeys.createUser().getPublicKey();
export const GATEWAY_NKEY = nkeys.createUser().getPublicKey();
/** What the in-chart NATS needs to be locked down: users, the agents' seed, the servers' certificate. */
export const NATS_SECURITY_ARGS = [
  '--set',
  `nats.users.agentNkey=${AGENT_NKEY},nats.users.operatorNkey=${OPERATOR_NKEY},nats.users.gatewayNkey=${GATEWAY_NKEY}`,
  '--set',
  'nats.gatewayCredentials.existingSecret=memmesh-nats-gateway',
  '--set',
  'nats.credentials.existingSecret=memmesh-nats-agent,nats.tls.existingSecret=memmesh-nats-tls',
];

export const EVERYTHING_ON_ARGS = [
  ...NATS_SECURITY_ARGS,
  '--set-json',
  'networkPolicy.natsGatewayFrom=[{"ipBlock":{"cidr":"10.20.0.0/16"}}]',
  '--set',
  'regions.us-east-1.backends.index=milvus,regions.us-east-1.backends.cache=redis',
  '--set',
  'regions.us-east-1.backends.embedder=openai,regions.us-east-1.streamReplicas=3',
  '--set',
  'backends.milvus.address=milvus.milvus.svc:19530,backends.openai.baseUrl=http://embedder.ai.svc:8000/v1',
  '--set',
  'secrets.redis.existingSecret=memmesh-redis,secrets.milvus.existingSecret=memmesh-milvus',
  '--set',
  'secrets.openai.existingSecret=memmesh-openai,secrets.aws.existingSecret=memmesh-aws',
  '--set',
  'secrets.adminKey.existingSecret=memmesh-admin,secrets.tenants.existingSecret=memmesh-tenants',
  '--set',
  'routing.backend=dynamodb,routing.dynamodb.endpoint=http://dynamodb.aws.svc:8000',
  '--set',
  'agent.publicUrl=https://us-east-1.memmesh.example,agent.env.MEMMESH_TENANT_RPS=500',
  '--set',
  'gateway.regionEndpoints.eu-central-1=https://eu-central-1.memmesh.example',
  '--set',
  'nats.enabled=true,nats.replicas=3,nats.gatewayAdvertise=nats-us.memmesh.example:7222',
  '--set-json',
  'nats.gateways=[{"name":"eu-central-1","urls":["nats://nats-eu.memmesh.example:7222"]}]',
];
