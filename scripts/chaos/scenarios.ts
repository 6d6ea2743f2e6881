/**
 * @module chaos/scenarios
 * The fault suite's scenarios on the local topology: a locked-down nats-server and a region
 * agent, each its own process on loopback, with writers that ingest while a fault is injected
 * at seeded random moments, retry what was not acknowledged (same ids and texts, as a real
 * client would), and record every acknowledgement in the ledger. After healing, the ledger
 * reads everything back. Every loop is bounded in count and in time.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '@memmesh/core';
import {
  createNatsSecurity,
  type NatsSecurity,
  type NatsServer,
  type ServiceProcess,
  seededRandom,
  startNatsServer,
  startServiceProcess,
} from '@memmesh/testkit';
import { AckLedger, type ReadBack, type Verdict } from './ledger.ts';

const AGENT_MAIN = new URL('../../agents/region/src/main.ts', import.meta.url).pathname;
const REGION = 'us-east-1';
const KEY = 'acme-dev-key';
const REQUEST_TIMEOUT_MS = 10_000;
/** How long a healed system may take to be ready and to have applied everything. */
const HEAL_MS_MAX = 120_000;

export interface ScenarioOptions {
  /** Documents written in all (ids `<scenario>-<n>`). */
  docs: number;
  /** Faults injected during the ingest (kills), at seeded random moments. */
  faults: number;
  seed: number;
  /** The whole ingest must finish within this, faults and retries included. */
  timeMsMax: number;
}

export interface ScenarioResult extends Verdict {
  scenario: string;
  faults: number;
  /** Each fault's time from the kill to the agent answering /readyz 200 again, in ms. */
  recoveryMs: number[];
  /** Writes sent again after a failure or a lost answer. */
  retries: number;
  elapsedMs: number;
}

/** A nats-server that keeps its store and port across kills, and an agent process on it. */
export class ChaosEnv {
  nats!: NatsServer;
  agent!: ServiceProcess;
  #security!: NatsSecurity;
  #storeDir = '';
  #dataDir = '';
  #port = 0;

