/**
 * @module pipeline-suite
 * The region pipeline's behaviour (ingest → search, idempotency, update and delete,
 * optimistic concurrency, minVersion, filters, dead letters, tenant isolation), written
 * once and run against each backend combination: embedded defaults in pipeline.test.ts,
 * Milvus + Redis in pipeline-milvus.test.ts.
 */
import { docKeyOf, docSubject, shardOf } from '@memmesh/core';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME, distinctiveSentence, GLOBEX, type Harness } from './harness.ts';

/** Runs the pipeline suite on the agent `start` returns (closed by the suite). */
export interface PipelineSuiteOptions {
  /** Documents of the ingest-then-find-each test, a multiple of 4 (four batches). */
  docs?: number;
}

export function describePipeline(
  backends: string,
  start: () => Promise<Harness>,
  options: PipelineSuiteOptions = {},
): void {
  const docs = options.docs ?? 200;
  let h: Harness;

  beforeAll(async () => {
    h = await start();
  });

  afterAll(async () => {
    await h?.stop();
  });

  describe(`pipeline on ${backends}`, () => {
    definePipelineTests(() => h, docs);
  });
  describe(`tenant isolation on ${backends}`, () => {
    defineIsolationTests(() => h);
  });
}

const fillerText = (i: number) =>
  `${distinctiveSentence(i)} Agents write what they learn and read back what is relevant from the nearest region.`;

function definePipelineTests(harness: () => Harness, docs: number): void {
  const batch = docs / 4;
  let h: Harness;
  beforeAll(() => {
    h = harness();
  });

  it(`pipeline - ${docs} ingested documents are each the top result for their own sentence`, async () => {
    const ids: string[] = [];
    for (let b = 0; b < 4; b++) {
      const memories = Array.from({ length: batch }, (_, j) => {
        const i = b * batch + j;
        return { id: `doc-${i}`, text: fillerText(i), metadata: { i } };
      });
      const res = await h.call('POST', '/v1/memories/batch?wait=true', { memories });
      expect(res.status).toBe(202);
      for (const r of res.body.results) {
        expect(r.applied).toBe(true);
        ids.push(r.id);
      }
    }
    expect(ids).toHaveLength(docs);
    for (let i = 0; i < docs; i++) {
      const res = await h.call('POST', '/v1/search', { query: distinctiveSentence(i), topK: 3 });
      expect(res.status).toBe(200);
      expect(res.body.results[0].id).toBe(`doc-${i}`);
      expect(res.body.region).toBe('us-east-1');
    }
  });

  it('pipeline - the same write sent 20 times at once leaves exactly one live copy', async () => {
    const body = { id: 'same-1', text: 'The lighthouse keeper logs every passing ship at dawn.' };
    const results = await Promise.all(
      Array.from({ length: 20 }, () => h.call('POST', '/v1/memories?wait=true', body)),
    );
    const versions = new Set(results.map((r) => r.body.version));
    expect(results.every((r) => r.status === 202)).toBe(true);
    expect(versions.size).toBe(1);
    const search = await h.call('POST', '/v1/search', { query: body.text, topK: 10 });
    expect(search.body.results.filter((r: { id: string }) => r.id === 'same-1')).toHaveLength(1);
    const got = await h.call('GET', '/v1/memories/same-1');
    expect(got.body).toMatchObject({ id: 'same-1', text: body.text, version: [...versions][0] });
  });

  it('pipeline - an update replaces every old chunk, and a delete removes the document', async () => {
    const long = Array.from(
      { length: 40 },
      (_, i) => `Paragraph ${i} recounts the zephyrine orchard harvest in detail.`,
    ).join(' ');
    const v1 = await h.call('POST', '/v1/memories?wait=true', { id: 'upd-1', text: long });
    const before = await h.call('GET', '/v1/stats');
    const chunksBefore = before.body.shards.reduce((n: number, s: { chunks: number }) => n + s.chunks, 0);
    const v2 = await h.call('POST', '/v1/memories?wait=true', {
      id: 'upd-1',
      text: 'Now it is only about basalt quarries.',
    });
    expect(v2.body.version).toBeGreaterThan(v1.body.version);
    const after = await h.call('GET', '/v1/stats');
    const chunksAfter = after.body.shards.reduce((n: number, s: { chunks: number }) => n + s.chunks, 0);
    expect(chunksBefore - chunksAfter).toBeGreaterThan(1);
    const old = await h.call('POST', '/v1/search', { query: 'zephyrine orchard harvest', topK: 5 });
    expect(old.body.results.find((r: { id: string }) => r.id === 'upd-1')?.text ?? '').not.toContain(
      'zephyrine',
    );

    const del = await h.call('DELETE', '/v1/memories/upd-1?wait=true');
    expect(del.status).toBe(202);
    expect((await h.call('GET', '/v1/memories/upd-1')).status).toBe(404);
    const gone = await h.call('POST', '/v1/search', { query: 'basalt quarries', topK: 10 });
    expect(gone.body.results.map((r: { id: string }) => r.id)).not.toContain('upd-1');
    expect((await h.call('DELETE', '/v1/memories/upd-1')).status).toBe(404);
  });

  it('pipeline - ifVersion is optimistic concurrency: a stale version is 409', async () => {
    const v1 = await h.call('POST', '/v1/memories', { id: 'occ-1', text: 'first' });
    const ok = await h.call('POST', '/v1/memories', {
      id: 'occ-1',
      text: 'second',
      ifVersion: v1.body.version,
    });
    expect(ok.status).toBe(202);
    const stale = await h.call('POST', '/v1/memories', {
      id: 'occ-1',
      text: 'third',
      ifVersion: v1.body.version,
    });
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe('version_conflict');
    const create = await h.call('POST', '/v1/memories', { id: 'occ-1', text: 'again', ifVersion: 0 });
    expect(create.status).toBe(409);
    const staleDelete = await h.call('DELETE', `/v1/memories/occ-1?ifVersion=${v1.body.version}`);
    expect(staleDelete.status).toBe(409);
  });

  it('pipeline - minVersion reads include the write that returned that version', async () => {
    for (let i = 0; i < 20; i++) {
      const text = `Read-your-writes probe ${i}: the quillwort ledger entry ${i * 7919}.`;
      const w = await h.call('POST', '/v1/memories', { id: `ryw-${i}`, text });
      const s = await h.call('POST', '/v1/search', { query: text, topK: 1, minVersion: w.body.version });
      expect(s.status).toBe(200);
      expect(s.body.results[0]).toMatchObject({ id: `ryw-${i}`, version: w.body.version });
    }
  });

  it('pipeline - metadata and scope filters narrow the search', async () => {
    const memories = Array.from({ length: 30 }, (_, i) => ({
      id: `flt-${i}`,
      text: `Shared topic about tidal energy storage, note ${i}.`,
      metadata: { kind: i % 3 === 0 ? 'fact' : 'chat' },
      scope: { agentId: i % 2 === 0 ? 'planner' : 'executor' },
    }));
    await h.call('POST', '/v1/memories/batch?wait=true', { memories });
    const res = await h.call('POST', '/v1/search', {
      query: 'tidal energy storage',
      topK: 50,
      filter: { metadata: { kind: 'fact' }, scope: { agentId: 'planner' } },
    });
    const ids = res.body.results.map((r: { id: string }) => r.id).sort();
    expect(ids).toEqual(['flt-0', 'flt-12', 'flt-18', 'flt-24', 'flt-6']);
  });

  it('pipeline - a malformed event on a shard subject is dead-lettered and the shard goes on', async () => {
    const nc = await connect({ servers: h.nats.url, ...h.security.connectOptions(h.security.operator()) });
    const js = jetstream(nc);
    const shard = shardOf('acme', 'poison-1', 4);
    await js.publish(
      docSubject('us-east-1', shard, 'acme', docKeyOf('acme', 'poison-1')),
      new TextEncoder().encode('{"v":1,"type":"upsert"}'),
    );
    // Readers skip what the view dead-lettered: the document does not exist yet.
    const unreadable = await h.call('GET', '/v1/memories/poison-1');
    expect(unreadable.status).toBe(404);
    expect(unreadable.body.error.message).toContain('invalid');
    const w = await h.call('POST', '/v1/memories?wait=true', {
      id: 'poison-1',
      text: 'after the poison, a healthy memory',
    });
    expect(w.body.applied).toBe(true);
    const jsm = await jetstreamManager(nc);
    const dlq = await jsm.streams.getMessage('DLQ_US_EAST_1', { last_by_subj: `dlq.us-east-1.${shard}` });
    expect(dlq?.header.get('Memmesh-Reason')).toContain('invalid event');
    await nc.close();
    const s = await h.call('POST', '/v1/search', { query: 'after the poison, a healthy memory', topK: 1 });
    expect(s.body.results[0].id).toBe('poison-1');
  });
}

