import { LIMITS } from '@memmesh/core';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME, GLOBEX, type Harness, startHarness } from './harness.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
});

afterAll(async () => {
  await h?.stop();
});

const expectError = (res: { status: number; body: any }, status: number, code: string) => {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.error.code).toBe(code);
  expect(typeof res.body.error.message).toBe('string');
};

describe('http input', () => {
  it('http input - malformed JSON, empty bodies and wrong shapes are 400', async () => {
    expectError(await h.call('POST', '/v1/memories', '{"text": '), 400, 'bad_request');
    expectError(await h.call('POST', '/v1/memories', ''), 400, 'bad_request');
    expectError(await h.call('POST', '/v1/memories', '[]'), 400, 'bad_request');
    expectError(await h.call('POST', '/v1/memories', 'null'), 400, 'bad_request');
    expectError(await h.call('POST', '/v1/memories', {}), 400, 'bad_request');
    expectError(await h.call('POST', '/v1/memories', { text: '' }), 400, 'bad_request');
    expectError(await h.call('POST', '/v1/memories', { text: '   \n ' }), 400, 'bad_request');
    expectError(await h.call('POST', '/v1/memories', { text: 42 }), 400, 'bad_request');
    expectError(await h.call('POST', '/v1/memories', { text: 'ok', colour: 'red' }), 400, 'bad_request');
    expectError(
      await h.call('POST', '/v1/memories', { text: 'ok', metadata: { a: { nested: 1 } } }),
      400,
      'bad_request',
    );
    expectError(
      await h.call('POST', '/v1/memories', { text: 'ok', scope: { team: 'x' } }),
      400,
      'bad_request',
    );
    expectError(await h.call('POST', '/v1/memories', { text: 'ok', ifVersion: -1 }), 400, 'bad_request');
    expectError(await h.call('POST', '/v1/memories?wait=maybe', { text: 'ok' }), 400, 'bad_request');
  });

  it('http input - the error body names the offending field', async () => {
    const res = await h.call('POST', '/v1/search', { query: 'x', topK: 0 });
    expectError(res, 400, 'bad_request');
    expect(res.body.error.details).toEqual([expect.objectContaining({ path: 'topK' })]);
  });

  it('http input - text over the limit is 400 and a body over the limit is 413', async () => {
    const overText = 'a'.repeat(LIMITS.textBytesMax + 1);
    expectError(await h.call('POST', '/v1/memories', { text: overText }), 400, 'bad_request');
    const overBody = JSON.stringify({ text: 'b'.repeat(LIMITS.bodyBytesMax + 10) });
    expectError(await h.call('POST', '/v1/memories', overBody), 413, 'payload_too_large');
    const batch = {
      memories: Array.from({ length: LIMITS.batchDocsMax + 1 }, (_, i) => ({ text: `t${i}` })),
    };
    expectError(await h.call('POST', '/v1/memories/batch', batch), 400, 'bad_request');
  });

  it('http input - topK out of range and bad search bodies are 400', async () => {
    for (const topK of [0, -1, LIMITS.topKMax + 1, 1.5, '10']) {
      expectError(await h.call('POST', '/v1/search', { query: 'q', topK }), 400, 'bad_request');
    }
    expectError(await h.call('POST', '/v1/search', { query: '' }), 400, 'bad_request');
    expectError(
      await h.call('POST', '/v1/search', { query: 'q', filter: { owner: 'x' } }),
      400,
      'bad_request',
    );
    expectError(await h.call('POST', '/v1/search', { query: 'q', minVersion: 'soon' }), 400, 'bad_request');
  });

  it('http input - bad ids are 400', async () => {
    expectError(await h.call('POST', '/v1/memories', { id: '', text: 'x' }), 400, 'bad_request');
    expectError(await h.call('POST', '/v1/memories', { id: 'has space', text: 'x' }), 400, 'bad_request');
    expectError(
      await h.call('POST', '/v1/memories', { id: 'x'.repeat(LIMITS.idLengthMax + 1), text: 'x' }),
      400,
      'bad_request',
    );
    expectError(await h.call('GET', `/v1/memories/${encodeURIComponent('bad id\n')}`), 400, 'bad_request');
    expectError(
      await h.call('DELETE', `/v1/memories/${encodeURIComponent('-leading-dash')}`),
      400,
      'bad_request',
    );
    expectError(await h.call('DELETE', '/v1/memories/ok-id?ifVersion=abc'), 400, 'bad_request');
  });

  it('http input - unknown routes are 404 with the error body', async () => {
    expectError(await h.call('GET', '/v1/nothing-here'), 404, 'not_found');
  });

  it('http input - random bodies never produce a 500 (property)', async () => {
    const anyJson = fc.oneof(
      fc.jsonValue(),
      fc.record(
        {
          id: fc.oneof(fc.string(), fc.integer()),
          text: fc.oneof(fc.string(), fc.integer(), fc.constant(null)),
          metadata: fc.oneof(fc.dictionary(fc.string(), fc.jsonValue()), fc.string()),
          scope: fc.oneof(fc.record({ agentId: fc.string(), userId: fc.anything() }), fc.jsonValue()),
          ifVersion: fc.oneof(fc.integer(), fc.double(), fc.string()),
        },
        { requiredKeys: [] },
      ),
      fc.record(
        {
          query: fc.oneof(fc.string(), fc.jsonValue()),
          topK: fc.oneof(fc.integer(), fc.double(), fc.string()),
          filter: fc.jsonValue(),
          minVersion: fc.oneof(fc.integer({ min: -5, max: 5 }), fc.string()),
        },
        { requiredKeys: [] },
      ),
    );
    const route = fc.constantFrom('/v1/memories', '/v1/memories/batch', '/v1/search');
    const raw = fc.oneof(
      anyJson.map((v) => JSON.stringify(v) ?? 'null'),
      fc.string(),
    );
    await fc.assert(
      fc.asyncProperty(route, raw, async (path, body) => {
        const res = await h.call('POST', path, body, ACME);
        expect(res.status).toBeLessThan(500);
        if (res.status >= 400) expect(typeof res.body.error.code).toBe('string');
      }),
      { numRuns: 300 },
    );
  });

  it('http input - healthz, readyz and openapi.json answer without a key', async () => {
    expect((await h.agent.app.request('/healthz')).status).toBe(200);
    expect((await h.agent.app.request('/readyz')).status).toBe(200);
    const doc = (await (await h.agent.app.request('/openapi.json')).json()) as {
      paths: Record<string, unknown>;
    };
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/v1/memories', '/v1/search', '/v1/memories/{id}']),
    );
  });
});

