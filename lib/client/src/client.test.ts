import { LIMITS } from '@memmesh/core';
import { describe, expect, it } from 'vitest';
import { splitBatches } from './batch.ts';
import { createClient, listQuery } from './client.ts';
import { ErrorCode, MemmeshApiError, MeshError } from './errors.ts';
import { retryAfterMsOf } from './transport.ts';

interface Seen {
  method: string;
  url: string;
  body: unknown;
  headers: Headers;
}

/** A fetch that answers from a script, one step per request, and records what was asked. */
function scripted(steps: Array<(seen: Seen) => Response | Promise<Response>>) {
  const seen: Seen[] = [];
  const fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request: Seen = {
      method: init?.method ?? 'GET',
      url: String(input),
      body: init?.body ? JSON.parse(String(init.body)) : undefined,
      headers: new Headers(init?.headers),
    };
    seen.push(request);
    const step = steps[Math.min(seen.length - 1, steps.length - 1)];
    if (!step) throw new Error('script is empty');
    return step(request);
  };
  return { fetch: fetch as typeof globalThis.fetch, seen };
}

/** The JSON body of the `i`th request (empty when it had none). */
const bodyAt = (seen: Seen[], i: number) => (seen[i]?.body ?? {}) as Record<string, unknown>;
const json = (status: number, body: unknown, headers: Record<string, string> = {}) =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...headers } });
const error = (status: number, code: string, headers: Record<string, string> = {}) =>
  json(status, { error: { code, message: `${code} says the test` } }, headers);
const written = (seen: Seen, version = 7) =>
  json(202, {
    id: (seen.body as { id: string }).id,
    version,
    region: 'us-east-1',
    shard: 's0',
    applied: false,
  });

const fast = { initialDelayMs: 1, delayMsMax: 5 };
const clientOf = (fetch: typeof globalThis.fetch, retry = {}) =>
  createClient({ url: 'http://memmesh.test/', apiKey: 'k-1234567890', fetch, retry: { ...fast, ...retry } });

describe('client - writes', () => {
  it('client - a new memory gets an id, and the key and JSON go with it', async () => {
    const { fetch, seen } = scripted([(s) => written(s)]);
    const result = await clientOf(fetch).add({ text: 'hello' }, { wait: true });
    expect(seen[0]?.url).toBe('http://memmesh.test/v1/memories?wait=true');
    expect(seen[0]?.headers.get('authorization')).toBe('Bearer k-1234567890');
    expect(bodyAt(seen, 0).id).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.id).toBe(bodyAt(seen, 0).id);
  });

  it('client - a 504 and a lost connection are retried with the same id', async () => {
    const { fetch, seen } = scripted([
      () => error(504, 'timeout'),
      () => {
        throw new TypeError('fetch failed');
      },
      (s) => written(s),
    ]);
    await clientOf(fetch).add({ text: 'once' });
    expect(seen).toHaveLength(3);
    const ids = new Set(seen.map((s) => (s.body as { id: string }).id));
    expect(ids.size).toBe(1);
  });

  it('client - 429 waits for Retry-After, bounded by attempts', async () => {
    const { fetch, seen } = scripted([() => error(429, 'rate_limited', { 'retry-after': '0' })]);
    const failure = await clientOf(fetch, { attemptsMax: 3 })
      .search({ query: 'q' })
      .catch((e) => e);
    expect(seen).toHaveLength(3);
    expect(failure).toBeInstanceOf(MemmeshApiError);
    expect(failure.code).toBe(ErrorCode.RateLimited);
    expect(failure.retryable).toBe(true);
  });

  it('client - a Retry-After past the total time is not waited for', async () => {
    const { fetch, seen } = scripted([() => error(503, 'unavailable', { 'retry-after': '60' })]);
    const started = Date.now();
    const failure = await clientOf(fetch, { elapsedMsMax: 1_000 })
      .get('a')
      .catch((e) => e);
    expect(Date.now() - started).toBeLessThan(500);
    expect(seen).toHaveLength(1);
    expect(failure.code).toBe('unavailable');
  });

  it('client - bad input is not retried and keeps its code and details', async () => {
    const { fetch, seen } = scripted([
      () => json(400, { error: { code: 'bad_request', message: 'text must not be empty', details: ['x'] } }),
    ]);
    const failure = await clientOf(fetch)
      .add({ text: ' ' })
      .catch((e) => e);
    expect(seen).toHaveLength(1);
    expect(failure).toMatchObject({ code: 'bad_request', status: 400, details: ['x'] });
    expect(failure).toBeInstanceOf(MeshError);
  });

  it('client - a 409 is a version_conflict error', async () => {
    const { fetch } = scripted([() => error(409, 'version_conflict')]);
    const failure = await clientOf(fetch)
      .delete('a/b', { ifVersion: 3 })
      .catch((e) => e);
    expect(failure.code).toBe('version_conflict');
  });

  it('client - an answer that is not the API error shape still gets a code from its status', async () => {
    const { fetch } = scripted([() => new Response('<html>bad gateway</html>', { status: 502 })]);
    const failure = await clientOf(fetch)
      .stats()
      .catch((e) => e);
    expect(failure).toMatchObject({ code: 'upstream', status: 502 });
  });
});