function defineIsolationTests(harness: () => Harness): void {
  let h: Harness;
  beforeAll(() => {
    h = harness();
  });

  it('tenant isolation - globex cannot read, search, update or delete acme memories', async () => {
    const text = 'Acme secret: the launch code phrase is marmalade falcon.';
    await h.call(
      'POST',
      '/v1/memories?wait=true',
      { id: 'secret-1', text, metadata: { level: 'secret' } },
      ACME,
    );
    expect((await h.call('GET', '/v1/memories/secret-1', undefined, GLOBEX)).status).toBe(404);
    const byText = await h.call('POST', '/v1/search', { query: text, topK: 50 }, GLOBEX);
    expect(byText.status).toBe(200);
    expect(byText.body.results).toEqual([]);
    const byFilter = await h.call(
      'POST',
      '/v1/search',
      { query: 'secret', topK: 50, filter: { metadata: { level: 'secret' } } },
      GLOBEX,
    );
    expect(byFilter.body.results).toEqual([]);
    expect((await h.call('DELETE', '/v1/memories/secret-1', undefined, GLOBEX)).status).toBe(404);
    // The same id written by globex is globex's own document; acme's is untouched.
    await h.call(
      'POST',
      '/v1/memories?wait=true',
      { id: 'secret-1', text: 'globex overwrite attempt' },
      GLOBEX,
    );
    expect((await h.call('GET', '/v1/memories/secret-1', undefined, ACME)).body.text).toBe(text);
    expect((await h.call('GET', '/v1/memories/secret-1', undefined, GLOBEX)).body.text).toBe(
      'globex overwrite attempt',
    );
    const acmeSearch = await h.call(
      'POST',
      '/v1/search',
      { query: 'globex overwrite attempt', topK: 50 },
      ACME,
    );
    expect(acmeSearch.body.results.map((r: { text: string }) => r.text)).not.toContain(
      'globex overwrite attempt',
    );
  });

  it('tenant isolation - a missing or unknown key is 401', async () => {
    expect((await h.call('GET', '/v1/memories/x', undefined, 'not-a-key-at-all')).status).toBe(401);
    const res = await h.agent.app.request('/v1/search', { method: 'POST', body: '{}' });
    expect(res.status).toBe(401);
    expect(res.headers.get('www-authenticate')).toBe('Bearer');
  });
}
