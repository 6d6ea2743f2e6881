/**
 * Re-indexing a region to another embedding model on a real NATS supercluster (one agent per
 * region, one routing table), with the OpenAI-compatible local server as the target model so
 * that its embeddings can be counted: 2,000 memories of acme (home us-east-1, replicas
 * eu-central-1 and ap-southeast-1) move from local-hash-v1 to the target while a writer keeps
 * writing and readers keep searching in two regions. Then rollback, a second migration whose
 * old model is dropped after the window, and an abort.
 */
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import type { EmbedderSpec, ReindexJob } from '@memmesh/core';
import { createLocalEmbedder } from '@memmesh/embed';
import { type OpenAiServer, eventually as poll, sendJson, startOpenAiServer } from '@memmesh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentMesh, distinctiveSentence, type RegionId, startAgentMesh } from './harness.ts';

const ADMIN = 'reindex-admin-key-0123456789';
const ACME = 'acme-dev-key';
const DOCS = 2_000;
/** The rollback window of this suite: short, so that the old model's drop can be seen. */
const ROLLBACK_MS = 8_000;
const TARGET: EmbedderSpec = { kind: 'openai', model: 'memmesh-test-embed-2', dimensions: 192 };
const LOCAL: EmbedderSpec = { kind: 'local', model: 'local-hash-v1', dimensions: 384 };
/** Searches of the readers and of the checks start with this, so their embeddings can be told apart. */
const QUERY_PREFIX = 'find: ';

let embeddings: OpenAiServer;
let mesh: AgentMesh;
/** Every live memory's current text, as acknowledged. */
const live = new Map<string, string>();

const eventually = <T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 60_000) =>
  poll(what, attempt, { timeoutMs, stepMs: 100 });
const call = (region: RegionId, method: string, path: string, body?: unknown, key = ACME) =>
  sendJson(mesh.agents[region].app, method, path, body, { authorization: `Bearer ${key}` });
const admin = (method: string, path: string, body?: unknown) => call('us-east-1', method, path, body, ADMIN);
const job = async (id: string): Promise<ReindexJob> => (await admin('GET', `/v1/admin/reindex/${id}`)).body;
const servingIn = async (region: RegionId): Promise<EmbedderSpec | undefined> =>
  (await call(region, 'GET', '/v1/stats')).body.models?.find(
    (m: { origin: string }) => m.origin === 'us-east-1',
  )?.serving;
const stateReached = (id: string, state: ReindexJob['state']) =>
  eventually(`re-index ${id} ${state}`, async () => {
    const j = await job(id);
    if (j.state === 'failed') throw new Error(`re-index failed: ${j.error}`);
    return j.state === state ? j : undefined;
  });

beforeAll(async () => {
  // The target model: the local embedder at another length, so a view that mixed the two
  // models would refuse the vectors, and a query of one model could not find the other's.
  const other = createLocalEmbedder({ dimensions: TARGET.dimensions });
  embeddings = await startOpenAiServer({
    dimensions: TARGET.dimensions,
    embed: (texts) => other.embed(texts),
  });
  mesh = await startAgentMesh({
    name: 'reindex',
    http: false,
    agent: {
      adminKey: ADMIN,
      openaiBaseUrl: embeddings.url,
      modelFollowMs: 200,
      reindexRollbackMs: ROLLBACK_MS,
      replicationReconcileMs: 300,
      waitAppliedMsMax: 10_000,
    },
  });
  for (let start = 0; start < DOCS; start += 100) {
    const memories = Array.from({ length: 100 }, (_, k) => ({
      id: `doc-${start + k}`,
      text: distinctiveSentence(start + k),
    }));
    const r = await call('us-east-1', 'POST', '/v1/memories/batch?wait=true', { memories });
    expect(r.status).toBe(202);
    for (const m of memories) live.set(m.id, m.text);
  }
}, 180_000);

afterAll(async () => {
  await mesh?.stop();
  await embeddings?.stop();
});

