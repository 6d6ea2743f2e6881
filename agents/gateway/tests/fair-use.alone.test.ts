/**
 * Fair use under a flood, against real servers in their own processes, as in production: a
 * real nats-server (locked down), a region agent process and a gateway process on loopback,
 * and an embedder whose time is real (an OpenAI-compatible stand-in that serves one call at
 * a time and takes 1 ms + 0.5 µs per character, about 2 M characters per second, like a
 * self-hosted model server with one accelerator: the local embedder is too fast for a flood
 * to matter). The flooder and the embedder stand-in are other machines, and their own encoding
 * and parsing of megabytes must not load the event loop that times the quiet tenant: the
 * embedder stand-in runs in a worker thread, the flooder in a process of its own at a lower
 * CPU priority (see startFlood).
 *
 * One tenant floods with batches of 30 texts of 16 KiB and large searches while a quiet
 * tenant searches, one search at a time, each with a query never searched before (so every
 * one embeds its query and asks the shards). Both straight at the agent and through the
 * gateway: the quiet tenant's p99 under the flood stays within 2× its own p99 without it,
 * measured in turns with it in the same test (see measure), plus 5 ms (an unloaded p99 of a few milliseconds
 * would otherwise make one scheduler hiccup a failure), and the flooder gets 429 with a
 * Retry-After — through the gateway, the region's own 429 (it names the region), never
 * retried elsewhere.
 *
 * The load is bounded: four flooding workers, each at most FLOOD_ROUNDS_MAX rounds, all of
 * it within FLOOD_MS_MAX, and the quiet tenant's fixed number of searches.
 */

import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { setPriority, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LIMITS } from '@memmesh/core';
import {
  type CostlyEmbedderServer,
  distinctiveSentence,
  startCostlyEmbedderServer,
} from '@memmesh/region-agent/testing';
import {
  createNatsSecurity,
  eventually,
  killOnExit,
  type NatsSecurity,
  type NatsServer,
  type ServiceProcess,
  startNatsServer,
  startServiceProcess,
  terminate,
} from '@memmesh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const KEYS = {
  quiet: 'quiet-tenant-key-0001',
  floodAgent: 'flood-agent-key-0001',
  floodGateway: 'flood-gateway-key-0001',
} as const;
const TENANTS = { quiet: KEYS.quiet, 'flood-agent': KEYS.floodAgent, 'flood-gateway': KEYS.floodGateway };
const REGION = 'us-east-1';
const AGENT_MAIN = new URL('../../region/src/main.ts', import.meta.url).pathname;
const GATEWAY_MAIN = new URL('../src/main.ts', import.meta.url).pathname;
const FLOODER = new URL('./fixtures/flooder.mjs', import.meta.url).pathname;
/**
 * The flooder's niceness: its CPU share beside a busy process of default priority is about a
 * tenth (Linux's weights: 110 against 1,024), so it runs on what the service leaves idle.
 */
const FLOODER_NICE = 10;
const REGION_FILE = new URL(`../../../regions/${REGION}/region.json`, import.meta.url).pathname;
/**
 * Searches of the quiet tenant per measurement: p99 is then the 15th slowest of 1,500. With
 * 800 (the 8th slowest), one or two of the agent's garbage-collection pauses more or less in a
 * window (the flooder's megabytes are garbage within a second; pauses of 15-40 ms in a
 * profile) moved a run's p99 by a third, unloaded and loaded alike, so the same build passed
 * and failed the same bound from run to run.
 */
const SAMPLES = 1_500;
/** Turns of unloaded and loaded searching per measurement (see measure); SAMPLES / ROUNDS each. */
const ROUNDS = 5;
const WARMUP_SEARCHES = 40;
const FLOOD_WORKERS = 4;
const FLOOD_ROUNDS_MAX = 200;
/** Longer than the loaded measurement takes even on a slow run (1,500 searches of ~10-20 ms). */
const FLOOD_MS_MAX = 45_000;
/**
 * A flooder waits as long as a 429's Retry-After says (at most this long). One that ignores
 * it and resends 500 kB bodies costs the agent their reading, which no budget of work can
 * refuse earlier: that is for the request limit and the connection limits.
 */
const FLOOD_PAUSE_MS_MAX = 1_000;
const BATCH_TEXTS = 30;
/** The embedder is idle after this long without a new character; waited for at most IDLE_WAIT_MS_MAX. */
const IDLE_MS = 500;
const IDLE_WAIT_MS_MAX = 30_000;
/** Stated in the module note: the allowance for an unloaded p99 of a few milliseconds. */
const P99_FLOOR_MS = 5;

