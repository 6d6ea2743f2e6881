/**
 * The rendered workloads against the code they run: probes hit routes the apps really
 * serve, containers start with the command the tests use, every environment variable is one
 * the process reads, the region files mount in a layout the agent loads, and every container
 * runs restricted, bounded and read-only.
 */
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { createGatewayApp, GATEWAY_ENV_NAMES, resolveGatewayConfig } from '@memmesh/gateway';
import { createApp, ENV_NAMES } from '@memmesh/region-agent';
import { createMemoryRoutingTable, loadTopology } from '@memmesh/routing';
import { silentLogger } from '@memmesh/telemetry';
import type { Hono } from 'hono';
import { describe, expect, test } from 'vitest';
import {
  byKind,
  componentContainer,
  EVERYTHING_ON_ARGS,
  type Manifest,
  podTemplates,
  ROOT,
  render,
  valuesRegions,
} from './helm.ts';

const REGIONS = valuesRegions();

/** Both apps built in process, as their main.ts builds them, with the smallest real parts. */
function apps(): Record<'agent' | 'gateway', Hono<any>> {
  const routing = createMemoryRoutingTable();
  // Only `region` and `ready` are read by the routes probed here; the rest is never called.
  const region = { region: 'us-east-1', ready: true } as never;
  const agent = createApp({
    region,
    routing,
    tenantRequestsPerSecond: 1,
    tenantBurst: 1,
    logger: silentLogger,
  });
  const probes = {
    all: () => [{ region: 'us-east-1', status: 'up', rttMs: 1, healthy: true, probed: true }],
  } as never;
  const gateway = createGatewayApp({
    config: resolveGatewayConfig({}),
    routing,
    probes,
    log: silentLogger,
    ready: () => true,
  });
  return { agent, gateway };
}

describe('workloads - probes', () => {
  test.each(['agent', 'gateway'] as const)(
    'workloads - the %s probes are GET routes its app serves, and answer 200 when healthy',
    async (component) => {
      const app = apps()[component];
      const routes = new Set(app.routes.filter((r) => r.method === 'GET').map((r) => r.path));
      const container = componentContainer(await render('us-east-1'), component);
      const probes = [container.livenessProbe, container.readinessProbe];
      expect(probes.map((p) => p.httpGet.path)).toEqual(['/healthz', '/readyz']);
      for (const probe of probes) {
        expect(routes, `${component} serves GET ${probe.httpGet.path}`).toContain(probe.httpGet.path);
        expect(probe.httpGet.port).toBe('http');
        const response = await app.request(probe.httpGet.path);
        expect(response.status, `${component} GET ${probe.httpGet.path}`).toBe(200);
      }
      expect(container.ports.map((p: any) => p.name)).toEqual(['http']);
    },
  );
});

describe('workloads - commands', () => {
  test('workloads - the agent and gateway run the entry points the tests and npm start spawn', async () => {
    const spawned = await entryPointsSpawnedByTests();
    const agentMain = 'agents/region/src/main.ts';
    expect(spawned, 'the agent tests spawn `node agents/region/src/main.ts`').toContain(agentMain);
    // No test spawns the gateway's main.ts (they build it in process); npm start does.
    const gatewayMain = /'(agents\/gateway\/src\/main\.ts)'/.exec(
      await readFile(join(ROOT, 'scripts/mesh.ts'), 'utf8'),
    )?.[1];
    expect(gatewayMain, 'scripts/mesh.ts names the gateway main.ts').toBeDefined();

    const manifests = await render('us-east-1');
    for (const [component, main] of [
      ['agent', agentMain],
      ['gateway', gatewayMain],
    ] as const) {
      const container = componentContainer(manifests, component);
      expect(container.command).toEqual(['node', main]);
      expect(container.workingDir).toBe('/app');
    }
    const dockerfile = await readFile(join(ROOT, 'deploy/docker/Dockerfile'), 'utf8');
    expect(dockerfile).toContain(`CMD ["node", "${agentMain}"]`);
    expect(dockerfile).toContain('WORKDIR /app');
  });
});

/**
 * Entry points the agents' tests run as `spawn(process.execPath, [X, …])` (that is, `node X`),
 * where X is a constant `new URL('<path>', import.meta.url)`, as repository paths.
 */
