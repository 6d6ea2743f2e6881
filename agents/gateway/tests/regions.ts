/**
 * @module regions
 * Test harness: three single-region agents, each on its own real nats-server, served over
 * real HTTP on loopback. us-east-1 runs as a child process (`node agents/region/src/main.ts`)
 * so that a test can kill -9 it and start it again on the same port; the other two run in
 * this process. The agents do not replicate to each other: each knows the demo keys itself
 * (single-region mode) and a test writes the documents it reads into every region.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { serve } from '@hono/node-server';
import { type RegionAgent, resolveConfig, silentLogger, startRegionAgent } from '@memmesh/region-agent';
import {
  createMemoryRoutingTable,
  loadTopology,
  type RoutingTable,
  seedRoutingTable,
} from '@memmesh/routing';
import { type NatsServer, startNatsServer } from '@memmesh/testkit';

export const REGIONS = ['us-east-1', 'eu-central-1', 'ap-southeast-1'] as const;
export type RegionId = (typeof REGIONS)[number];
export const ACME = 'Bearer acme-dev-key';
export const GLOBEX = 'Bearer globex-dev-key';

const AGENT_MAIN = new URL('../../region/src/main.ts', import.meta.url).pathname;
const REGIONS_DIR = new URL('../../../regions', import.meta.url).pathname;
const AGENT_START_TIMEOUT_MS = 30_000;
const WAIT_STEP_MS = 25;

export interface Reply {
  status: number;
  body: any;
  /** X-Memmesh-Region: which region served the request. */
  region: string | null;
  retryAfter: string | null;
  ms: number;
}

/** A region agent in a child process: kill -9 and start again on the same port. */
export interface AgentProcess {
  readonly port: number;
  readonly url: string;
  readonly running: boolean;
  kill(): Promise<void>;
  restart(): Promise<void>;
}

export interface Regions {
  nats: Record<RegionId, NatsServer>;
  /** kill -9 of a region's nats-server: its agent stays up and answers 503. */
  killNats(region: RegionId): Promise<void>;
  /** The same server again: same port, same store. */
  restartNats(region: RegionId): Promise<void>;
  us: AgentProcess;
  inProcess: Record<'eu-central-1' | 'ap-southeast-1', { agent: RegionAgent; server: Server }>;
  /** Direct base URL of each region's agent. */
  urls: Record<RegionId, string>;
  /** The gateway's view: regions and tenants of regions/, as a memory table. */
  routing: RoutingTable;
  stop(): Promise<void>;
}

export async function startRegions(): Promise<Regions> {
  const root = await mkdtemp(join(tmpdir(), 'memmesh-gw-regions-'));
  const started: { stop(): Promise<void> }[] = [{ stop: () => rm(root, { recursive: true, force: true }) }];
  try {
    const storeOf = (region: RegionId) => join(root, region);
    await Promise.all(REGIONS.map((region) => mkdir(storeOf(region))));
    const servers = await Promise.all(
      REGIONS.map((region) => startNatsServer({ storeDir: storeOf(region) })),
    );
    const nats = Object.fromEntries(REGIONS.map((r, i) => [r, servers[i]])) as Regions['nats'];
    // Stopped through the map, so that a restarted server is the one stopped.
    for (const region of REGIONS) started.push({ stop: () => nats[region].stop() });
    const killNats = (region: RegionId) => nats[region].kill();
    const restartNats = async (region: RegionId) => {
      nats[region] = await startNatsServer({ storeDir: storeOf(region), port: nats[region].port });
    };
    const us = await startAgentProcess('us-east-1', nats['us-east-1'].url);
    started.push({ stop: () => us.kill() });
    const inProcess = {} as Regions['inProcess'];
    for (const region of ['eu-central-1', 'ap-southeast-1'] as const) {
      const config = resolveConfig({ region, natsUrl: nats[region].url, port: 0 });
      const agent = await startRegionAgent(config, silentLogger);
      const server = await serveOn(agent.app.fetch);
      inProcess[region] = { agent, server };
      started.push({
        async stop() {
          server.closeAllConnections();
          server.close();
          await agent.close();
        },
      });
    }
    const urls = {
      'us-east-1': us.url,
      'eu-central-1': urlOf(inProcess['eu-central-1'].server),
      'ap-southeast-1': urlOf(inProcess['ap-southeast-1'].server),
    };
    const routing = createMemoryRoutingTable();
    await seedRoutingTable(routing, await loadTopology(REGIONS_DIR));
    const stop = async () => {
      // Agents before their NATS servers, in reverse order of start.
      for (const s of started.reverse()) await s.stop().catch(() => undefined);
    };
    return { nats, killNats, restartNats, us, inProcess, urls, routing, stop };
  } catch (err) {
    for (const s of started.reverse()) await s.stop().catch(() => undefined);
    throw err;
  }
}