describe('http input - reserved keys and encodings', () => {
  it('http input - reserved metadata keys and invalid UTF-8 are 400, in writes and in filters', async () => {
    for (const key of ['__proto__', 'constructor', 'prototype']) {
      const write = `{"text": "reserved key note", "metadata": {"${key}": "x"}}`;
      expectError(await h.call('POST', '/v1/memories', write), 400, 'bad_request');
      const filter = `{"query": "note", "filter": {"metadata": {"${key}": "x"}}}`;
      expectError(await h.call('POST', '/v1/search', filter), 400, 'bad_request');
    }
    // 0xC3 0x28 is not UTF-8: refused, never replaced by U+FFFD and stored.
    const bad = new Uint8Array([
      ...new TextEncoder().encode('{"text": "a'),
      0xc3,
      0x28,
      ...new TextEncoder().encode('"}'),
    ]);
    const res = await h.agent.app.request('/v1/memories', {
      method: 'POST',
      headers: { authorization: `Bearer ${ACME}`, 'content-type': 'application/json' },
      body: bad,
    });
    expect(res.status).toBe(400);
  });
});

describe('http input - stats', () => {
  it('http input - /v1/stats shows the caller its own counts and no stream positions', async () => {
    const w = await h.call('POST', '/v1/memories?wait=true', { id: 'stats-acme', text: 'acme stats note' });
    expect(w.status).toBe(202);
    const acme = await h.call('GET', '/v1/stats');
    const globex = await h.call('GET', '/v1/stats', undefined, GLOBEX);
    expect([acme.status, globex.status]).toEqual([200, 200]);
    const docs = (body: { shards: { docs: number }[] }) => body.shards.reduce((n, s) => n + s.docs, 0);
    expect(docs(acme.body)).toBeGreaterThan(0);
    // globex wrote nothing here: acme's documents and the stream's positions are not its business.
    expect(docs(globex.body)).toBe(0);
    for (const shard of [...acme.body.shards, ...globex.body.shards])
      expect(shard).not.toHaveProperty('appliedSeq');
  });
});
