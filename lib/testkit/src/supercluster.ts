/**
 * @module supercluster
 * Real NATS topologies for tests and the local mesh: a cluster of servers inside one region,
 * and a supercluster of regions (one cluster each, named after the region) joined by NATS
 * gateways, with JetStream on every server so that each region's streams can be placed in
 * its own cluster.
 *
 * Cluster and gateway ports must be known before the peers start (each server's config
 * lists the others), so they are reserved up front by binding port 0 and releasing it. The
 * servers keep their names and ports across kill/restart, because clustered JetStream knows
 * its peers by name and their routes by address.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '@memmesh/core';
import { type NatsServer, startNatsServer } from './nats-server.ts';

export interface RegionSpec {
  name: string;
  /** Servers in the region's cluster (default 1). */
  servers?: number;
}

export interface SuperclusterOptions {
  regions: (string | RegionSpec)[];
  /** Each server stores under `<storeRoot>/<server name>`; a temporary root when omitted. */
  storeRoot?: string;
  /** Limit for the whole topology to form (routes, gateways, JetStream meta leader). */
  readyTimeoutMs?: number;
}

export interface RegionCluster {
  readonly name: string;
  /** Client URLs of the region's servers. */
  readonly urls: string[];
  readonly servers: NatsServer[];
}

export interface Supercluster {
  readonly regions: Readonly<Record<string, RegionCluster>>;
  /** kill -9 every server of the region; stores stay. */
  killRegion(name: string): Promise<void>;
  /** Starts the region's servers again on the same ports and stores, and waits until ready. */
  restartRegion(name: string): Promise<void>;
  /** kill -9 one server (index in its region), keeping its store. */
  killServer(region: string, index: number): Promise<void>;
  restartServer(region: string, index: number): Promise<void>;
  stop(): Promise<void>;
}

export const DEFAULT_READY_TIMEOUT_MS = 30_000;
const READY_POLL_MS = 100;

interface ServerPlan {
  region: string;
  name: string;
  clientPort: number;
  clusterPort: number;
  gatewayPort: number;
  monitorPort: number;
  storeDir: string;
}

/** One cluster of `servers` servers, named `name`: a single region. */
export function startNatsCluster(options: {
  name: string;
  servers?: number;
  storeRoot?: string;
  readyTimeoutMs?: number;
}) {
  return startSupercluster({
    regions: [{ name: options.name, servers: options.servers ?? 3 }],
    ...(options.storeRoot ? { storeRoot: options.storeRoot } : {}),
    ...(options.readyTimeoutMs ? { readyTimeoutMs: options.readyTimeoutMs } : {}),
  });
}

export async function startSupercluster(options: SuperclusterOptions): Promise<Supercluster> {
  const specs = options.regions.map((r) =>
    typeof r === 'string' ? { name: r, servers: 1 } : { servers: 1, ...r },
  );
  const ownsRoot = options.storeRoot === undefined;
  const root = options.storeRoot ?? (await mkdtemp(join(tmpdir(), 'memmesh-supercluster-')));
  const plans: ServerPlan[] = [];
  for (const spec of specs) {
    for (let i = 0; i < spec.servers; i++) {
      const [clientPort, clusterPort, gatewayPort, monitorPort] = await freePorts(4);
      const name = `${spec.name}-n${i}`;
      plans.push({
        region: spec.name,
        name,
        clientPort,
        clusterPort,
        gatewayPort,
        monitorPort,
        storeDir: join(root, name),
      } as ServerPlan);
    }
  }
  const running = new Map<string, NatsServer>();
  const readyTimeoutMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const start = async (plan: ServerPlan) => {
    await mkdir(plan.storeDir, { recursive: true });
    running.set(
      plan.name,
      await startNatsServer({
        serverName: plan.name,
        port: plan.clientPort,
        storeDir: plan.storeDir,
        extraConfig: topologyConfig(plan, plans),
      }),
    );
  };
  const stopAll = async () => {
    await Promise.all([...running.values()].map((s) => s.stop()));
    running.clear();
    if (ownsRoot) await rm(root, { recursive: true, force: true });
  };
  try {
    await Promise.all(plans.map(start));
    await waitReady(plans, specs.length, readyTimeoutMs);
  } catch (err) {
    await stopAll();
    throw err;
  }
  const inRegion = (region: string) => plans.filter((p) => p.region === region);
  const one = (region: string, index: number) => {
    const plan = inRegion(region)[index];
    if (!plan) throw new RangeError(`no server ${index} in region ${region}`);
    return plan;
  };
  const kill = async (plan: ServerPlan) => {
    await running.get(plan.name)?.kill();
    running.delete(plan.name);
  };
  const regions: Record<string, RegionCluster> = {};
  for (const spec of specs) {
    regions[spec.name] = {
      name: spec.name,
      urls: inRegion(spec.name).map((p) => `nats://127.0.0.1:${p.clientPort}`),
      get servers() {
        return inRegion(spec.name).flatMap((p) => running.get(p.name) ?? []);
      },
    };
  }
  return {
    regions,
    async killRegion(name) {
      await Promise.all(inRegion(name).map(kill));
    },
    async restartRegion(name) {
      await Promise.all(inRegion(name).map(start));
      await waitReady(inRegion(name), specs.length, readyTimeoutMs);
    },
    killServer: (region, index) => kill(one(region, index)),
    async restartServer(region, index) {
      await start(one(region, index));
      await waitReady([one(region, index)], specs.length, readyTimeoutMs);
    },
    stop: stopAll,
  };
}