async function startAgentProcess(region: RegionId, natsUrl: string): Promise<AgentProcess> {
  let child: ChildProcess | undefined;
  let port = 0;
  const launch = async () => {
    const env = {
      ...process.env,
      MEMMESH_REGION: region,
      MEMMESH_AGENT_ID: `${region}-gw-test`,
      MEMMESH_NATS_URL: natsUrl,
      MEMMESH_HOST: '127.0.0.1',
      MEMMESH_PORT: String(port),
      MEMMESH_LOG_LEVEL: 'info',
    };
    const proc = spawn(process.execPath, [AGENT_MAIN], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    port = await listeningPort(proc);
  };
  await launch();
  return {
    get port() {
      return port;
    },
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get running() {
      return child !== undefined && child.exitCode === null && child.signalCode === null;
    },
    async kill() {
      const proc = child;
      if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
      const exited = new Promise((resolve) => proc.once('exit', resolve));
      proc.kill('SIGKILL');
      await exited;
    },
    restart: launch,
  };
}

/** The port from the agent's `listening` log line; stderr is kept for the error message. */
function listeningPort(proc: ChildProcess): Promise<number> {
  let stderr = '';
  proc.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_096);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`agent did not start in ${AGENT_START_TIMEOUT_MS} ms:\n${stderr}`));
    }, AGENT_START_TIMEOUT_MS);
    proc.once('exit', (code) => reject(new Error(`agent exited with ${code}:\n${stderr}`)));
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg !== 'listening' || !entry.url) return;
      clearTimeout(timer);
      resolve(Number(new URL(entry.url).port));
    });
  });
}

export async function serveOn(fetch: (request: Request) => Response | Promise<Response>): Promise<Server> {
  const server = serve({ fetch, hostname: '127.0.0.1', port: 0 }) as Server;
  await new Promise((resolve) => server.once('listening', resolve));
  return server;
}

export function urlOf(server: Server): string {
  const address = server.address();
  return `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
}

/** One request to an app (in process) or a URL (over HTTP), as acme unless headers say otherwise. */
export async function send(
  target: { request(path: string, init: RequestInit): Response | Promise<Response> } | string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<Reply> {
  const init: RequestInit = {
    method,
    headers: { authorization: ACME, 'content-type': 'application/json', ...headers },
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  };
  const started = performance.now();
  const res =
    typeof target === 'string' ? await fetch(`${target}${path}`, init) : await target.request(path, init);
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // Non-JSON bodies stay text, so that a failing test shows what came back.
  }
  return {
    status: res.status,
    body: parsed,
    region: res.headers.get('x-memmesh-region'),
    retryAfter: res.headers.get('retry-after'),
    ms: performance.now() - started,
  };
}

/** Polls `attempt` until it returns a value, for at most `timeoutMs`. */
export async function eventually<T>(
  what: string,
  attempt: () => Promise<T | undefined>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await attempt().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms: ${what}`);
    await new Promise((resolve) => setTimeout(resolve, WAIT_STEP_MS));
  }
}
