/**
 * The shard query protocol against a real nats-server: validation at both ends, truncation
 * under the reply's byte maximum, error replies with their retry hint, overload, and replies
 * from a responder that does not speak the protocol; and the same answers asked in process.
 */
import {
  ErrorCode,
  encodeVector,
  isMeshError,
  LIMITS,
  MeshError,
  querySubject,
  tenantQuerySubject,
} from '@memmesh/core';
import { describe, expect, it } from 'vitest';
import {
  QUERY_OVERLOAD_RETRY_AFTER_MS,
  requestQuery,
  requestShard,
  requestShardList,
  type ShardHit,
  type ShardListed,
  type ShardQuery,
  serveShard,
} from '../src/index.ts';
import { useTestBus } from './test-bus.ts';

const REGION = 'sq-1';
const bus = useTestBus({ region: REGION, name: 'shard-query-test' });
const encoder = new TextEncoder();

const hit = (id: string, score: number, text = `text of ${id}`): ShardHit => ({
  id,
  score,
  text,
  metadata: { kind: 'note' },
  scope: { agentId: 'a1' },
  version: 3,
});

const query = (overrides: Partial<ShardQuery> = {}): ShardQuery => ({
  tenant: 'acme',
  vector: encodeVector(new Float32Array([1, 0])),
  topK: 5,
  waitMs: 0,
  ...overrides,
});

const where = (shard: string) => ({ region: REGION, origin: REGION, shard });
const ask = (shard: string, q: ShardQuery = query()) =>
  requestShard(bus.nc, { ...where(shard), query: q, timeoutMs: 2_000 });
/** Sends bytes as they are, as a forged query would arrive. */
const forge = (shard: string, body: string) =>
  requestQuery(bus.nc, querySubject(REGION, REGION, shard), encoder.encode(body), 2_000);