function topologyConfig(plan: ServerPlan, all: ServerPlan[]): string {
  // JetStream in a cluster refuses to start without configured routes; a single-server
  // region routes to itself, which NATS recognises and ignores.
  const peers = all.filter(
    (p) =>
      p.region === plan.region &&
      (p.name !== plan.name || all.filter((q) => q.region === plan.region).length === 1),
  );
  const regions = [...new Set(all.map((p) => p.region))];
  const gateways = regions.map((region) => {
    const urls = all.filter((p) => p.region === region).map((p) => `"nats://127.0.0.1:${p.gatewayPort}"`);
    return `    { name: "${region}", urls: [${urls.join(', ')}] }`;
  });
  return [
    `http: "127.0.0.1:${plan.monitorPort}"`,
    'cluster {',
    `  name: "${plan.region}"`,
    `  listen: "127.0.0.1:${plan.clusterPort}"`,
    `  routes: [${peers.map((p) => `"nats-route://127.0.0.1:${p.clusterPort}"`).join(', ')}]`,
    '}',
    'gateway {',
    `  name: "${plan.region}"`,
    `  listen: "127.0.0.1:${plan.gatewayPort}"`,
    '  gateways: [',
    gateways.join(',\n'),
    '  ]',
    '}',
  ].join('\n');
}

/**
 * Ready when every server reports healthy JetStream (`/healthz`: meta leader known, its
 * assets current) and has an outbound gateway to every other region (`/gatewayz`).
 */
async function waitReady(plans: ServerPlan[], regionCount: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (const plan of plans) {
    for (;;) {
      const problem = await probe(plan, regionCount);
      if (problem === undefined) break;
      last = `${plan.name}: ${problem}`;
      if (Date.now() > deadline) throw new Error(`NATS topology not ready within ${timeoutMs} ms (${last})`);
      await sleep(READY_POLL_MS);
    }
  }
}

async function probe(plan: ServerPlan, regionCount: number): Promise<string | undefined> {
  const base = `http://127.0.0.1:${plan.monitorPort}`;
  try {
    const health = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(1_000) });
    if (health.status !== 200) return `healthz ${health.status} ${await health.text()}`;
    const gatewayz = (await (
      await fetch(`${base}/gatewayz`, { signal: AbortSignal.timeout(1_000) })
    ).json()) as {
      outbound_gateways?: Record<string, unknown>;
    };
    const outbound = Object.keys(gatewayz.outbound_gateways ?? {}).length;
    if (regionCount > 1 && outbound < regionCount - 1) return `gateways ${outbound}/${regionCount - 1}`;
    return undefined;
  } catch (err) {
    return (err as Error).message;
  }
}

/** Reserves `count` free loopback ports (bind 0, read, release). */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => {
    const address = s.address();
    return typeof address === 'object' && address ? address.port : 0;
  });
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}