describe('client - read-your-writes', () => {
  it('client - searches after a write carry minVersion, a higher one given stays', async () => {
    const { fetch, seen } = scripted([
      (s) => written(s, 41),
      () => json(200, { results: [], region: 'eu-central-1', tookMs: 1 }),
      () => json(200, { results: [], region: 'eu-central-1', tookMs: 1 }),
    ]);
    const client = clientOf(fetch);
    await client.add({ text: 'x' });
    await client.search({ query: 'x' });
    await client.search({ query: 'x', minVersion: 50 });
    expect(bodyAt(seen, 1).minVersion).toBe(41);
    expect(bodyAt(seen, 2).minVersion).toBe(50);
  });

  it('client - a read answered older than the session wrote is retried', async () => {
    const memory = (version: number) =>
      json(200, { id: 'm', text: 't', metadata: {}, scope: {}, version, region: 'eu', shard: 's0' });
    const { fetch, seen } = scripted([(s) => written(s, 9), () => memory(3), () => memory(9)]);
    const client = clientOf(fetch);
    await client.add({ id: 'm', text: 't' });
    expect((await client.get('m')).version).toBe(9);
    expect(seen).toHaveLength(3);
  });
});

describe('client - paths, lists and batches', () => {
  it('client - ids with / are percent-encoded', async () => {
    const { fetch, seen } = scripted([() => json(200, { id: 'a/b', region: 'r', versions: [] })]);
    await clientOf(fetch).history('a/b');
    expect(seen[0]?.url).toBe('http://memmesh.test/v1/memories/a%2Fb/history');
  });

  it('client - iterate walks every page by its cursor', async () => {
    const page = (ids: string[], nextCursor?: string) =>
      json(200, {
        memories: ids.map((id) => ({
          id,
          text: id,
          metadata: {},
          scope: {},
          version: 1,
          region: 'r',
          shard: 's',
        })),
        region: 'r',
        ...(nextCursor ? { nextCursor } : {}),
      });
    const { fetch, seen } = scripted([() => page(['a', 'b'], 'c1'), () => page(['c'])]);
    const ids: string[] = [];
    for await (const memory of clientOf(fetch).iterate({ userId: 'u', limit: 2 })) ids.push(memory.id);
    expect(ids).toEqual(['a', 'b', 'c']);
    expect(seen[1]?.url).toContain('cursor=c1');
  });

  it('client - list filters quote string metadata so "1" stays a string', () => {
    expect(listQuery({ metadata: { n: 1, s: '1', b: true }, sessionId: 's' })).toBe(
      'sessionId=s&metadata.n=1&metadata.s=%221%22&metadata.b=true',
    );
  });

  it('client - batches split by the API limits of count and bytes', () => {
    const many = Array.from({ length: 250 }, (_, i) => ({ text: `m${i}` }));
    expect(splitBatches(many).map((b) => b.length)).toEqual([LIMITS.batchDocsMax, LIMITS.batchDocsMax, 50]);
    const big = Array.from({ length: 300 }, () => ({ text: 'x'.repeat(LIMITS.textBytesMax - 10) }));
    const batches = splitBatches(big);
    for (const batch of batches) {
      expect(new TextEncoder().encode(JSON.stringify({ memories: batch })).byteLength).toBeLessThanOrEqual(
        LIMITS.batchBodyBytesMax,
      );
    }
    expect(batches.flat()).toHaveLength(300);
  });

  it('client - addMany sends each batch and keeps the order of the results', async () => {
    let version = 0;
    const { fetch, seen } = scripted([
      (s) =>
        json(202, {
          results: (s.body as { memories: { id: string }[] }).memories.map(({ id }) => ({
            id,
            version: ++version,
            region: 'r',
            shard: 's',
            applied: false,
          })),
        }),
    ]);
    const client = clientOf(fetch);
    const results = await client.addMany(Array.from({ length: 205 }, (_, i) => ({ id: `d${i}`, text: 't' })));
    expect(seen).toHaveLength(3);
    expect(results.map((r) => r.id)).toEqual(Array.from({ length: 205 }, (_, i) => `d${i}`));
    expect(client.session.minVersion).toBe(205);
  });

  it('client - Retry-After reads seconds and HTTP dates', () => {
    const nowMs = () => Date.parse('2026-01-01T00:00:00Z');
    expect(retryAfterMsOf(new Headers({ 'retry-after': '3' }), { nowMs })).toBe(3_000);
    expect(retryAfterMsOf(new Headers({ 'retry-after': 'Thu, 01 Jan 2026 00:00:02 GMT' }), { nowMs })).toBe(
      2_000,
    );
    expect(retryAfterMsOf(new Headers(), { nowMs })).toBeUndefined();
  });

  it('client - a bad url is a config error at once', () => {
    expect(() => createClient({ url: 'memmesh.test', apiKey: 'k' })).toThrow(/http\(s\) URL/);
  });
});
