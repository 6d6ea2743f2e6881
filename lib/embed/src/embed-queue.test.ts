import { isMeshError } from '@memmesh/core';
import { describe, expect, it } from 'vitest';
import { createEmbedQueue } from './embed-queue.ts';
import { createLocalEmbedder } from './local-embedder.ts';
import type { Embedder } from './types.ts';

/**
 * An embedder whose calls the test answers one at a time, so that the order in which the
 * queue sends work is seen exactly. Vectors come from the local embedder.
 */
function gatedEmbedder(batchSizeMax = 64) {
  const local = createLocalEmbedder({ dimensions: 16 });
  const calls: { texts: readonly string[]; answer(): void; fail(err: unknown): void }[] = [];
  const embedder: Embedder = {
    modelId: local.modelId,
    dimensions: local.dimensions,
    batchSizeMax,
    embed: (texts) =>
      new Promise((resolve, reject) => {
        calls.push({ texts, answer: () => void local.embed(texts).then(resolve), fail: reject });
      }),
    close: async () => undefined,
  };
  return { embedder, calls };
}

const turn = () => new Promise((resolve) => setImmediate(resolve));
/** Lets the queue start its next call. */
async function settle() {
  for (let i = 0; i < 3; i++) await turn();
}

const text = (tag: string, chars: number) => `${tag} `.repeat(chars).slice(0, chars);
const tagOf = (texts: readonly string[]) => (texts[0] as string).split(' ')[0];

async function errorOf(promise: Promise<unknown>) {
  try {
    await promise;
  } catch (err) {
    if (isMeshError(err)) return err;
    throw err;
  }
  throw new Error('expected a MeshError');
}

describe('embed queue', () => {
  it('embed queue - splits a batch into pieces of the character and batch bounds, vectors in order', async () => {
    const { embedder, calls } = gatedEmbedder(3);
    const queue = createEmbedQueue(embedder, { pieceCharsMax: 250 });
    const texts = Array.from({ length: 8 }, (_, i) => text(`t${i}`, 100));
    const done = queue.embed('a', texts, 'bulk');
    // Bounded: 8 texts make at most 8 calls.
    // (An idle queue sends the first piece at once; each next one after the previous answer.)
    for (let i = 0; i < 8; i++) {
      await settle();
      const call = calls[i];
      if (!call) break;
      call.answer();
    }
    const vectors = await done;
    expect(calls.map((c) => c.texts.length)).toEqual([2, 2, 2, 2]);
    expect(vectors).toEqual(await createLocalEmbedder({ dimensions: 16 }).embed(texts));
    expect(queue.pendingChars).toBe(0);
  });

  it('embed queue - another tenant’s query goes next, after at most the one piece being embedded', async () => {
    const { embedder, calls } = gatedEmbedder();
    const queue = createEmbedQueue(embedder, { pieceCharsMax: 1_000 });
    const batch = queue.embed(
      'flood',
      Array.from({ length: 20 }, () => text('bulk', 1_000)),
      'bulk',
    );
    await settle();
    expect(calls.length).toBe(1);
    const query = queue.embed('quiet', ['where is the query'], 'query');
    calls[0]?.answer();
    await settle();
    expect(tagOf(calls[1]?.texts ?? [])).toBe('where');
    calls[1]?.answer();
    expect((await query).length).toBe(1);
    for (let i = 2; i < 21; i++) {
      await settle();
      calls[i]?.answer();
    }
    expect((await batch).length).toBe(20);
  });

  it('embed queue - bulk work is shared by characters: a second tenant’s batch interleaves with the first', async () => {
    const { embedder, calls } = gatedEmbedder();
    const queue = createEmbedQueue(embedder, { pieceCharsMax: 1_000 });
    const a = queue.embed(
      'a',
      Array.from({ length: 6 }, () => text('a', 1_000)),
      'bulk',
    );
    await settle();
    const b = queue.embed(
      'b',
      Array.from({ length: 2 }, () => text('b', 1_000)),
      'bulk',
    );
    for (let i = 0; i < 8; i++) {
      await settle();
      calls[i]?.answer();
    }
    await Promise.all([a, b]);
    // a was alone when it started; from b's arrival on, one piece each in turn.
    expect(calls.map((c) => tagOf(c.texts)).join('')).toBe('ababaaaa');
  });

  it('embed queue - queries do not starve bulk work: one bulk piece after a streak of queries', async () => {
    const { embedder, calls } = gatedEmbedder();
    const queue = createEmbedQueue(embedder, { pieceCharsMax: 1_000, queryStreakMax: 2 });
    const first = queue.embed('q', ['first'], 'query');
    await settle();
    const bulk = queue.embed('b', [text('bulk', 10)], 'bulk');
    const queries = Array.from({ length: 4 }, (_, i) => queue.embed('q', [`query${i}`], 'query'));
    for (let i = 0; i < 6; i++) {
      calls[i]?.answer();
      await settle();
    }
    await Promise.all([first, bulk, ...queries]);
    // 'first' was already running; then two queries, the bulk piece, then the rest.
    expect(calls.map((c) => tagOf(c.texts))).toEqual([
      'first',
      'query0',
      'query1',
      'bulk',
      'query2',
      'query3',
    ]);
  });

  it('embed queue - bounded: a tenant over its share gets rate_limited, a full queue unavailable, queries keep room', async () => {
    const { embedder, calls } = gatedEmbedder();
    const queue = createEmbedQueue(embedder, { pendingCharsMax: 8_000, tenantPendingCharsMax: 4_000 });
    const held = [queue.embed('a', [text('a', 4_000)], 'bulk'), queue.embed('b', [text('b', 3_000)], 'bulk')];
    const over = await errorOf(queue.embed('a', ['x'], 'bulk'));
    expect([over.code, over.retryAfterMs !== undefined]).toEqual(['rate_limited', true]);
    // 7 000 of 8 000 are queued: bulk may fill 7 000, so the queue is full for bulk work…
    const full = await errorOf(queue.embed('c', ['y'], 'bulk'));
    expect([full.code, (full.retryAfterMs ?? 0) >= 100]).toEqual(['unavailable', true]);
    // …but not for a query.
    const query = queue.embed('c', ['a query'], 'query');
    const tooLarge = await errorOf(queue.embed('d', [text('d', 4_001)], 'bulk'));
    expect(tooLarge.code).toBe('payload_too_large');
    for (let i = 0; i < 3; i++) {
      await settle();
      calls[i]?.answer();
    }
    await Promise.all([...held, query]);
    expect(queue.pendingChars).toBe(0);
  });

  it('embed queue - a failed piece fails its request alone, and its other pieces are never sent', async () => {
    const { embedder, calls } = gatedEmbedder();
    const queue = createEmbedQueue(embedder, { pieceCharsMax: 100 });
    const doomed = queue.embed('a', [text('a', 100), text('a', 100), text('a', 100)], 'bulk');
    const fine = queue.embed('b', [text('b', 100)], 'bulk');
    await settle();
    calls[0]?.fail(new Error('embedder down'));
    await expect(doomed).rejects.toThrow('embedder down');
    await settle();
    calls[1]?.answer();
    expect((await fine).length).toBe(1);
    await settle();
    expect(calls.map((c) => tagOf(c.texts))).toEqual(['a', 'b']);
    expect(queue.pendingChars).toBe(0);
  });

  it('embed queue - with two slots, bulk work takes one and leaves the other to queries', async () => {
    const { embedder, calls } = gatedEmbedder();
    const queue = createEmbedQueue(embedder, { pieceCharsMax: 100, concurrency: 2 });
    const bulk = queue.embed('a', [text('a', 100), text('a', 100)], 'bulk');
    await settle();
    expect(calls.length).toBe(1);
    const query = queue.embed('b', ['b query'], 'query');
    await settle();
    expect(calls.map((c) => tagOf(c.texts))).toEqual(['a', 'b']);
    calls[1]?.answer();
    await query;
    calls[0]?.answer();
    await settle();
    calls[2]?.answer();
    await bulk;
  });

  it('embed queue - close refuses queued work as unavailable', async () => {
    const { embedder, calls } = gatedEmbedder();
    const queue = createEmbedQueue(embedder, { pieceCharsMax: 100 });
    const running = queue.embed('a', [text('a', 100)], 'bulk');
    await settle();
    const queued = queue.embed('a', [text('a', 100)], 'bulk');
    queue.close();
    expect((await errorOf(queued)).code).toBe('unavailable');
    expect((await errorOf(queue.embed('a', ['x'], 'query'))).code).toBe('unavailable');
    calls[0]?.answer();
    expect((await running).length).toBe(1);
  });
});

