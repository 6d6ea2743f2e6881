/**
 * @module mesh
 * `npm start`: the local memmesh on embedded defaults. It starts the regions described in
 * regions/ (one NATS cluster each, JetStream on, joined by gateways into a supercluster, all
 * on loopback with stores under .memmesh/), locked down as in production: TLS on every NATS
 * connection with a CA made for this start, and nkey users with least-privilege roles (each
 * agent may use only its region's subjects and streams; the operator's seed, for inspection
 * with a NATS client, is printed). Then one region agent per region in multi-region
 * mode, and the gateway on MEMMESH_PORT (default 8080); the agents take the next ports.
 * Once the toolchain has provisioned all-MiniLM-L6-v2 (MEMMESH_MINILM_DIR), the regions run
 * with it instead of the hashing embedder, so that search finds meaning, not only words.
 * It prints what it started and stops everything cleanly on Ctrl-C, or when anything fails
 * to start.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { cp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { loadTopology } from '@memmesh/routing';
import { createNatsSecurity, type Supercluster, startSupercluster } from '@memmesh/testkit';

const ROOT = new URL('..', import.meta.url).pathname;
const REGIONS_DIR = `${ROOT}regions`;
const FIRST_PORT = Number(process.env.MEMMESH_PORT ?? '8080');
const HOST = process.env.MEMMESH_HOST ?? '127.0.0.1';
const SERVICE_START_TIMEOUT_MS = 60_000;
const SERVICE_STOP_TIMEOUT_MS = 15_000;
/** Agents take the ports after the gateway's in this order: us-east-1 on 8081. */
const PORT_ORDER = ['us-east-1', 'eu-central-1', 'ap-southeast-1'];

const children: ChildProcess[] = [];
let nats: Supercluster | undefined;
let stopping = false;

async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    console.log('\nmemmesh: stopping the gateway, the region agents and NATS');
    await Promise.all(children.map(stopChild));
    await nats?.stop();
  }
  process.exit(code);
}

async function main(): Promise<void> {
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  const regionsDir = await localRegionsDir();
  const topology = await loadTopology(regionsDir);
  const regions = [...topology.regions].sort((a, b) => rank(a.id) - rank(b.id));
  await mkdir(`${ROOT}.memmesh/nats`, { recursive: true });
  console.log(
    `memmesh: starting NATS for ${regions.map((r) => r.id).join(', ')} (supercluster, stores in .memmesh/nats)`,
  );
  // New keys and certificates on every start: the configuration is written afresh anyway,
  // and a key copied out of an old run opens nothing.
  const securityDir = `${ROOT}.memmesh/nats-security`;
  await rm(securityDir, { recursive: true, force: true });
  const security = await createNatsSecurity({
    regions: regions.map((r) => r.id),
    dir: securityDir,
    validDays: 365,
  });
  nats = await startSupercluster({
    regions: regions.map((r) => ({ name: r.nats.cluster, servers: r.nats.servers })),
    storeRoot: `${ROOT}.memmesh/nats`,
    security,
  });
  const operator = security.operator();
  console.log(
    `memmesh: NATS requires TLS (CA ${operator.tls.caFile}) and nkey users; operator seed: ${operator.credsFile}`,
  );

  // One admin key for the gateway and the agents: the gateway sends re-index requests on.
  const adminKey = process.env.MEMMESH_GATEWAY_ADMIN_KEY ?? 'admin-dev-key-local';
  const urls: string[] = [];
  for (const [i, region] of regions.entries()) {
    const url = await startService(`${region.id} agent`, 'agents/region/src/main.ts', FIRST_PORT + 1 + i, {
      MEMMESH_REGION: region.id,
      MEMMESH_AGENT_ID: `${region.id}-a0`,
      MEMMESH_NATS_URL: nats.regions[region.nats.cluster]?.urls.join(',') ?? '',
      MEMMESH_NATS_CREDS: security.agent(region.id).credsFile,
      MEMMESH_NATS_TLS_CA: security.agent(region.id).tls.caFile,
      MEMMESH_REGIONS_DIR: regionsDir,
      MEMMESH_HOST: HOST,
      MEMMESH_PORT: String(FIRST_PORT + 1 + i),
      MEMMESH_DATA_DIR: `${ROOT}.memmesh/agents`,
      MEMMESH_ADMIN_KEY: adminKey,
    });
    urls.push(url);
    console.log(`memmesh: region ${region.id} (${region.residency}) agent on ${url}`);
  }
  const auditRegion = regions[0];
  if (!auditRegion) throw new Error('regions/ names no region');
  const gatewayUrl = await startService('gateway', 'agents/gateway/src/main.ts', FIRST_PORT, {
    MEMMESH_GATEWAY_HOST: HOST,
    MEMMESH_GATEWAY_PORT: String(FIRST_PORT),
    MEMMESH_REGIONS_DIR: regionsDir,
    MEMMESH_REGION_ENDPOINTS: regions.map((r, i) => `${r.id}=${urls[i]}`).join(','),
    MEMMESH_GATEWAY_ADMIN_KEY: adminKey,
    // Admin changes go to the first region's audit log (AUDIT_US_EAST_1), as its gateway role.
    MEMMESH_GATEWAY_REGION: auditRegion.id,
    MEMMESH_GATEWAY_NATS_URL: nats.regions[auditRegion.nats.cluster]?.urls.join(',') ?? '',
    MEMMESH_GATEWAY_NATS_CREDS: security.gateway(auditRegion.id).credsFile,
    MEMMESH_GATEWAY_NATS_TLS_CA: security.gateway(auditRegion.id).tls.caFile,
  });
  console.log(`memmesh: gateway on ${gatewayUrl}: the public API, routed to the nearest healthy region`);

  const tenants = topology.tenants.map((t) => {
    const replicas = t.replicas?.length ? `, replicas ${t.replicas.join(' ')}` : '';
    return `  ${t.tenant.padEnd(8)} key ${t.apiKeys[0]}, home ${t.home}${replicas}${t.residency ? `, residency ${t.residency}` : ''}`;
  });
  console.log(`
  Tenants (regions/tenants.json):
${tenants.join('\n')}

  curl -s -X POST '${gatewayUrl}/v1/memories?wait=true' -H 'Authorization: Bearer acme-dev-key' \\
       -H 'content-type: application/json' -d '{"text":"The deploy runbook lives in the ops wiki."}'
  curl -si -X POST ${gatewayUrl}/v1/search -H 'Authorization: Bearer acme-dev-key' -H 'X-Client-Region: eu-central-1' \\
       -H 'content-type: application/json' -d '{"query":"where is the runbook?"}'

  Press Ctrl-C to stop.`);
}

