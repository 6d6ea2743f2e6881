/**
 * Re-indexing a region on Milvus (a Milvus Lite server): the target model's view is a new
 * collection built beside the serving one (collections are named per model), the region
 * switches to it, and after the rollback window the old model's views are dropped. Milvus
 * Lite answers one request at a time, so the region holds fewer memories than on the
 * embedded index; the behaviour checked is the same.
 */
import type { EmbedderSpec, ReindexJob } from '@memmesh/core';
import { createLocalEmbedder } from '@memmesh/embed';
import {
  eventually,
  type MilvusLite,
  type OpenAiServer,
  startMilvusLite,
  startOpenAiServer,
} from '@memmesh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distinctiveSentence, type Harness, startHarness } from './harness.ts';

const ADMIN = 'reindex-milvus-admin-key-7';
const DOCS = 120;
const TARGET: EmbedderSpec = { kind: 'openai', model: 'memmesh-test-embed-milvus', dimensions: 96 };

let milvus: MilvusLite;
let embeddings: OpenAiServer;
let h: Harness;

beforeAll(async () => {
  milvus = await startMilvusLite();
  const other = createLocalEmbedder({ dimensions: TARGET.dimensions });
  embeddings = await startOpenAiServer({
    dimensions: TARGET.dimensions,
    embed: (texts) => other.embed(texts),
  });
  h = await startHarness({
    index: 'milvus',
    milvusAddress: milvus.address,
    adminKey: ADMIN,
    openaiBaseUrl: embeddings.url,
    modelFollowMs: 200,
    reindexRollbackMs: 3_000,
  });
  for (let start = 0; start < DOCS; start += 60) {
    const memories = Array.from({ length: 60 }, (_, k) => ({
      id: `doc-${start + k}`,
      text: distinctiveSentence(start + k),
    }));
    expect((await h.call('POST', '/v1/memories/batch?wait=true', { memories })).status).toBe(202);
  }
}, 180_000);

afterAll(async () => {
  await h?.stop();
  await embeddings?.stop();
  await milvus?.stop();
});

const ownModels = async () =>
  (await h.call('GET', '/v1/stats')).body.models.find((m: { origin: string }) => m.origin === 'us-east-1');

describe('re-index on Milvus', () => {
  it('builds the new model’s collection, switches to it, and drops the old views after the window', async () => {
    // The target's server fails its first calls (past the client's own retries): the runner
    // backs off and goes on, and nothing is embedded twice for it.
    embeddings.failNext(6, 503);
    const r = await h.call('POST', '/v1/admin/reindex', { region: 'us-east-1', embedder: TARGET }, ADMIN);
    expect(r.status).toBe(202);
    const active = await eventually(
      're-index active',
      async () => {
        const j = (await h.call('GET', `/v1/admin/reindex/${r.body.id}`, undefined, ADMIN))
          .body as ReindexJob;
        if (j.state === 'failed') throw new Error(`failed: ${j.error}`);
        return j.state === 'active' ? j : undefined;
      },
      { timeoutMs: 120_000, stepMs: 200 },
    );
    expect(active).toMatchObject({ done: DOCS, total: DOCS, embedded: DOCS });
    expect(embeddings.texts.length).toBe(DOCS);
    const metrics = await (await h.agent.app.request('/metrics')).text();
    expect(Number(/^memmesh_reindex_embed_errors_total\S* (\d+)/m.exec(metrics)?.[1])).toBeGreaterThan(0);
    expect((await ownModels()).serving).toEqual(TARGET);
    // Every memory is found with the new model (queries are embedded by the target server now).
    const before = embeddings.texts.length;
    for (let i = 0; i < DOCS; i += 7) {
      const s = await h.call('POST', '/v1/search', { query: distinctiveSentence(i), topK: 5 });
      expect(s.status).toBe(200);
      expect(s.body.results.map((hit: { id: string }) => hit.id)).toContain(`doc-${i}`);
    }
    expect(embeddings.texts.length).toBeGreaterThan(before);
    // New writes land in the new view.
    const w = await h.call('POST', '/v1/memories?wait=true', {
      id: 'after',
      text: distinctiveSentence(9_999),
    });
    expect(w.body.applied).toBe(true);
    const s = await h.call('POST', '/v1/search', { query: distinctiveSentence(9_999), topK: 3 });
    expect(s.body.results[0].id).toBe('after');
    // After the window the old model is gone, and the switch can no longer be undone.
    await eventually(
      'old model dropped',
      async () => ((await ownModels()).previous === undefined ? true : undefined),
      {
        timeoutMs: 60_000,
        stepMs: 200,
      },
    );
    const late = await h.call('POST', `/v1/admin/reindex/${r.body.id}/rollback`, undefined, ADMIN);
    expect(late.status).toBe(409);
  }, 240_000);
});
