import { isMeshError, MeshError } from '@memmesh/core';
import { type MilvusLite, seededRandom as rng, startMilvusLite } from '@memmesh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeVectorIndexConformance, doc, unitVector } from '../src/conformance.ts';
import { filterExpression, milvusString } from '../src/milvus/expressions.ts';
import { createMilvusIndex } from '../src/milvus/milvus-index.ts';
import { type MilvusIndexOptions, resolveMilvusOptions } from '../src/milvus/options.ts';
import { collectionNames } from '../src/milvus/schema.ts';
import type { VectorIndex } from '../src/types.ts';

const DIM = 32;
/** Short, so that an outage is noticed quickly; Milvus Lite answers in milliseconds. */
const CALL_TIMEOUT_MS = 2_000;
/** An operation against a dead server must fail within its deadline plus this margin. */
const OUTAGE_FAILURE_MS_MAX = CALL_TIMEOUT_MS + 2_000;
const RECOVERY_WAIT_MS_MAX = 30_000;

let milvus: MilvusLite;
let views = 0;

beforeAll(async () => {
  milvus = await startMilvusLite();
}, 120_000);

afterAll(async () => {
  await milvus?.stop();
});

function options(overrides: Partial<MilvusIndexOptions> = {}): MilvusIndexOptions {
  return {
    address: milvus.address,
    region: 'us-east-1',
    shard: `s${String(views++).padStart(2, '0')}`,
    modelId: 'local-hash-v1',
    dimensions: DIM,
    callTimeoutMs: CALL_TIMEOUT_MS,
    ...overrides,
  };
}

/** Where each index of the conformance suite lives, to reopen it there. */
const optionsOf = new WeakMap<VectorIndex, MilvusIndexOptions>();

describeVectorIndexConformance(
  'milvus',
  async () => {
    // Collections of its own per test: Milvus Lite scans a collection for every expression
    // query, so a collection shared by the whole suite would slow each test down.
    const opts = options({ collectionPrefix: `conformance_${views}` });
    const index = await createMilvusIndex(opts);
    optionsOf.set(index, opts);
    return index;
  },
  {
    reopen: async (closed) => {
      const opts = optionsOf.get(closed);
      if (opts === undefined) throw new Error('the conformance suite reopened an index it did not open');
      const index = await createMilvusIndex(opts);
      optionsOf.set(index, opts);
      return index;
    },
    filterDocs: 200,
    testTimeoutMs: 120_000,
  },
);

describe('milvus index expressions', () => {
  it('milvus expressions - string literals escape quotes, backslashes and line breaks only', () => {
    expect(milvusString('plain ü 😀')).toBe('"plain ü 😀"');
    expect(milvusString('a"b\\c\nd\re\tf')).toBe('"a\\"b\\\\c\\nd\\re\\tf"');
    expect(milvusString('" || true || "')).toBe('"\\" || true || \\""');
  });

  it('milvus expressions - filters become typed facts; empty or undefined filters constrain nothing', () => {
    expect(filterExpression(undefined)).toBeUndefined();
    expect(filterExpression({ metadata: {}, scope: { userId: undefined } })).toBeUndefined();
    expect(filterExpression({ metadata: { n: 1, s: '1' }, scope: { agentId: 'a"' } })).toBe(
      'array_contains_all(facts, ["m[\\"n\\",1]", "m[\\"s\\",\\"1\\"]", "s[\\"agentId\\",\\"a\\\\\\"\\"]"])',
    );
    expect(filterExpression({ metadata: { big: 'x'.repeat(9_000) } })).toBeNull();
  });

  it('milvus expressions - collection names are valid Milvus names and distinct per input', () => {
    const name = (region: string, modelId: string, dimensions = 384) =>
      collectionNames(resolveMilvusOptions({ address: 'h:1', region, shard: 's00', modelId, dimensions }))
        .data;
    const a = name('eu-central-1', 'text-embedding-3-small');
    expect(a).toMatch(/^memmesh_eu_central_1_text_embedding_3_small_384_[0-9a-f]{8}$/);
    expect(name('eu-central-1', 'text.embedding-3-small')).not.toBe(a);
    expect(name('eu-central-1', 'text-embedding-3-small', 1536)).not.toBe(a);
    const long = name('r'.repeat(128), 'm'.repeat(128), 4096);
    expect(long.length).toBeLessThanOrEqual(255);
    expect(long.length).toBeGreaterThan(200);
    expect(long).toMatch(/^[A-Za-z_][A-Za-z0-9_]*$/);
  });

  it('milvus options - bad options fail with a config error naming the field', () => {
    const base = { address: 'h:1', region: 'r', shard: 's00', modelId: 'm', dimensions: 8 };
    expect(() => resolveMilvusOptions({ ...base, dimensions: 0 })).toThrow(/dimensions/);
    expect(() => resolveMilvusOptions({ ...base, collectionPrefix: 'bad-prefix' })).toThrow(
      /collectionPrefix/,
    );
    expect(() => resolveMilvusOptions({ ...base, address: 'no port' })).toThrow(/address/);
    expect(() => resolveMilvusOptions({ ...base, hnsw: { m: 1 } })).toThrow(MeshError);
  });
});