/**
 * Budgets small enough for a flood to meet at once: just large enough for one batch of
 * 30 × 16 KiB (about 585 000 characters and 600 chunks) and for the quiet tenant's
 * searches (4 shards × topK 5, about 100 a second); a flood search returns up to 30 memories
 * of 16 KiB (480 kB), about one of them a second. Indexing refills at 50 chunks a second, so
 * a flooder gets one more batch of 600 chunks every 12 s: a measurement sees one or two.
 */
const BUDGETS = {
  MEMMESH_TENANT_EMBED_CHARS_PER_SECOND: '200000',
  MEMMESH_TENANT_EMBED_CHARS_BURST: '600000',
  MEMMESH_TENANT_INDEX_CHUNKS_PER_SECOND: '50',
  MEMMESH_TENANT_INDEX_CHUNKS_BURST: '600',
  MEMMESH_TENANT_SEARCH_HITS_PER_SECOND: '4000',
  MEMMESH_TENANT_SEARCH_HITS_BURST: '8000',
  MEMMESH_TENANT_SEARCH_BYTES_PER_SECOND: '500000',
  MEMMESH_TENANT_SEARCH_BYTES_BURST: '1000000',
};

let embedder: CostlyEmbedderServer;
let security: NatsSecurity;
let nats: NatsServer;
let regionsDir: string;
let agent: ServiceProcess;
let gateway: ServiceProcess;

/** One region whose agent embeds with the stand-in, and the three tenants, at home there. */
async function writeRegions(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'memmesh-fair-use-'));
  const region = JSON.parse(await readFile(REGION_FILE, 'utf8')) as { backends: { embedder: string } };
  region.backends.embedder = 'openai';
  await mkdir(join(dir, REGION));
  await writeFile(join(dir, REGION, 'region.json'), JSON.stringify(region));
  const tenants = Object.entries(TENANTS).map(([tenant, key]) => ({
    tenant,
    home: REGION,
    replicas: [],
    apiKeys: [key],
  }));
  await writeFile(join(dir, 'tenants.json'), JSON.stringify({ tenants }));
  return dir;
}

beforeAll(async () => {
  embedder = await startCostlyEmbedderServer({ callMs: 1, charMs: 0.000_5 });
  security = await createNatsSecurity({ regions: [REGION] });
  nats = await startNatsServer({ security });
  regionsDir = await writeRegions();
  const files = security.agent(REGION);
  agent = await startServiceProcess({
    script: AGENT_MAIN,
    portEnv: 'MEMMESH_PORT',
    env: {
      MEMMESH_REGION: REGION,
      MEMMESH_AGENT_ID: 'fair-use-a0',
      MEMMESH_HOST: '127.0.0.1',
      MEMMESH_NATS_URL: nats.url,
      MEMMESH_NATS_CREDS: files.credsFile,
      MEMMESH_NATS_TLS_CA: files.tls.caFile,
      MEMMESH_REGIONS_DIR: regionsDir,
      MEMMESH_EMBEDDER: 'openai',
      MEMMESH_OPENAI_BASE_URL: embedder.url,
      // The stand-in serves one call at a time: more calls at once would only queue there,
      // out of reach of the agent's fair queue.
      MEMMESH_EMBED_CONCURRENCY: '1',
      MEMMESH_EMBED_PIECE_CHARS_MAX: '2048',
      ...BUDGETS,
    },
  });
  gateway = await startServiceProcess({
    script: GATEWAY_MAIN,
    portEnv: 'MEMMESH_GATEWAY_PORT',
    env: {
      MEMMESH_GATEWAY_HOST: '127.0.0.1',
      MEMMESH_REGIONS_DIR: regionsDir,
      MEMMESH_REGION_ENDPOINTS: `${REGION}=${agent.url}`,
      MEMMESH_PROBE_INTERVAL_MS: '500',
      MEMMESH_READ_TIMEOUT_MS: '5000',
    },
  });
  await eventually(
    'the gateway sees the agent',
    async () => ((await fetch(`${gateway.url}/readyz`)).ok ? true : undefined),
    {
      timeoutMs: 20_000,
    },
  );
  const memories = Array.from({ length: 20 }, (_, i) => ({ id: `q-${i}`, text: distinctiveSentence(i) }));
  const stored = await post(agent.url, KEYS.quiet, '/v1/memories/batch?wait=true', { memories });
  expect(stored.status).toBe(202);
}, 90_000);

