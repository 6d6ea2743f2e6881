/**
 * @module harness
 * Test harnesses of the region agent, built with the test kit:
 * - `startHarness`: a real nats-server (locked down: TLS, nkey users) and an in-process
 *   region agent connecting with its role's credentials, with a small client
 *   for `app.request()` (no sockets; the HTTP stack is exercised in process, as hono does);
 * - `startAgentMesh`: the three regions of regions/ on a NATS supercluster, one in-process
 *   agent each sharing one routing table seeded from regions/, served over HTTP unless told
 *   otherwise. The gateway's suites stand their gateway in front of it.
 *
 * The mesh's agent side lives here and not in the test kit because the kit must not depend
 * on the agent (the agent's tests depend on the kit). Other packages' tests (the gateway's)
 * import it as `@memmesh/region-agent/testing`, a test-only entry of the package.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { sleep } from '@memmesh/core';
import {
  createMemoryRoutingTable,
  loadTopology,
  type RoutingTable,
  seedRoutingTable,
} from '@memmesh/routing';
import { createLogger, silentLogger } from '@memmesh/telemetry';
import {
  createNatsSecurity,
  type JsonReply,
  type Mesh,
  type NatsClientFiles,
  type NatsSecurity,
  type NatsServer,
  sendJson,
  startMesh,
  startNatsServer,
} from '@memmesh/testkit';
import {
  DEFAULT_REGION_AGENT_CONFIG,
  type RegionAgent,
  type RegionAgentConfig,
  resolveConfig,
  startRegionAgent,
} from '../src/index.ts';

export const ACME = 'acme-dev-key';
export const GLOBEX = 'globex-dev-key';
export const REGIONS = ['us-east-1', 'eu-central-1', 'ap-southeast-1'] as const;
export type RegionId = (typeof REGIONS)[number];
export type AgentMesh = Mesh<RegionId, RegionAgent, RoutingTable>;

const REGIONS_DIR = new URL('../../../regions', import.meta.url).pathname;

export interface Harness {
  nats: NatsServer;
  /** The server's CA and the roles' credentials: `security.connectOptions(security.operator())`. */
  security: NatsSecurity;
  agent: RegionAgent;
  dataDir: string;
  call(method: string, path: string, body?: unknown, key?: string): Promise<JsonReply>;
  stop(): Promise<void>;
}