/** Writes (new ids and updates of old ones) and searches in two regions until stopped. */
function traffic() {
  let stopped = false;
  const counts = { writes: 0, writeFailures: 0, searches: 0, searchFailures: 0 };
  const failures: string[] = [];
  const writer = (async () => {
    // Bounded: at most 2,000 writes, 10 ms apart.
    for (let n = 0; n < 2_000 && !stopped; n++) {
      const id = n % 2 === 0 ? `new-${n}` : `doc-${(n * 37) % DOCS}`;
      const text = `${distinctiveSentence(DOCS + n)} Revision ${n} of ${id}.`;
      const r = await call('us-east-1', 'POST', '/v1/memories', { id, text });
      if (r.status === 202) {
        live.set(id, text);
        counts.writes++;
      } else {
        counts.writeFailures++;
        failures.push(`write ${r.status} ${JSON.stringify(r.body)}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  const reader = (async () => {
    const regions: RegionId[] = ['us-east-1', 'eu-central-1'];
    // Bounded: at most 20,000 searches.
    for (let n = 0; n < 20_000 && !stopped; n++) {
      const text = live.get(`doc-${(n * 13) % DOCS}`) as string;
      const r = await call(regions[n % 2] as RegionId, 'POST', '/v1/search', {
        query: QUERY_PREFIX + text,
        topK: 5,
      });
      counts.searches++;
      if (r.status !== 200) {
        counts.searchFailures++;
        failures.push(`search ${r.status} ${JSON.stringify(r.body)}`);
      }
    }
  })();
  return {
    counts,
    failures,
    async stop() {
      stopped = true;
      await Promise.all([writer, reader]);
    },
  };
}

/** Every live memory is found by its text in `region` (searched with the model it serves now). */
async function expectAllFound(region: RegionId) {
  const missed: string[] = [];
  for (const [id, text] of live) {
    const r = await call(region, 'POST', '/v1/search', { query: QUERY_PREFIX + text, topK: 10 });
    expect(r.status).toBe(200);
    if (!r.body.results.some((hit: { id: string; text: string }) => hit.id === id && hit.text === text))
      missed.push(id);
  }
  expect(missed).toEqual([]);
}

describe('re-index', () => {
  let firstId: string;

  it('refuses a target the region cannot serve, before anything starts', async () => {
    const minilm = await admin('POST', '/v1/admin/reindex', {
      region: 'us-east-1',
      embedder: { kind: 'minilm', model: 'all-minilm-l6-v2', dimensions: 384 },
    });
    expect(minilm.status).toBe(400);
    expect(minilm.body.error.message).toMatch(/MiniLM is not configured/);
    const badModel = await admin('POST', '/v1/admin/reindex', {
      region: 'us-east-1',
      embedder: { kind: 'local', model: 'nope', dimensions: 64 },
    });
    expect(badModel.status).toBe(400);
    const same = await admin('POST', '/v1/admin/reindex', { region: 'us-east-1', embedder: LOCAL });
    expect(same.status).toBe(400);
    const elsewhere = await admin('POST', '/v1/admin/reindex', { region: 'eu-central-1', embedder: TARGET });
    expect(elsewhere.status).toBe(421);
    const tenantKey = await call('us-east-1', 'POST', '/v1/admin/reindex', {
      region: 'us-east-1',
      embedder: TARGET,
    });
    expect(tenantKey.status).toBe(401);
    const malformed = await admin('POST', '/v1/admin/reindex', {
      region: 'us-east-1',
      embedder: { kind: 'openai' },
    });
    expect(malformed.status).toBe(400);
    expect(await servingIn('us-east-1')).toEqual(LOCAL);
  });

  it('moves the region and its replicas to the new model under traffic, embedding each live chunk once', async () => {
    const textsBefore = embeddings.texts.length;
    const load = traffic();
    // Two identical requests at once are one job; a different target meanwhile is a conflict.
    const [a, b] = await Promise.all([
      admin('POST', '/v1/admin/reindex', { region: 'us-east-1', embedder: TARGET }),
      admin('POST', '/v1/admin/reindex', { region: 'us-east-1', embedder: TARGET }),
    ]);
    expect([a.status, b.status]).toEqual([202, 202]);
    expect(a.body.id).toBe(b.body.id);
    expect(a.body).toMatchObject({ region: 'us-east-1', from: LOCAL, to: TARGET });
    firstId = a.body.id;
    const conflict = await admin('POST', '/v1/admin/reindex', {
      region: 'us-east-1',
      embedder: { ...TARGET, dimensions: 128 },
    });
    expect(conflict.status).toBe(409);

    const active = await stateReached(firstId, 'active');
    // Both regions end on the new model (each switches once its own view is complete).
    await eventually('eu-central-1 serves the new model', async () =>
      (await servingIn('eu-central-1'))?.model === TARGET.model ? true : undefined,
    );
    // Traffic goes on across the switch for a moment (and until it has been real traffic), then stops.
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    await eventually('traffic across the migration', async () =>
      load.counts.searches >= 100 && load.counts.writes >= 50 ? true : undefined,
    );
    await load.stop();
    expect(load.failures.slice(0, 5)).toEqual([]);
    expect(await servingIn('us-east-1')).toEqual(TARGET);
    expect(active).toMatchObject({ done: active.total, rollbackUntil: expect.any(String) });
    expect(active.total).toBeGreaterThanOrEqual(DOCS);

    // Embedded once: no text went to the embedder twice (not once per region), and every
    // live memory's current text went once (by the re-index, or by its write during it).
    const written = embeddings.texts.slice(textsBefore).filter((t) => !t.startsWith(QUERY_PREFIX));
    expect(new Set(written).size).toBe(written.length);
    const sent = new Set(written);
    expect([...live.values()].filter((t) => !sent.has(t))).toEqual([]);
    expect(active.embedded).toBeLessThanOrEqual(written.length);
    expect(active.embedded).toBeGreaterThan(DOCS / 2);
    // The queries after the switch were embedded by the new model.
    expect(embeddings.texts.some((t) => t.startsWith(QUERY_PREFIX))).toBe(true);
  }, 240_000);

  it('rolls back at once inside the window, and searches keep working', async () => {
    const r = await admin('POST', `/v1/admin/reindex/${firstId}/rollback`);
    expect(r.status).toBe(200);
    expect(r.body.state).toBe('aborted');
    for (const region of ['us-east-1', 'eu-central-1'] as const) {
      await eventually(`${region} serves the old model again`, async () =>
        (await servingIn(region))?.model === LOCAL.model ? true : undefined,
      );
    }
    const text = live.get('doc-7') as string;
    const s = await call('eu-central-1', 'POST', '/v1/search', { query: text, topK: 3 });
    expect(s.status).toBe(200);
    expect(s.body.results.map((h: { id: string }) => h.id)).toContain('doc-7');
    const again = await admin('POST', `/v1/admin/reindex/${firstId}/rollback`);
    expect(again.status).toBe(409);
  }, 60_000);

  it('re-indexes again, finds every memory with the new model in both regions, and drops the old views after the window', async () => {
    const r = await admin('POST', '/v1/admin/reindex', { region: 'us-east-1', embedder: TARGET });
    expect(r.status).toBe(202);
    expect(r.body.id).not.toBe(firstId);
    await stateReached(r.body.id, 'active');
    for (const region of ['us-east-1', 'eu-central-1'] as const) {
      await eventually(`${region} serves the new model`, async () =>
        (await servingIn(region))?.model === TARGET.model ? true : undefined,
      );
      await expectAllFound(region);
    }
    // After the window the old model's views (and their snapshot directories) are gone.
    const oldDir = join(mesh.dataDir, 'us-east-1', 'us-east-1', 's00');
    await eventually(
      'old model dropped',
      async () => {
        const stats = (await call('us-east-1', 'GET', '/v1/stats')).body;
        const own = stats.models.find((m: { origin: string }) => m.origin === 'us-east-1');
        const gone = await access(oldDir).then(
          () => false,
          () => true,
        );
        return own.previous === undefined && gone ? true : undefined;
      },
      ROLLBACK_MS + 30_000,
    );
    const s = await call('us-east-1', 'POST', '/v1/search', { query: live.get('doc-11'), topK: 3 });
    expect(s.body.results.map((h: { id: string }) => h.id)).toContain('doc-11');
    const same = await admin('POST', '/v1/admin/reindex', { region: 'us-east-1', embedder: TARGET });
    expect(same.status).toBe(202);
    expect(same.body.id).toBe(r.body.id);
  }, 240_000);

  it('aborts a re-index: the old model keeps serving and the new views are removed', async () => {
    const r = await admin('POST', '/v1/admin/reindex', { region: 'us-east-1', embedder: LOCAL });
    expect(r.status).toBe(202);
    const aborted = await admin('POST', `/v1/admin/reindex/${r.body.id}/abort`);
    expect(aborted.status).toBe(200);
    expect(aborted.body.state).toBe('aborted');
    await eventually('the target views removed', async () => {
      const stats = (await call('us-east-1', 'GET', '/v1/stats')).body;
      const own = stats.models.find((m: { origin: string }) => m.origin === 'us-east-1');
      return own.target === undefined ? own : undefined;
    });
    expect(await servingIn('us-east-1')).toEqual(TARGET);
    const s = await call('us-east-1', 'POST', '/v1/search', { query: live.get('doc-12'), topK: 3 });
    expect(s.status).toBe(200);
    expect(s.body.results.map((h: { id: string }) => h.id)).toContain('doc-12');
    const unknown = await admin('GET', '/v1/admin/reindex/rx-us-east-1-000000000000');
    expect(unknown.status).toBe(404);
  }, 60_000);
});