afterAll(async () => {
  await gateway?.stop();
  await agent?.stop();
  await nats?.stop();
  await security?.remove();
  await embedder?.stop();
  if (regionsDir) await rm(regionsDir, { recursive: true, force: true });
});

interface Reply {
  status: number;
  ms: number;
  retryAfter: string | null;
  region: string | null;
  code: string | undefined;
}

async function post(base: string, key: string, path: string, body: unknown): Promise<Reply> {
  const started = performance.now();
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const json = (await res.json()) as { error?: { code: string } };
  return {
    status: res.status,
    ms: performance.now() - started,
    retryAfter: res.headers.get('retry-after'),
    region: res.headers.get('x-memmesh-region'),
    code: json.error?.code,
  };
}

/** Nearest-rank percentile. */
function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(p * sorted.length) - 1)] as number;
}

/** The quiet tenant's searches, one at a time, each query new (no cache can answer it). */
async function quietSearches(base: string, tag: string, count: number): Promise<Reply[]> {
  const replies: Reply[] = [];
  for (let i = 0; i < count; i++) {
    replies.push(
      await post(base, KEYS.quiet, '/v1/search', { query: `${tag} ${i} ${distinctiveSentence(i)}`, topK: 5 }),
    );
  }
  return replies;
}

interface Flood {
  /** Resolves once the flooder's first requests are on their way. */
  started: Promise<void>;
  stop(): Promise<FloodReply[]>;
}

type FloodReply = Omit<Reply, 'ms'>;

/**
 * Workers alternating a large batch and a few large searches, until stopped or bounded, in a
 * process of their own at a lower CPU priority (fixtures/flooder.mjs): the flooder is another
 * client on another machine, and its own encoding and parsing of megabytes is load of the
 * test, not of the service. Under CPU contention (two cores shared with a second busy tenant
 * of the host, as CI's are at times), the flooder's share of the CPU came out of the service's
 * and the quiet client's, and the test measured its own load generator.
 */