async function entryPointsSpawnedByTests(): Promise<string[]> {
  const found = new Set<string>();
  for (const agent of ['region', 'gateway']) {
    const dir = join(ROOT, 'agents', agent, 'tests');
    for (const name of (await readdir(dir)).filter((n) => n.endsWith('.ts'))) {
      const text = await readFile(join(dir, name), 'utf8');
      const urls = new Map(
        [...text.matchAll(/const (\w+) = new URL\('([^']+\.ts)', import\.meta\.url\)/g)].map((m) => [
          m[1] as string,
          m[2] as string,
        ]),
      );
      for (const [, constant] of text.matchAll(/spawn\(process\.execPath, \[(\w+)/g)) {
        const url = urls.get(constant as string);
        if (url) found.add(relative(ROOT, join(dir, url)));
      }
    }
  }
  return [...found].sort();
}

/** Names main.ts reads itself besides its config's (MEMMESH_LOG_LEVEL). */
async function namesReadByMain(path: string): Promise<string[]> {
  const text = await readFile(join(ROOT, path), 'utf8');
  return [...text.matchAll(/process\.env\.([A-Z0-9_]+)/g)].map((m) => m[1] as string);
}

/** Read by the AWS SDK's default chain (DynamoDB routing), not by memmesh's config. */
const AWS_SDK_NAMES = ['AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY'];

describe('workloads - environment', () => {
  test.each(REGIONS)('workloads - %s sets only variables the agent and the gateway read', async (region) => {
    const accepted = {
      agent: new Set([
        ...Object.values(ENV_NAMES),
        ...(await namesReadByMain('agents/region/src/main.ts')),
        ...AWS_SDK_NAMES,
      ]),
      gateway: new Set([
        ...Object.values(GATEWAY_ENV_NAMES),
        ...(await namesReadByMain('agents/gateway/src/main.ts')),
        ...AWS_SDK_NAMES,
      ]),
    };
    const renders = [await render(region)];
    if (region === 'us-east-1') renders.push(await render(region, EVERYTHING_ON_ARGS));
    for (const manifests of renders) {
      for (const component of ['agent', 'gateway'] as const) {
        const names: string[] = componentContainer(manifests, component).env.map((e: any) => e.name);
        expect(names.length).toBeGreaterThan(5);
        expect(new Set(names).size, `${component} sets each variable once`).toBe(names.length);
        const unknown = names.filter((name) => !accepted[component].has(name));
        expect(unknown, `${component} variables its config does not read`).toEqual([]);
      }
    }
  });

  test('workloads - the secrets of production backends are referenced, never inlined', async () => {
    const manifests = await render('us-east-1', EVERYTHING_ON_ARGS);
    const secretOf = (component: 'agent' | 'gateway', name: string) =>
      componentContainer(manifests, component).env.find((e: any) => e.name === name)?.valueFrom?.secretKeyRef;
    expect(secretOf('agent', 'MEMMESH_REDIS_URL')).toEqual({ name: 'memmesh-redis', key: 'redis-url' });
    expect(secretOf('agent', 'MEMMESH_OPENAI_API_KEY')).toEqual({ name: 'memmesh-openai', key: 'api-key' });
    expect(secretOf('agent', 'MEMMESH_MILVUS_TOKEN')).toEqual({ name: 'memmesh-milvus', key: 'token' });
    expect(secretOf('agent', 'AWS_SECRET_ACCESS_KEY')).toEqual({
      name: 'memmesh-aws',
      key: 'AWS_SECRET_ACCESS_KEY',
    });
    expect(secretOf('gateway', 'MEMMESH_GATEWAY_ADMIN_KEY')).toEqual({
      name: 'memmesh-admin',
      key: 'admin-key',
    });
    // The same key opens the agents' admin routes, where the gateway sends re-index requests.
    expect(secretOf('agent', 'MEMMESH_ADMIN_KEY')).toEqual({ name: 'memmesh-admin', key: 'admin-key' });
    // With a tenants Secret, the keys never reach the ConfigMap.
    const regions = byKind(manifests, 'ConfigMap').find((m) => m.metadata.name.endsWith('-regions'));
    expect(Object.keys(regions?.data ?? {})).not.toContain('tenants.json');
  });
});

describe('workloads - region files', () => {
  test.each(REGIONS)('workloads - the %s pods mount region files the agent loads', async (region) => {
    const manifests = await render(region);
    const configMap = byKind(manifests, 'ConfigMap').find((m) => m.metadata.name.endsWith('-regions'));
    const container = componentContainer(manifests, 'agent');
    const env = Object.fromEntries(container.env.map((e: any) => [e.name, e.value]));
    const dir = await mkdtemp(join(tmpdir(), 'memmesh-regions-'));
    try {
      // Lay the files out as the pod sees them: each subPath mount under MEMMESH_REGIONS_DIR.
      for (const mount of container.volumeMounts.filter((m: any) => m.name === 'regions')) {
        const relativePath = relative(env.MEMMESH_REGIONS_DIR, mount.mountPath);
        expect(relativePath.startsWith('..'), mount.mountPath).toBe(false);
        await mkdir(dirname(join(dir, relativePath)), { recursive: true });
        await writeFile(join(dir, relativePath), configMap?.data?.[mount.subPath] ?? '');
      }
      const topology = await loadTopology(dir);
      expect(topology.regions.map((r) => r.id)).toEqual(['ap-southeast-1', 'eu-central-1', 'us-east-1']);
      const own = topology.regions.find((r) => r.id === region);
      expect(env.MEMMESH_SHARDS).toBe(String(own?.shardCount));
      expect(env.MEMMESH_INDEX).toBe(own?.backends.index);
      expect(env.MEMMESH_CACHE).toBe(own?.backends.cache);
      expect(env.MEMMESH_EMBEDDER).toBe(own?.backends.embedder);
      const original = JSON.parse(await readFile(join(ROOT, 'regions', region, 'region.json'), 'utf8'));
      expect(own).toEqual(original);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('workloads - each agent replica names its durable consumers after its pod', async () => {
    const manifests = await render('us-east-1');
    const agentId = componentContainer(manifests, 'agent').env.find(
      (e: any) => e.name === 'MEMMESH_AGENT_ID',
    );
    expect(agentId.valueFrom.fieldRef.fieldPath).toBe('metadata.name');
    const [statefulSet] = byKind(manifests, 'StatefulSet').filter((m) => m.metadata.name.endsWith('-agent'));
    const claim = statefulSet?.spec.volumeClaimTemplates[0];
    const dataDir = componentContainer(manifests, 'agent').env.find(
      (e: any) => e.name === 'MEMMESH_DATA_DIR',
    );
    const mount = componentContainer(manifests, 'agent').volumeMounts.find(
      (m: any) => m.name === claim.metadata.name,
    );
    expect(mount.mountPath).toBe(dataDir.value);
  });
});

describe('workloads - security and limits', () => {
  test.each(REGIONS)('workloads - every container of %s runs restricted and bounded', async (region) => {
    const renders = [await render(region)];
    if (region === 'us-east-1') renders.push(await render(region, EVERYTHING_ON_ARGS));
    for (const manifests of renders) expectRestricted(manifests);
  });
});

function expectRestricted(manifests: Manifest[]): void {
  const pods = podTemplates(manifests);
  expect(pods.length).toBeGreaterThanOrEqual(2);
  for (const { workload, spec } of pods) {
    expect(spec.securityContext.runAsNonRoot, workload).toBe(true);
    expect(spec.securityContext.runAsUser, workload).toBe(10001);
    expect(spec.securityContext.seccompProfile, workload).toEqual({ type: 'RuntimeDefault' });
    expect(spec.automountServiceAccountToken, workload).toBe(false);
    for (const c of spec.containers) {
      const where = `${workload} container ${c.name}`;
      expect(c.securityContext, where).toMatchObject({
        runAsNonRoot: true,
        runAsUser: 10001,
        readOnlyRootFilesystem: true,
        allowPrivilegeEscalation: false,
        capabilities: { drop: ['ALL'] },
      });
      for (const kind of ['requests', 'limits']) {
        expect(c.resources?.[kind]?.cpu, `${where} ${kind}.cpu`).toBeDefined();
        expect(c.resources?.[kind]?.memory, `${where} ${kind}.memory`).toBeDefined();
      }
    }
  }
  // memmesh's own containers get a writable /tmp on an emptyDir (the root is read-only).
  for (const component of ['agent', 'gateway'] as const) {
    const tmp = componentContainer(manifests, component).volumeMounts.find(
      (m: any) => m.mountPath === '/tmp',
    );
    const pod = pods.find((p) => p.spec.containers.some((c: any) => c.name === component));
    expect(pod?.spec.volumes.find((v: any) => v.name === tmp?.name)?.emptyDir).toBeDefined();
  }
}