describe('shard query', () => {
  it('shard query - a round trip brings the query to the handler and its hits back best first', async () => {
    const received: ShardQuery[] = [];
    const server = serveShard(bus.nc, where('s00'), async (q) => {
      received.push(q);
      return { hits: [hit('b', 0.5), hit('a', 0.9)], appliedSeq: 7 };
    });
    try {
      const sent = query({ filter: { metadata: { kind: 'note' } }, minVersion: 4, waitMs: 100 });
      const reply = await ask('s00', sent);
      expect(received).toEqual([sent]);
      expect(reply).toEqual({ hits: [hit('a', 0.9), hit('b', 0.5)], appliedSeq: 7, truncated: false });
      expect(server.subject).toBe(querySubject(REGION, REGION, 's00'));
    } finally {
      await server.stop();
    }
  });

  it("shard query - the handler's hits are validated: extra fields stripped, topK kept, invalid hits internal", async () => {
    let hits: unknown[] = [];
    const server = serveShard(bus.nc, where('s01'), async () => ({
      hits: hits as ShardHit[],
      appliedSeq: 1,
    }));
    try {
      hits = [{ ...hit('a', 0.9), chunk: { start: 0, end: 4 } }, hit('b', 0.8), hit('c', 0.7)];
      const reply = await ask('s01', query({ topK: 2 }));
      expect(reply.hits).toEqual([hit('a', 0.9), hit('b', 0.8)]);
      hits = [{ ...hit('a', 0.9), score: 'high' }];
      await expect(ask('s01')).rejects.toSatisfy((err) => isMeshError(err, ErrorCode.Internal));
    } finally {
      await server.stop();
    }
  });

  it('shard query - a reply over the byte maximum arrives truncated, without its lowest-ranked hits', async () => {
    // Texts at the API's maximum whose JSON escaping doubles them: 50 of them are ~1.6 MiB.
    const text = '"'.repeat(LIMITS.textBytesMax);
    const hits = Array.from({ length: LIMITS.topKMax }, (_, i) => hit(`d${i}`, 1 - i / 100, text));
    const server = serveShard(bus.nc, where('s02'), async () => ({ hits, appliedSeq: 9 }));
    try {
      const reply = await ask('s02', query({ topK: LIMITS.topKMax }));
      expect(reply.truncated).toBe(true);
      expect(reply.hits.length).toBeGreaterThan(0);
      expect(reply.hits.length).toBeLessThan(hits.length);
      expect(reply.hits).toEqual(hits.slice(0, reply.hits.length));
      expect(Buffer.byteLength(JSON.stringify(reply))).toBeLessThanOrEqual(LIMITS.shardReplyBytesMax);
      // As few are left out as needed: one more hit would not have fitted.
      const withOneMore = { ...reply, hits: hits.slice(0, reply.hits.length + 1) };
      expect(Buffer.byteLength(JSON.stringify(withOneMore))).toBeGreaterThan(LIMITS.shardReplyBytesMax);
    } finally {
      await server.stop();
    }
  });

  it('shard query - malformed queries and a topK of 10 000 are bad_request and never reach the handler', async () => {
    let calls = 0;
    const server = serveShard(bus.nc, where('s03'), async () => {
      calls++;
      return { hits: [], appliedSeq: 0 };
    });
    const valid = query();
    const forged = [
      '{not json',
      JSON.stringify({ ...valid, topK: 10_000 }),
      JSON.stringify({ ...valid, tenant: 'Not A Tenant!' }),
      JSON.stringify({ ...valid, vector: 'abc' }),
      JSON.stringify({ ...valid, waitMs: 3_600_000 }),
      JSON.stringify({ ...valid, everything: true }),
      JSON.stringify({ tenant: 'acme' }),
    ];
    try {
      for (const body of forged) {
        await expect(forge('s03', body), body.slice(0, 40)).rejects.toSatisfy((err) =>
          isMeshError(err, ErrorCode.BadRequest),
        );
      }
      // The requesting end refuses to send one too.
      await expect(ask('s03', query({ topK: 10_000 }))).rejects.toSatisfy((err) =>
        isMeshError(err, ErrorCode.BadRequest),
      );
      expect(calls).toBe(0);
      await ask('s03', valid);
      expect(calls).toBe(1);
    } finally {
      await server.stop();
    }
  });

  it('shard query - a reply that does not match the protocol is upstream, never a crash', async () => {
    let answer = '';
    // Where requestShard sends: the tenant's subject of the shard.
    const rogue = bus.nc.subscribe(tenantQuerySubject(REGION, REGION, 's04', 'acme'), {
      callback: (_err, msg) => {
        msg.respond(encoder.encode(answer));
      },
    });
    const wrong = [
      'garbage',
      '{"hits":"all of them","appliedSeq":1,"truncated":false}',
      JSON.stringify({ hits: [{ ...hit('a', 0.9), score: 'high' }], appliedSeq: 1, truncated: false }),
      JSON.stringify({ hits: [hit('a', 0.9), hit('b', 0.8)], appliedSeq: 1, truncated: false }),
      '{"error":{"code":"teapot","message":"short and stout"}}',
      '{"error":{"code":"unavailable","message":"later","retryAfterMs":86400000}}',
    ];
    try {
      for (const body of wrong) {
        answer = body;
        await expect(ask('s04', query({ topK: 1 })), body.slice(0, 40)).rejects.toSatisfy((err) =>
          isMeshError(err, ErrorCode.Upstream),
        );
      }
    } finally {
      rogue.unsubscribe();
    }
  });

  it('shard query - an error reply comes back as its MeshError, with code and retryAfterMs', async () => {
    let error: unknown;
    const server = serveShard(bus.nc, where('s05'), async () => {
      throw error;
    });
    try {
      error = new MeshError(ErrorCode.Unavailable, 'shard s05 has not applied version 4 yet', {
        retryAfterMs: 250,
      });
      await expect(ask('s05')).rejects.toMatchObject({
        code: ErrorCode.Unavailable,
        message: 'shard s05 has not applied version 4 yet',
        retryAfterMs: 250,
      });
      error = new MeshError(ErrorCode.BadRequest, 'query vector has the wrong dimension');
      await expect(ask('s05')).rejects.toMatchObject({ code: ErrorCode.BadRequest, retryAfterMs: undefined });
      // Anything but a MeshError is a bug: internal, and its message stays in the shard.
      error = new Error('secret detail');
      await expect(ask('s05')).rejects.toMatchObject({
        code: ErrorCode.Internal,
        message: 'shard query failed',
      });
    } finally {
      await server.stop();
    }
  });

  it('shard query - an overloaded shard answers unavailable with a retry hint', async () => {
    const busy = Promise.withResolvers<void>();
    const gate = Promise.withResolvers<void>();
    const server = serveShard(bus.nc, { ...where('s06'), inFlightMax: 1 }, async () => {
      busy.resolve();
      await gate.promise;
      return { hits: [hit('a', 0.9)], appliedSeq: 2 };
    });
    try {
      const first = ask('s06');
      await busy.promise;
      await expect(ask('s06')).rejects.toMatchObject({
        code: ErrorCode.Unavailable,
        retryAfterMs: QUERY_OVERLOAD_RETRY_AFTER_MS,
      });
      gate.resolve();
      expect((await first).hits).toEqual([hit('a', 0.9)]);
    } finally {
      gate.resolve();
      await server.stop();
    }
  });

  it('shard query - stop waits for the queries being answered, and then nobody answers', async () => {
    const busy = Promise.withResolvers<void>();
    const gate = Promise.withResolvers<void>();
    let answered = false;
    const server = serveShard(bus.nc, where('s07'), async () => {
      busy.resolve();
      await gate.promise;
      answered = true;
      return { hits: [], appliedSeq: 0 };
    });
    const pending = ask('s07');
    await busy.promise;
    const stopped = server.stop();
    setTimeout(gate.resolve, 50);
    await stopped;
    expect(answered).toBe(true);
    expect((await pending).hits).toEqual([]);
    await expect(requestShard(bus.nc, { ...where('s07'), query: query(), timeoutMs: 500 })).rejects.toSatisfy(
      (err) => isMeshError(err, ErrorCode.Unavailable),
    );
  });

  it('shard query - asked in process: the same reply as over NATS, truncation included; bad queries, overload and a stopped shard refused', async () => {
    const text = '"'.repeat(LIMITS.textBytesMax);
    const heavy = Array.from({ length: LIMITS.topKMax }, (_, i) => hit(`d${i}`, 1 - i / 100, text));
    let hits: ShardHit[] = [hit('b', 0.5), hit('a', 0.9), hit('c', 0.1)];
    let calls = 0;
    let gate: Promise<void> | undefined;
    const server = serveShard(bus.nc, { ...where('s08'), inFlightMax: 1 }, async () => {
      calls++;
      await gate;
      return { hits, appliedSeq: 11 };
    });
    try {
      const sent = query({ topK: 2, filter: { metadata: { kind: 'note' } } });
      expect(await server.ask(sent)).toEqual(await ask('s08', sent));
      expect(await server.ask(sent)).toEqual({
        hits: [hit('a', 0.9), hit('b', 0.5)],
        appliedSeq: 11,
        truncated: false,
      });

      hits = heavy;
      const big = query({ topK: LIMITS.topKMax });
      const local = await server.ask(big);
      expect(local.truncated).toBe(true);
      expect(local).toEqual(await ask('s08', big));

      const before = calls;
      await expect(server.ask(query({ topK: 10_000 }))).rejects.toSatisfy((err) =>
        isMeshError(err, ErrorCode.BadRequest),
      );
      expect(calls).toBe(before);

      const held = Promise.withResolvers<void>();
      gate = held.promise;
      const first = server.ask(query());
      // The first is in its handler (asked in process, it got there at once): one is the most.
      expect(calls).toBe(before + 1);
      await expect(server.ask(query())).rejects.toMatchObject({
        code: ErrorCode.Unavailable,
        retryAfterMs: QUERY_OVERLOAD_RETRY_AFTER_MS,
      });
      held.resolve();
      await first;
    } finally {
      await server.stop();
    }
    await expect(server.ask(query())).rejects.toSatisfy((err) => isMeshError(err, ErrorCode.Unavailable));
  });

  it('shard query - a list asked in process: the same page as over NATS, cut under the byte maximum; no list handler is bad_request', async () => {
    const doc = (i: number, text = `memory ${i}`): ShardListed => ({
      id: `m${i}`,
      text,
      metadata: {},
      scope: {},
      version: 100 - i,
    });
    let docs = Array.from({ length: 10 }, (_, i) => doc(i));
    const server = serveShard(
      bus.nc,
      where('s09'),
      async () => ({ hits: [], appliedSeq: 1 }),
      async () => ({ docs, appliedSeq: 5 }),
    );
    const plain = serveShard(bus.nc, where('s10'), async () => ({ hits: [], appliedSeq: 1 }));
    try {
      const page = { kind: 'list' as const, tenant: 'acme', limit: 4, beforeVersion: 98 };
      const overNats = await requestShardList(bus.nc, { ...where('s09'), query: page, timeoutMs: 2_000 });
      expect(await server.askList(page)).toEqual(overNats);
      expect(overNats.docs.map((d) => d.id)).toEqual(['m3', 'm4', 'm5', 'm6']);

      docs = Array.from({ length: LIMITS.listLimitMax }, (_, i) => doc(i, '"'.repeat(LIMITS.textBytesMax)));
      const big = { kind: 'list' as const, tenant: 'acme', limit: LIMITS.listLimitMax };
      const local = await server.askList(big);
      expect(local.truncated).toBe(true);
      expect(local).toEqual(
        await requestShardList(bus.nc, { ...where('s09'), query: big, timeoutMs: 2_000 }),
      );

      await expect(plain.askList(page)).rejects.toSatisfy((err) => isMeshError(err, ErrorCode.BadRequest));
      await expect(server.askList({ ...page, limit: 0 })).rejects.toSatisfy((err) =>
        isMeshError(err, ErrorCode.BadRequest),
      );
    } finally {
      await server.stop();
      await plain.stop();
    }
  });
});
