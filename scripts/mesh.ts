/**
 * @module mesh
 * `npm start`: the local memmesh on embedded defaults. It starts the regions described in
 * regions/ (one NATS cluster each, JetStream on, joined by gateways into a supercluster, all
 * on loopback with stores under .memmesh/), and one region agent per region in multi-region
 * mode, prints what it started, and stops everything cleanly on Ctrl-C.
 *
 * Until the gateway lands, each region's agent serves the API on its own port, starting at
 * MEMMESH_PORT (default 8080) in the order of regions/: us-east-1 on 8080.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { loadTopology } from '@memmesh/routing';
import { startSupercluster } from '@memmesh/testkit';

const ROOT = new URL('..', import.meta.url).pathname;
const REGIONS_DIR = `${ROOT}regions`;
const FIRST_PORT = Number(process.env.MEMMESH_PORT ?? '8080');
const HOST = process.env.MEMMESH_HOST ?? '127.0.0.1';
const AGENT_START_TIMEOUT_MS = 60_000;
/** Regions listed first get the first ports: us-east-1 serves on 8080. */
const PORT_ORDER = ['us-east-1', 'eu-central-1', 'ap-southeast-1'];

async function main(): Promise<void> {
  const topology = await loadTopology(REGIONS_DIR);
  const regions = [...topology.regions].sort((a, b) => rank(a.id) - rank(b.id));
  await mkdir(`${ROOT}.memmesh/nats`, { recursive: true });
  console.log(
    `memmesh: starting NATS for ${regions.map((r) => r.id).join(', ')} (supercluster, stores in .memmesh/nats)`,
  );
  const nats = await startSupercluster({
    regions: regions.map((r) => ({ name: r.nats.cluster, servers: r.nats.servers })),
    storeRoot: `${ROOT}.memmesh/nats`,
  });

  const agents: ChildProcess[] = [];
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log('\nmemmesh: stopping the region agents and NATS');
    await Promise.all(agents.map(stopChild));
    await nats.stop();
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));

  const urls: string[] = [];
  for (const [i, region] of regions.entries()) {
    const port = FIRST_PORT + i;
    const agent = spawn(process.execPath, [`${ROOT}agents/region/src/main.ts`], {
      env: {
        ...process.env,
        MEMMESH_REGION: region.id,
        MEMMESH_AGENT_ID: `${region.id}-a0`,
        MEMMESH_NATS_URL: nats.regions[region.nats.cluster]?.urls.join(',') ?? '',
        MEMMESH_REGIONS_DIR: REGIONS_DIR,
        MEMMESH_HOST: HOST,
        MEMMESH_PORT: String(port),
        MEMMESH_DATA_DIR: `${ROOT}.memmesh/agents`,
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    agents.push(agent);
    agent.once('exit', (code) => {
      if (stopping) return;
      console.error(
        `memmesh: the ${region.id} agent exited (${code}); is port ${port} free? Set MEMMESH_PORT to move them.`,
      );
      void stop(1);
    });
    urls.push(await waitListening(agent));
    console.log(`memmesh: region ${region.id} (${region.residency}) serving on ${urls[i]}`);
  }

  const tenants = topology.tenants
    .map(
      (t) =>
        `  ${t.tenant.padEnd(8)} key ${t.apiKeys[0]}, home ${t.home}${t.replicas?.length ? `, replicas ${t.replicas.join(' ')}` : ''}${t.residency ? `, residency ${t.residency}` : ''}`,
    )
    .join('\n');
  console.log(`
  Tenants (regions/tenants.json):
${tenants}

  curl -s -X POST '${urls[0]}/v1/memories?wait=true' -H 'Authorization: Bearer acme-dev-key' \\
       -H 'content-type: application/json' -d '{"text":"The deploy runbook lives in the ops wiki."}'
  curl -s -X POST ${urls[1]}/v1/search -H 'Authorization: Bearer acme-dev-key' \\
       -H 'content-type: application/json' -d '{"query":"where is the runbook?"}'

  Press Ctrl-C to stop.`);
}

function rank(id: string): number {
  const at = PORT_ORDER.indexOf(id);
  return at === -1 ? PORT_ORDER.length : at;
}

function waitListening(agent: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('region agent did not start in time')),
      AGENT_START_TIMEOUT_MS,
    );
    createInterface({ input: agent.stdout as NodeJS.ReadableStream }).on('line', (line) => {
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

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

main().catch((err: unknown) => {
  console.error(`memmesh: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