export async function startHarness(overrides: Partial<RegionAgentConfig> = {}): Promise<Harness> {
  const locked = await startLockedNats(overrides.region ?? DEFAULT_REGION_AGENT_CONFIG.region);
  const { server: nats, security } = locked;
  const dataDir = await mkdtemp(join(tmpdir(), 'memmesh-agent-'));
  const config = resolveConfig({
    ...locked.agent,
    dataDir,
    port: 0,
    snapshotIntervalMs: 500,
    ...overrides,
  });
  const agent = await startRegionAgent(config, silentLogger);
  return {
    nats,
    security,
    agent,
    dataDir,
    call: (method, path, body, key = ACME) =>
      sendJson(agent.app, method, path, body, { authorization: `Bearer ${key}` }),
    async stop() {
      await agent.close();
      await locked.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface AgentMeshOptions {
  /** Names the temporary data directory (`memmesh-<name>-…`). */
  name?: string;
  /** Serve each agent over HTTP on loopback (default true). */
  http?: boolean;
  /** Settings of every agent, besides its region, NATS URL, data directory and port 0. */
  agent?: Partial<RegionAgentConfig>;
  /** Settings of one region's agent, over `agent`. */
  perRegion?: (region: RegionId) => Partial<RegionAgentConfig>;
  /** The cache backend every region's record names (the agents must be configured to match). */
  cacheBackend?: 'lru' | 'redis';
}

export async function startAgentMesh(options: AgentMeshOptions = {}): Promise<AgentMesh> {
  const table = createMemoryRoutingTable();
  const topology = await loadTopology(REGIONS_DIR);
  if (options.cacheBackend) {
    const cache = options.cacheBackend;
    topology.regions = topology.regions.map((r) => ({ ...r, backends: { ...r.backends, cache } }));
  }
  await seedRoutingTable(table, topology);
  return startMesh({
    regions: REGIONS,
    routing: table,
    name: options.name,
    http: options.http,
    startAgent: ({ region, natsUrl, nats, dataDir, routing }) =>
      startRegionAgent(
        resolveConfig({
          ...options.agent,
          ...options.perRegion?.(region),
          region,
          natsUrl,
          ...natsCredentialsOf(nats),
          dataDir,
          port: 0,
        }),
        testLogger(region),
        { routing },
      ),
  });
}

/** Silent, unless MEMMESH_TEST_LOG is set: then the agents' info logs go to stdout, to debug a suite. */
function testLogger(region: string) {
  return process.env.MEMMESH_TEST_LOG ? createLogger({ region }, 'info') : silentLogger;
}

/** A locked-down nats-server (TLS, nkey users) and the agent settings of one region's role. */
export interface LockedNats {
  server: NatsServer;
  security: NatsSecurity;
  /** `natsUrl` and the region agent's credentials, to spread into resolveConfig. */
  agent: Partial<RegionAgentConfig>;
  stop(): Promise<void>;
}

export async function startLockedNats(
  region: string = DEFAULT_REGION_AGENT_CONFIG.region,
): Promise<LockedNats> {
  const security = await createNatsSecurity({ regions: [region] });
  try {
    const server = await startNatsServer({ security });
    return {
      server,
      security,
      agent: { natsUrl: server.url, ...natsCredentialsOf(security.agent(region)) },
      async stop() {
        await server.stop();
        await security.remove();
      },
    };
  } catch (err) {
    await security.remove();
    throw err;
  }
}

/** An agent's NATS settings from the test kit's files for its role. */
export function natsCredentialsOf(files: NatsClientFiles): Partial<RegionAgentConfig> {
  return { natsCredsFile: files.credsFile, natsTlsCaFile: files.tls.caFile };
}

/** A sentence no other generated document shares: rare words derived from the index. */
export function distinctiveSentence(i: number): string {
  const syllables = ['ka', 'zu', 'mor', 'vel', 'tri', 'quo', 'plin', 'dex', 'ro', 'sha', 'bix', 'nel'];
  const word = (n: number) => {
    let s = '';
    let x = n;
    for (let k = 0; k < 4; k++) {
      s += syllables[x % syllables.length];
      x = Math.floor(x / syllables.length) + k * 7 + 3;
    }
    return s;
  };
  return `The ${word(i * 3 + 1)} keeps ${word(i * 5 + 2)} beside the ${word(i * 7 + 3)} number ${i}.`;
}

export interface CostlyEmbedderOptions {
  /** Time of every call, whatever its size. */
  callMs: number;
  /** Time per character embedded. */
  charMs: number;
}

export interface CostlyEmbedderServer {
  /** Base URL for the SDK, ending in `/v1`. */
  readonly url: string;
  /** Characters embedded and requests answered so far. */
  counts(): Promise<{ chars: number; requests: number }>;
  stop(): Promise<void>;
}

/**
 * An OpenAI-compatible embeddings server whose work costs what a real model's does: one call
 * at a time (like a model server with one accelerator: a second call waits for the first),
 * taking `callMs + charMs × characters`, with the local embedder's vectors. It makes the
 * embedder's time real in tests of fair use, where the local embedder is too fast to matter.
 * It runs in a worker thread (costly-embedder-worker.ts), as another machine would: reading
 * a flood's requests and writing vectors must not load the event loop of the test that
 * times the service.
 */
export async function startCostlyEmbedderServer(
  options: CostlyEmbedderOptions,
): Promise<CostlyEmbedderServer> {
  const worker = new Worker(new URL('./costly-embedder-worker.ts', import.meta.url), { workerData: options });
  const next = () =>
    new Promise<unknown>((resolve, reject) => {
      const onError = (err: Error) => reject(err);
      worker.once('error', onError);
      worker.once('message', (message: unknown) => {
        worker.off('error', onError);
        resolve(message);
      });
    });
  const { url } = (await next()) as { url: string };
  // One question at a time: answers come back in the order asked.
  let asking: Promise<unknown> = Promise.resolve();
  const ask = (message: string) => {
    const answer = asking.then(() => {
      const reply = next();
      worker.postMessage(message);
      return reply;
    });
    asking = answer.catch(() => undefined);
    return answer;
  };
  return {
    url,
    counts: async () => (await ask('counts')) as { chars: number; requests: number },
    async stop() {
      const exited = new Promise((resolve) => worker.once('exit', resolve));
      worker.postMessage('stop');
      await Promise.race([exited, sleep(5_000)]);
      await worker.terminate();
    },
  };
}