describe('embed queue - queries by characters', () => {
  it("embed queue - a tenant's short query goes before another tenant's long queries queued earlier", async () => {
    const { embedder, calls } = gatedEmbedder();
    const queue = createEmbedQueue(embedder, { pieceCharsMax: 4_000 });
    // One call in flight holds the embedder while the queue fills.
    const first = queue.embed('flood', [text('busy', 3_000)], 'query');
    await settle();
    const flood = [1, 2, 3].map((i) => queue.embed('flood', [text(`long${i}`, 3_000)], 'query'));
    const quiet = queue.embed('quiet', [text('short', 50)], 'query');
    const order: string[] = [];
    // Bounded: five queries, five calls.
    for (let i = 0; i < 5; i++) {
      await settle();
      const call = calls[i];
      if (!call) break;
      order.push(tagOf(call.texts) as string);
      call.answer();
    }
    await Promise.all([first, quiet, ...flood]);
    expect(order).toEqual(['busy', 'short', 'long1', 'long2', 'long3']);
  });

  it('embed queue - tenants with queries of equal length take turns', async () => {
    const { embedder, calls } = gatedEmbedder();
    const queue = createEmbedQueue(embedder);
    const first = queue.embed('a', [text('busy', 100)], 'query');
    await settle();
    const a = [1, 2, 3].map((i) => queue.embed('a', [text(`a${i}`, 100)], 'query'));
    const b = [1, 2, 3].map((i) => queue.embed('b', [text(`b${i}`, 100)], 'query'));
    const order: string[] = [];
    for (let i = 0; i < 7; i++) {
      await settle();
      const call = calls[i];
      if (!call) break;
      order.push(tagOf(call.texts) as string);
      call.answer();
    }
    await Promise.all([first, ...a, ...b]);
    // a was just served (busy), so b goes first; then they alternate.
    expect(order).toEqual(['busy', 'b1', 'a1', 'b2', 'a2', 'b3', 'a3']);
  });
});