  static async start(name: string): Promise<ChaosEnv> {
    const env = new ChaosEnv();
    env.#security = await createNatsSecurity({ regions: [REGION] });
    env.#storeDir = await mkdtemp(join(tmpdir(), `memmesh-chaos-${name}-store-`));
    env.#dataDir = await mkdtemp(join(tmpdir(), `memmesh-chaos-${name}-data-`));
    env.nats = await startNatsServer({ storeDir: env.#storeDir, security: env.#security });
    env.#port = env.nats.port;
    const files = env.#security.agent(REGION);
    env.agent = await startServiceProcess({
      script: AGENT_MAIN,
      portEnv: 'MEMMESH_PORT',
      env: {
        MEMMESH_REGION: REGION,
        MEMMESH_HOST: '127.0.0.1',
        MEMMESH_AGENT_ID: `chaos-${name}`,
        MEMMESH_NATS_URL: env.nats.url,
        MEMMESH_NATS_CREDS: files.credsFile,
        MEMMESH_NATS_TLS_CA: files.tls.caFile,
        MEMMESH_DATA_DIR: env.#dataDir,
        MEMMESH_SNAPSHOT_INTERVAL_MS: '500',
      },
    });
    await env.waitReady();
    return env;
  }

  /** kill -9 of the agent, and a start again on its port and data directory: ms from the kill to ready. */
  async killAgent(): Promise<number> {
    const killed = performance.now();
    await this.agent.kill();
    await this.agent.restart();
    return this.waitReady(killed);
  }

  /** kill -9 of the nats-server, and a start again on its store and port (the agent reconnects): ms from the kill to ready. */
  async killNats(): Promise<number> {
    const killed = performance.now();
    await this.nats.kill();
    this.nats = await startNatsServer({
      storeDir: this.#storeDir,
      port: this.#port,
      security: this.#security,
    });
    return this.waitReady(killed);
  }

  /** Milliseconds from `started` until the agent answers /readyz 200 (bounded by HEAL_MS_MAX). */
  async waitReady(started = performance.now()): Promise<number> {
    const deadline = Date.now() + HEAL_MS_MAX;
    while (Date.now() < deadline) {
      const ok = await fetch(`${this.agent.url}/readyz`, { signal: AbortSignal.timeout(2_000) })
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) return performance.now() - started;
      await sleep(100);
    }
    throw new Error(`the agent was not ready ${HEAL_MS_MAX} ms after healing`);
  }

  readBack(): ReadBack {
    const url = this.agent.url;
    return {
      version: async (id) => {
        const res = await call(url, 'GET', `/v1/memories/${encodeURIComponent(id)}`);
        if (res.status === 404) return undefined;
        if (res.status !== 200) throw new Error(`GET ${id}: ${res.status}`);
        return (res.body as { version: number }).version;
      },
      listIds: () => listIds(url),
      viewDocs: async () => {
        const res = await call(url, 'GET', '/v1/stats');
        return (res.body as { shards: { docs: number }[] }).shards.reduce((n, s) => n + s.docs, 0);
      },
    };
  }

  /** Waits until every view has caught up and the count of documents has stopped moving. */
  async settle(): Promise<void> {
    const deadline = Date.now() + HEAL_MS_MAX;
    let last = -1;
    while (Date.now() < deadline) {
      const res = await call(this.agent.url, 'GET', '/v1/stats').catch(() => undefined);
      const shards =
        (res?.body as { shards?: { caughtUp: boolean; docs: number }[] } | undefined)?.shards ?? [];
      const docs = shards.reduce((n, s) => n + s.docs, 0);
      if (shards.length > 0 && shards.every((s) => s.caughtUp) && docs === last) return;
      last = docs;
      await sleep(500);
    }
    throw new Error('the views did not settle after healing');
  }

  async stop(): Promise<void> {
    await this.agent?.stop();
    await this.nats?.stop();
    await this.#security?.remove();
    for (const dir of [this.#storeDir, this.#dataDir])
      if (dir) await rm(dir, { recursive: true, force: true });
  }
}

interface Reply {
  status: number;
  body: unknown;
}

async function call(url: string, method: string, path: string, body?: unknown): Promise<Reply> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  return { status: res.status, body: await res.json().catch(() => undefined) };
}

/** Bounded: at most docs / limit + 1 pages, each a request with its own timeout. */
async function listIds(url: string): Promise<string[]> {
  const ids: string[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < 10_000; page++) {
    const query = `/v1/memories?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`;
    const res = await call(url, 'GET', query);
    if (res.status !== 200) throw new Error(`list: ${res.status}`);
    const body = res.body as { memories: { id: string }[]; nextCursor?: string };
    ids.push(...body.memories.map((m) => m.id));
    if (!body.nextCursor) return ids;
    cursor = body.nextCursor;
  }
  throw new Error('list: too many pages');
}

export const textOf = (scenario: string, n: number) =>
  `${scenario} memory ${n}: the ${['north', 'south', 'east', 'west'][n % 4]} ledger holds ${n * 7} crates of item ${n}.`;

interface Writers {
  ledger: AckLedger;
  retries: number;
}

/**
 * Writers ingesting `docs` memories in batches, `concurrency` at a time, each batch sent until
 * acknowledged (or the deadline): 202 items go in the ledger, failed items and failed
 * requests are sent again with the same ids and texts.
 */
async function ingest(
  env: ChaosEnv,
  scenario: string,
  docs: number,
  deadlineMs: number,
  ledger = new AckLedger(),
  gate: (firstDoc: number) => Promise<void> = async () => undefined,
): Promise<Writers> {
  const BATCH = 20;
  const CONCURRENCY = 4;
  const state = { retries: 0 };
  const batches = Array.from({ length: Math.ceil(docs / BATCH) }, (_, b) =>
    Array.from({ length: Math.min(BATCH, docs - b * BATCH) }, (_, j) => b * BATCH + j),
  );
  const writer = async () => {
    for (let batch = batches.shift(); batch !== undefined; batch = batches.shift()) {
      await gate(batch[0] as number);
      await writeUntilAcked(env, scenario, batch, ledger, state, deadlineMs);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, writer));
  return { ledger, retries: state.retries };
}

async function writeUntilAcked(
  env: ChaosEnv,
  scenario: string,
  batch: number[],
  ledger: AckLedger,
  state: { retries: number },
  deadlineMs: number,
): Promise<void> {
  let left = batch;
  // Bounded by the deadline: every round sleeps or gets an answer within the request timeout.
  for (let attempt = 0; left.length > 0; attempt++) {
    if (Date.now() > deadlineMs)
      throw new Error(`${scenario}: ${left.length} writes still unacknowledged at the deadline`);
    if (attempt > 0) state.retries += left.length;
    const memories = left.map((n) => ({
      id: `${scenario}-${n}`,
      text: textOf(scenario, n),
      metadata: { n },
    }));
    for (const m of memories) ledger.tried(m.id);
    const res = await call(env.agent.url, 'POST', '/v1/memories/batch', { memories }).catch(() => undefined);
    if (res?.status === 202) {
      const results = (res.body as { results: { id: string; version?: number }[] }).results;
      for (const r of results) if (r.version !== undefined) ledger.ack(r.id, r.version);
      const done = new Set(results.filter((r) => r.version !== undefined).map((r) => r.id));
      left = left.filter((n) => !done.has(`${scenario}-${n}`));
    }
    if (left.length > 0) await sleep(Math.min(2_000, 100 * 2 ** Math.min(attempt, 4)));
  }
}

export type Fault = (env: ChaosEnv) => Promise<number>;

export const FAULTS = {
  'agent-kill': (env: ChaosEnv) => env.killAgent(),
  'nats-kill': (env: ChaosEnv) => env.killNats(),
} as const satisfies Record<string, Fault>;

/**
 * Where the faults strike: fault k of n at a seeded random point of its share of the ingest
 * (somewhere between k/(n+1) and (k+1)/(n+1) of the documents acknowledged), so that they
 * land inside the ingest however fast it runs.
 */
function faultPoints(options: ScenarioOptions): number[] {
  const random = seededRandom(options.seed);
  const share = options.docs / (options.faults + 1);
  return Array.from({ length: options.faults }, (_, f) => Math.floor(share * (f + 0.5 + random() * 0.5)));
}

/**
 * Writers send at most this many documents past a fault's point before that fault has
 * struck: enough that writes are in flight when it does (the kill cuts them), few enough
 * that a fast ingest cannot end before its last fault (a run on a fast host once finished
 * its 1,500 documents between the second kill's recovery and the third's point).
 */
const FAULT_LEAD_DOCS = 100;

/** The faults at their points; `struck` counts those injected so far. Returns each one's recovery time. */
async function strike(
  env: ChaosEnv,
  fault: Fault,
  ledger: AckLedger,
  points: number[],
  progress: { struck: number },
  deadlineMs: number,
): Promise<number[]> {
  const recoveryMs: number[] = [];
  for (const at of points) {
    // Bounded by the deadline: it polls the ledger every 5 ms.
    while (ledger.ackedCount < at && Date.now() < deadlineMs) await sleep(5);
    if (Date.now() >= deadlineMs) break;
    progress.struck++;
    recoveryMs.push(await fault(env));
  }
  return recoveryMs;
}

/** Holds a writer before documents more than FAULT_LEAD_DOCS past a fault that has not struck yet. */
function faultGate(points: number[], progress: { struck: number }, deadlineMs: number) {
  return async (firstDoc: number): Promise<void> => {
    // Bounded by the deadline: it polls every 5 ms.
    for (;;) {
      const waitingFor = points.findIndex(
        (at, k) => k >= progress.struck && firstDoc >= at + FAULT_LEAD_DOCS,
      );
      if (waitingFor < 0 || Date.now() >= deadlineMs) return;
      await sleep(5);
    }
  };
}

/**
 * One scenario: ingest while `fault` strikes `options.faults` times at seeded random moments
 * spread over the ingest, then heal, settle and read everything back.
 */
export async function runScenario(
  scenario: keyof typeof FAULTS,
  options: ScenarioOptions,
): Promise<ScenarioResult> {
  const env = await ChaosEnv.start(scenario);
  const started = performance.now();
  try {
    const deadlineMs = Date.now() + options.timeMsMax;
    const ledger = new AckLedger();
    const points = faultPoints(options);
    const progress = { struck: 0 };
    const gate = faultGate(points, progress, deadlineMs);
    const writing = ingest(env, scenario, options.docs, deadlineMs, ledger, gate);
    const recoveryMs = await strike(env, FAULTS[scenario], ledger, points, progress, deadlineMs);
    const { retries } = await writing;
    await env.settle();
    const verdict = await ledger.verify(env.readBack());
    return {
      scenario,
      faults: recoveryMs.length,
      recoveryMs,
      retries,
      elapsedMs: performance.now() - started,
      ...verdict,
    };
  } finally {
    await env.stop();
  }
}

/**
 * A retry storm: every memory is written once, then sent again many times with the same ids
 * and texts, by several writers at once — more copies than the log's duplicate window could
 * ever be asked to drop if ids were not idempotent. The views must hold each id exactly once.
 */
export async function runRetryStorm(options: {
  docs: number;
  copies: number;
  timeMsMax: number;
}): Promise<ScenarioResult> {
  const scenario = 'retry-storm';
  const env = await ChaosEnv.start(scenario);
  const started = performance.now();
  try {
    const deadlineMs = Date.now() + options.timeMsMax;
    const { ledger } = await ingest(env, scenario, options.docs, deadlineMs);
    let retries = 0;
    for (let copy = 0; copy < options.copies; copy++) {
      const again = await ingest(env, scenario, options.docs, deadlineMs);
      retries += again.ledger.ackedCount;
      for (const id of again.ledger.attempted) ledger.tried(id);
    }
    await env.settle();
    const verdict = await ledger.verify(env.readBack());
    return {
      scenario,
      faults: 0,
      recoveryMs: [],
      retries,
      elapsedMs: performance.now() - started,
      ...verdict,
    };
  } finally {
    await env.stop();
  }
}