/**
 * The region files the local mesh runs on: regions/ itself, or — once MiniLM is provisioned —
 * a copy under .memmesh/regions whose regions embed with it. Stored memories were embedded by
 * the embedder of their time, and a view never mixes models, so when the embedder changes the
 * local stores are cleared (and it says so) rather than dead-lettering every old event.
 */
async function localRegionsDir(): Promise<string> {
  const minilmDir = process.env.MEMMESH_MINILM_DIR;
  const embedder = minilmDir ? 'minilm' : 'local';
  const marker = `${ROOT}.memmesh/embedder`;
  // Stores from before this marker existed were all written with the hashing embedder.
  const hadStores = await stat(`${ROOT}.memmesh/nats`).then(
    () => true,
    () => false,
  );
  const previous =
    (await readFile(marker, 'utf8').catch(() => undefined)) ?? (hadStores ? 'local' : undefined);
  if (previous !== undefined && previous !== embedder) {
    console.log(
      `memmesh: the local embedder changed from ${previous} to ${embedder}; clearing .memmesh (its memories were embedded by ${previous})`,
    );
    await rm(`${ROOT}.memmesh/nats`, { recursive: true, force: true });
    await rm(`${ROOT}.memmesh/agents`, { recursive: true, force: true });
  }
  await mkdir(`${ROOT}.memmesh`, { recursive: true });
  await writeFile(marker, embedder);
  if (!minilmDir) return REGIONS_DIR;
  const dir = `${ROOT}.memmesh/regions`;
  await rm(dir, { recursive: true, force: true });
  await cp(REGIONS_DIR, dir, { recursive: true });
  const topology = await loadTopology(REGIONS_DIR);
  for (const region of topology.regions) {
    const file = `${dir}/${region.id}/region.json`;
    const config = JSON.parse(await readFile(file, 'utf8')) as { backends: { embedder: string } };
    config.backends.embedder = 'minilm';
    await writeFile(file, `${JSON.stringify(config, null, 2)}\n`);
  }
  console.log(`memmesh: regions embed with all-MiniLM-L6-v2 from ${minilmDir}`);
  return dir;
}

/** Spawns a service (main.ts of an agent or the gateway) and waits for its 'listening' log line. */
async function startService(
  name: string,
  script: string,
  port: number,
  env: Record<string, string>,
): Promise<string> {
  const child = spawn(process.execPath, [`${ROOT}${script}`], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  child.once('exit', (code) => {
    if (stopping) return;
    console.error(
      `memmesh: the ${name} exited (${code}); is port ${port} free? Set MEMMESH_PORT to move the mesh.`,
    );
    void stop(1);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the ${name} did not start in time`)),
      SERVICE_START_TIMEOUT_MS,
    );
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      let entry: { msg?: string; url?: string; level?: string } = {};
      try {
        entry = JSON.parse(line);
      } catch {
        console.log(line);
        return;
      }
      if (entry.msg === 'listening' && entry.url) {
        clearTimeout(timer);
        resolve(entry.url);
      } else if (entry.level === 'warn' || entry.level === 'error') {
        console.log(line);
      }
    });
  });
}

function rank(id: string): number {
  const at = PORT_ORDER.indexOf(id);
  return at === -1 ? PORT_ORDER.length : at;
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), SERVICE_STOP_TIMEOUT_MS);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

main().catch(async (err: unknown) => {
  console.error(`memmesh: ${err instanceof Error ? err.message : String(err)}`);
  await stop(1);
});