describe('milvus index provisioning', () => {
  it('milvus provisioning - opening twice is idempotent and both handles see the same view', async () => {
    const opts = options({ modelId: 'provisioning-v1' });
    const first = await createMilvusIndex(opts);
    const second = await createMilvusIndex(opts);
    try {
      const vector = unitVector(rng(21), DIM);
      expect(await first.upsert(doc({ id: 'x', version: 1, vectors: [vector] }))).toBe(true);
      expect(await second.upsert(doc({ id: 'x', version: 1, vectors: [vector] }))).toBe(false);
      expect((await second.get('acme', 'x'))?.version).toBe(1);
      const third = await createMilvusIndex(opts);
      expect(third.stats()).toEqual({ docs: 1, chunks: 1, tombstones: 0, version: 1 });
      await third.close();
    } finally {
      await first.close();
      await second.close();
    }
  }, 60_000);

  it('milvus provisioning - an existing collection built with other HNSW parameters is refused', async () => {
    const opts = options({ modelId: 'provisioning-v2' });
    await (await createMilvusIndex(opts)).close();
    const other = createMilvusIndex({ ...opts, hnsw: { m: 32 } });
    await expect(other).rejects.toSatisfy((err) => isMeshError(err, 'config') && /hnsw|M/.test(String(err)));
    // The search-time ef is not part of the index and may differ freely.
    await (await createMilvusIndex({ ...opts, hnsw: { efSearch: 64 } })).close();
  }, 60_000);
});

describe('milvus index outage', () => {
  it('milvus outage - calls reject retryably and fast while Milvus is down; nothing acknowledged is lost', async () => {
    const opts = options({ modelId: 'outage-v1' });
    const random = rng(22);
    const vectors = Array.from({ length: 20 }, () => unitVector(random, DIM));
    const index = await createMilvusIndex(opts);
    let reopened: VectorIndex | undefined;
    try {
      for (const [i, vector] of vectors.slice(0, 10).entries()) {
        await index.upsert(doc({ id: `d${i}`, version: i + 1, vectors: [vector] }));
        index.markApplied(i + 1);
      }
      await index.snapshot();
      await milvus.kill();

      const failures: [string, () => Promise<unknown>][] = [
        ['upsert', () => index.upsert(doc({ id: 'd10', version: 11, vectors: [vectors[10]!] }))],
        ['delete', () => index.delete('acme', 'd0', 12)],
        ['get', () => index.get('acme', 'd1')],
        ['search', () => index.search({ tenant: 'acme', vector: vectors[1]!, topK: 3 })],
        [
          'snapshot',
          async () => {
            index.markApplied(12);
            await index.snapshot();
          },
        ],
      ];
      for (const [, call] of failures) {
        const started = performance.now();
        const error = await call().then(
          () => undefined,
          (err: unknown) => err,
        );
        expect(isMeshError(error, 'unavailable')).toBe(true);
        expect((error as MeshError).retryable).toBe(true);
        expect(performance.now() - started).toBeLessThan(OUTAGE_FAILURE_MS_MAX);
      }
      await expect(createMilvusIndex(opts)).rejects.toSatisfy((err) => isMeshError(err) && err.retryable);

      await milvus.restart();
      // The consumer would retry the un-acked event with backoff; so does this loop, bounded.
      const deadline = Date.now() + RECOVERY_WAIT_MS_MAX;
      let applied: boolean | undefined;
      while (applied === undefined && Date.now() < deadline) {
        applied = await index
          .upsert(doc({ id: 'd10', version: 11, vectors: [vectors[10]!] }))
          .catch((err: unknown) => {
            if (!(isMeshError(err) && err.retryable)) throw err;
            return undefined;
          });
        if (applied === undefined) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(applied).toBe(true);
      expect(await index.delete('acme', 'd0', 12)).toBe(true);
      index.markApplied(12);
      await index.snapshot();
      for (let i = 1; i <= 10; i++) expect((await index.get('acme', `d${i}`))?.version).toBe(i + 1);
      await index.close();

      // A restarted agent resumes from the persisted position, with the same counts.
      reopened = await createMilvusIndex(opts);
      expect(reopened.appliedSeq).toBe(12);
      expect(reopened.stats()).toEqual({ docs: 10, chunks: 10, tombstones: 1, version: 12 });
      const [top] = await reopened.search({ tenant: 'acme', vector: vectors[10]!, topK: 1 });
      expect(top).toMatchObject({ id: 'd10', version: 11 });
    } finally {
      await index.close();
      await reopened?.close();
    }
  }, 120_000);
});