function startFlood(base: string, key: string): Flood {
  const options = {
    base,
    key,
    workers: FLOOD_WORKERS,
    roundsMax: FLOOD_ROUNDS_MAX,
    msMax: FLOOD_MS_MAX,
    pauseMsMax: FLOOD_PAUSE_MS_MAX,
    batchTexts: BATCH_TEXTS,
    textBytesMax: LIMITS.textBytesMax,
  };
  const child = spawn(process.execPath, [FLOODER], {
    env: { ...process.env, FLOOD_OPTIONS: JSON.stringify(options) },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  killOnExit(child);
  if (child.pid !== undefined) setPriority(child.pid, FLOODER_NICE);
  const exited = new Promise<never>((_, reject) => {
    child.once('error', reject);
    child.once('exit', (code, signal) =>
      reject(new Error(`the flooder exited (${code ?? signal}) before answering`)),
    );
  });
  // Never unhandled: whichever of the two below is awaited reports it.
  exited.catch(() => undefined);
  let onStarted: () => void = () => undefined;
  let onReplies: (replies: FloodReply[]) => void = () => undefined;
  const started = new Promise<void>((resolve) => {
    onStarted = resolve;
  });
  const replies = new Promise<FloodReply[]>((resolve) => {
    onReplies = resolve;
  });
  child.on('message', (message) => {
    if (message === 'started') onStarted();
    else onReplies(message as FloodReply[]);
  });
  return {
    started: Promise.race([started, exited]),
    async stop() {
      if (child.connected) child.send('stop');
      try {
        return await Promise.race([replies, exited]);
      } finally {
        await terminate(child, 'SIGTERM');
      }
    },
  };
}

interface Figures {
  unloadedP99: number;
  loadedP99: number;
  flood: FloodReply[];
  quiet: Reply[];
  embeddedChars: number;
}

/**
 * Unloaded and loaded in turns, ROUNDS times: the quiet tenant's p99 both ways, over all
 * rounds, and the flooder's answers. One unloaded stretch followed by one loaded one compared
 * whatever this shared machine did in two different half-minutes: the hypervisor took 25-50%
 * of its CPU time in some runs and little in others, and a stretch of either in one half moved
 * the ratio more than the flood did (the same build measured 1.3× and 2.9×). In turns, both
 * figures are taken across the same minute. Each turn starts a new flood, whose first seconds
 * are its heaviest (a refilled budget admits a batch at once), so the loaded turns are not the
 * lighter for it.
 */
async function measure(base: string, floodKey: string, tag: string): Promise<Figures> {
  await quietSearches(base, `${tag} warm-up`, WARMUP_SEARCHES);
  const unloaded: Reply[] = [];
  const loaded: Reply[] = [];
  const floodReplies: FloodReply[] = [];
  let embeddedChars = 0;
  const perRound = SAMPLES / ROUNDS;
  for (let round = 0; round < ROUNDS; round++) {
    unloaded.push(...(await quietSearches(base, `${tag} unloaded ${round}`, perRound)));
    const charsBefore = (await embedder.counts()).chars;
    const flood = startFlood(base, floodKey);
    try {
      await flood.started;
      // Let the first batches reach the embedder's queue before measuring.
      await new Promise((r) => setTimeout(r, 100));
      loaded.push(...(await quietSearches(base, `${tag} loaded ${round}`, perRound)));
    } finally {
      floodReplies.push(...(await flood.stop()));
    }
    embeddedChars += (await embedder.counts()).chars - charsBefore;
    // Accepted batches are still being embedded and indexed after the flooder stops: that
    // work belongs to the flood, not to the next unloaded turn.
    await embedderIdle();
  }
  const figures = {
    unloadedP99: percentile(
      unloaded.map((r) => r.ms),
      0.99,
    ),
    loadedP99: percentile(
      loaded.map((r) => r.ms),
      0.99,
    ),
    flood: floodReplies,
    quiet: [...unloaded, ...loaded],
    embeddedChars,
  };
  const statuses = countBy(floodReplies.map((r) => r.status));
  // The medians and p90s too: a p99 alone does not say whether a miss was the tail or all.
  const spread = (replies: Reply[]) =>
    [0.5, 0.9]
      .map((p) =>
        percentile(
          replies.map((r) => r.ms),
          p,
        ).toFixed(1),
      )
      .join('/');
  console.info(
    `fair use (${tag}): quiet p50/p90 unloaded ${spread(unloaded)} ms, loaded ${spread(loaded)} ms; ` +
      `p99 unloaded ${figures.unloadedP99.toFixed(1)} ms, loaded ${figures.loadedP99.toFixed(1)} ms; ` +
      `flooder answers ${JSON.stringify(statuses)}; ${figures.embeddedChars} characters embedded meanwhile`,
  );
  return figures;
}

/** Until the embedder has had no new characters for IDLE_MS (bounded by IDLE_WAIT_MS_MAX). */
async function embedderIdle(): Promise<void> {
  const deadline = performance.now() + IDLE_WAIT_MS_MAX;
  let last = (await embedder.counts()).chars;
  while (performance.now() < deadline) {
    await new Promise((r) => setTimeout(r, IDLE_MS));
    const now = (await embedder.counts()).chars;
    if (now === last) return;
    last = now;
  }
  throw new Error(`the embedder was still busy ${IDLE_WAIT_MS_MAX} ms after the flood stopped`);
}

function countBy(values: number[]): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const v of values) counts[v] = (counts[v] ?? 0) + 1;
  return counts;
}

function expectFair(figures: Figures): FloodReply[] {
  // The quiet tenant was never refused, and the flood really ran: batches were accepted
  // and embedded while it searched.
  expect(figures.quiet.every((r) => r.status === 200)).toBe(true);
  expect(figures.flood.filter((r) => r.status === 202).length).toBeGreaterThan(0);
  expect(figures.embeddedChars).toBeGreaterThan(BATCH_TEXTS * 16_000);
  expect(figures.loadedP99).toBeLessThanOrEqual(2 * figures.unloadedP99 + P99_FLOOR_MS);
  const refused = figures.flood.filter((r) => r.status === 429);
  expect(refused.length).toBeGreaterThan(0);
  for (const r of refused) {
    expect(r.code).toBe('rate_limited');
    expect(Number(r.retryAfter)).toBeGreaterThanOrEqual(1);
  }
  return refused;
}

describe('fair use', () => {
  it('fair use - straight at the agent: a flood leaves another tenant’s p99 within 2× and gets 429 with Retry-After', async () => {
    expectFair(await measure(agent.url, KEYS.floodAgent, 'agent'));
  }, 120_000);

  it('fair use - through the gateway: the region’s 429 reaches the flooder, and the quiet tenant’s p99 stays within 2×', async () => {
    const refused = expectFair(await measure(gateway.url, KEYS.floodGateway, 'gateway'));
    // The region's own 429, relayed: it names the region (the gateway's own has none).
    expect(refused.some((r) => r.region === 'us-east-1')).toBe(true);
  }, 120_000);
});
