/**
 * @module conformance
 * The one test suite every `VectorIndex` implementation passes (DESIGN §5): the embedded
 * usearch index in process, Milvus against a real Milvus Lite server. It uses only the
 * `VectorIndex` interface: the implementation's test file says how to open a fresh, empty
 * index and how to reopen a closed one on the same state.
 */
import type { Metadata, Scope } from '@memmesh/core';
import { seededRandom as rng } from '@memmesh/testkit';
import { afterEach, describe, expect, test } from 'vitest';
import type { UpsertDoc, VectorIndex } from './types.ts';

export interface VectorIndexConformanceOptions {
  /** Opens another index on the state of `closed` (already closed by the suite). */
  reopen: (closed: VectorIndex) => Promise<VectorIndex>;
  /** Documents of the filter fixture; fewer keeps a networked index's suite short. */
  filterDocs?: number;
  /** Per-test timeout, for implementations that pay a round trip per write. */
  testTimeoutMs?: number;
}

export const DEFAULT_FILTER_DOCS = 400;
const DEFAULT_TEST_TIMEOUT_MS = 30_000;

export function unitVector(random: () => number, dim: number): Float32Array {
  const v = new Float32Array(dim);
  let sum = 0;
  for (let i = 0; i < dim; i++) {
    const x = random() * 2 - 1;
    v[i] = x;
    sum += x * x;
  }
  const norm = Math.sqrt(sum);
  for (let i = 0; i < dim; i++) v[i] = (v[i] as number) / norm;
  return v;
}

export function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += (a[i] as number) * (b[i] as number);
    na += (a[i] as number) ** 2;
    nb += (b[i] as number) ** 2;
  }
  return dot / Math.sqrt(na * nb);
}

export interface DocSpec {
  tenant?: string;
  id: string;
  version: number;
  vectors: Float32Array[];
  text?: string;
  metadata?: Metadata;
  scope?: Scope;
  expiresAtMs?: number;
}

export function doc(spec: DocSpec): UpsertDoc {
  const text = spec.text ?? `text of ${spec.id} v${spec.version}`;
  return {
    tenant: spec.tenant ?? 'acme',
    id: spec.id,
    version: spec.version,
    text,
    metadata: spec.metadata ?? {},
    scope: spec.scope ?? {},
    chunks: spec.vectors.map((vector) => ({ start: 0, end: text.length, vector })),
    ...(spec.expiresAtMs === undefined ? {} : { expiresAtMs: spec.expiresAtMs }),
  };
}

/** Ids of the `topK` vectors closest to `query` among those `keep` accepts, best first. */
export function bruteForce(
  vectors: Float32Array[],
  query: Float32Array,
  topK: number,
  keep: (i: number) => boolean,
): string[] {
  return vectors
    .map((v, i) => ({ id: `d${i}`, score: cosine(query, v), i }))
    .filter(({ i }) => keep(i))
    .sort((a, b) => b.score - a.score)
    .slice(0, topK)
    .map((h) => h.id);
}

export function describeVectorIndexConformance(
  name: string,
  open: () => Promise<VectorIndex>,
  options: VectorIndexConformanceOptions,
): void {
  const opened: VectorIndex[] = [];
  const fresh = async (): Promise<VectorIndex> => {
    const index = await open();
    opened.push(index);
    return index;
  };
  const reopen = async (index: VectorIndex): Promise<VectorIndex> => {
    await index.close();
    const again = await options.reopen(index);
    opened.push(again);
    return again;
  };
  const timeout = options.testTimeoutMs ?? DEFAULT_TEST_TIMEOUT_MS;

  describe(`${name} index conformance`, () => {
    afterEach(async () => {
      await Promise.all(opened.splice(0).map((index) => index.close()));
    });
    describeWrites(fresh, timeout);
    describeVersions(fresh, reopen, timeout);
    describeIsolation(fresh, timeout);
    describeFilters(fresh, options.filterDocs ?? DEFAULT_FILTER_DOCS, timeout);
    describeExpiry(fresh, reopen, timeout);
    describeList(fresh, timeout);
  });
}

type Open = () => Promise<VectorIndex>;
type Reopen = (index: VectorIndex) => Promise<VectorIndex>;

function describeWrites(open: Open, timeout: number): void {
  test('upsert - get returns the document and search ranks it first for its own vector', {
    timeout,
  }, async () => {
    const index = await open();
    const random = rng(1);
    const vectors = Array.from({ length: 50 }, () => unitVector(random, index.dimensions));
    for (const [i, vector] of vectors.entries()) {
      expect(
        await index.upsert(doc({ id: `d${i}`, version: i + 1, vectors: [vector], metadata: { n: i } })),
      ).toBe(true);
    }
    expect(await index.get('acme', 'd7')).toEqual({
      tenant: 'acme',
      id: 'd7',
      version: 8,
      text: 'text of d7 v8',
      metadata: { n: 7 },
      scope: {},
      chunkCount: 1,
    });
    expect(await index.get('acme', 'missing')).toBeUndefined();
    for (const [i, vector] of vectors.entries()) {
      const [top] = await index.search({ tenant: 'acme', vector, topK: 1 });
      expect(top?.id).toBe(`d${i}`);
      expect(top?.score).toBeCloseTo(1, 5);
    }
    expect(index.stats()).toEqual({ docs: 50, chunks: 50, tombstones: 0, version: 50 });
  });

  test('search - returns topK documents sorted by score, one hit per document', { timeout }, async () => {
    const index = await open();
    const random = rng(2);
    const dim = index.dimensions;
    const query = unitVector(random, dim);
    const docs = Array.from({ length: 30 }, () => [unitVector(random, dim), unitVector(random, dim)]);
    for (const [i, vectors] of docs.entries())
      await index.upsert(doc({ id: `d${i}`, version: i + 1, vectors }));
    const hits = await index.search({ tenant: 'acme', vector: query, topK: 5 });
    expect(hits).toHaveLength(5);
    expect(new Set(hits.map((h) => h.id)).size).toBe(5);
    const scores = hits.map((h) => h.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    // The best chunk decides a document's score.
    const truth = docs
      .map((vectors, i) => ({ id: `d${i}`, score: Math.max(...vectors.map((v) => cosine(query, v))) }))
      .sort((a, b) => b.score - a.score);
    expect(hits[0]?.id).toBe(truth[0]?.id);
    expect(hits[0]?.score).toBeCloseTo(truth[0]?.score ?? 0, 4);
    const all = await index.search({ tenant: 'acme', vector: query, topK: 50 });
    expect(all).toHaveLength(30);
  });

  test('update - a newer version replaces every old chunk', { timeout }, async () => {
    const index = await open();
    const random = rng(4);
    const dim = index.dimensions;
    const old = [unitVector(random, dim), unitVector(random, dim), unitVector(random, dim)];
    const fresh = [unitVector(random, dim)];
    await index.upsert(doc({ id: 'x', version: 1, vectors: old, text: 'old text', metadata: { v: 'old' } }));
    await index.upsert(doc({ id: 'y', version: 2, vectors: [unitVector(random, dim)] }));
    expect(index.stats('acme').chunks).toBe(4);
    expect(
      await index.upsert(
        doc({ id: 'x', version: 3, vectors: fresh, text: 'new text', metadata: { v: 'new' } }),
      ),
    ).toBe(true);
    expect(index.stats('acme')).toEqual({ docs: 2, chunks: 2, tombstones: 0, version: 3 });
    for (const vector of old) {
      const hits = await index.search({ tenant: 'acme', vector, topK: 2 });
      expect(hits.map((h) => h.text)).not.toContain('old text');
      const x = hits.find((h) => h.id === 'x');
      expect(x?.score).toBeCloseTo(cosine(vector, fresh[0]!), 5);
    }
    const [top] = await index.search({ tenant: 'acme', vector: fresh[0]!, topK: 1 });
    expect(top).toMatchObject({ id: 'x', version: 3, text: 'new text', metadata: { v: 'new' } });
    const oldFilter = { metadata: { v: 'old' } };
    expect(await index.search({ tenant: 'acme', vector: old[0]!, topK: 5, filter: oldFilter })).toEqual([]);
    expect((await index.get('acme', 'x'))?.chunkCount).toBe(1);
  });

  test('delete - removes the document from get and search', { timeout }, async () => {
    const index = await open();
    const random = rng(5);
    const vectors = Array.from({ length: 10 }, () => unitVector(random, index.dimensions));
    for (const [i, vector] of vectors.entries()) {
      await index.upsert(doc({ id: `d${i}`, version: i + 1, vectors: [vector, vector.map((x) => -x)] }));
    }
    expect(await index.delete('acme', 'd3', 20)).toBe(true);
    expect(await index.get('acme', 'd3')).toBeUndefined();
    const hits = await index.search({ tenant: 'acme', vector: vectors[3]!, topK: 10 });
    expect(hits.map((h) => h.id)).not.toContain('d3');
    expect(hits).toHaveLength(9);
    expect(index.stats('acme')).toEqual({ docs: 9, chunks: 18, tombstones: 1, version: 20 });
  });

  test('validation - wrong vector length and bad arguments throw RangeError', { timeout }, async () => {
    const index = await open();
    const dim = index.dimensions;
    const wrong = new Float32Array(dim + 1);
    await expect(index.upsert(doc({ id: 'x', version: 1, vectors: [wrong] }))).rejects.toThrow(RangeError);
    await expect(index.search({ tenant: 'acme', vector: wrong, topK: 1 })).rejects.toThrow(RangeError);
    const ok = unitVector(rng(8), dim);
    await expect(index.search({ tenant: 'acme', vector: ok, topK: 0 })).rejects.toThrow(RangeError);
    await expect(index.upsert(doc({ id: 'x', version: -1, vectors: [ok] }))).rejects.toThrow(RangeError);
    await expect(index.delete('acme', 'x', 1.5)).rejects.toThrow(RangeError);
    const nan = new Float32Array(dim).fill(Number.NaN);
    await expect(index.upsert(doc({ id: 'x', version: 1, vectors: [nan] }))).rejects.toThrow(RangeError);
    expect(index.stats()).toEqual({ docs: 0, chunks: 0, tombstones: 0, version: 0 });
    expect(await index.get('acme', 'x')).toBeUndefined();
  });
}

function describeVersions(open: Open, reopen: Reopen, timeout: number): void {
  test('idempotency - a version already held, or older, changes nothing', { timeout }, async () => {
    const index = await open();
    const random = rng(6);
    const v1 = unitVector(random, index.dimensions);
    const v2 = unitVector(random, index.dimensions);
    expect(await index.upsert(doc({ id: 'x', version: 5, vectors: [v1], text: 'five' }))).toBe(true);
    expect(await index.upsert(doc({ id: 'x', version: 5, vectors: [v2], text: 'five again' }))).toBe(false);
    expect(await index.upsert(doc({ id: 'x', version: 4, vectors: [v2], text: 'four' }))).toBe(false);
    expect((await index.get('acme', 'x'))?.text).toBe('five');
    expect(index.stats()).toEqual({ docs: 1, chunks: 1, tombstones: 0, version: 5 });
    expect(await index.delete('acme', 'x', 5)).toBe(false);
    expect(await index.delete('acme', 'x', 3)).toBe(false);
    expect((await index.get('acme', 'x'))?.version).toBe(5);

    expect(await index.delete('acme', 'x', 9)).toBe(true);
    expect(await index.delete('acme', 'x', 9)).toBe(false);
    expect(await index.upsert(doc({ id: 'x', version: 7, vectors: [v1] }))).toBe(false);
    expect(await index.get('acme', 'x')).toBeUndefined();
    expect(await index.search({ tenant: 'acme', vector: v1, topK: 3 })).toEqual([]);
    expect(index.stats()).toEqual({ docs: 0, chunks: 0, tombstones: 1, version: 9 });

    // A delete for an id never seen still blocks the older upsert that may arrive after it.
    expect(await index.delete('acme', 'ghost', 12)).toBe(true);
    expect(await index.upsert(doc({ id: 'ghost', version: 11, vectors: [v1] }))).toBe(false);
    expect(await index.upsert(doc({ id: 'x', version: 10, vectors: [v2], text: 'revived' }))).toBe(true);
    expect(index.stats()).toEqual({ docs: 1, chunks: 1, tombstones: 1, version: 12 });
    expect((await index.get('acme', 'x'))?.text).toBe('revived');
  });

  test('markApplied - keeps the maximum; upserts and deletes leave it alone', { timeout }, async () => {
    const index = await open();
    expect(index.appliedSeq).toBe(0);
    await index.upsert(doc({ id: 'x', version: 5, vectors: [unitVector(rng(7), index.dimensions)] }));
    expect(index.appliedSeq).toBe(0);
    index.markApplied(5);
    index.markApplied(3);
    expect(index.appliedSeq).toBe(5);
    await index.delete('acme', 'x', 6);
    expect(index.appliedSeq).toBe(5);
  });

  test('persistence - documents, tombstones, stats and appliedSeq survive close and reopen', {
    timeout,
  }, async () => {
    const index = await open();
    const random = rng(14);
    const vectors = Array.from({ length: 20 }, () => unitVector(random, index.dimensions));
    for (const [i, vector] of vectors.entries()) {
      await index.upsert(
        doc({
          tenant: i % 2 === 0 ? 'even' : 'odd',
          id: `d${i}`,
          version: i + 1,
          vectors: [vector],
          metadata: { i },
        }),
      );
      index.markApplied(i + 1);
    }
    await index.delete('even', 'd0', 21);
    index.markApplied(22);
    await index.snapshot();
    const stats = { all: index.stats(), even: index.stats('even'), odd: index.stats('odd') };
    expect(stats.even).toEqual({ docs: 9, chunks: 9, tombstones: 1, version: 21 });

    const again = await reopen(index);
    expect(again.appliedSeq).toBe(22);
    expect({ all: again.stats(), even: again.stats('even'), odd: again.stats('odd') }).toEqual(stats);
    expect(await again.get('odd', 'd5')).toMatchObject({ version: 6, metadata: { i: 5 }, chunkCount: 1 });
    expect(await again.upsert(doc({ tenant: 'even', id: 'd0', version: 15, vectors: [vectors[0]!] }))).toBe(
      false,
    );
    const [top] = await again.search({ tenant: 'odd', vector: vectors[7]!, topK: 1 });
    expect(top).toMatchObject({ id: 'd7', version: 8 });
    // markApplied after a reopen goes on from the restored position.
    again.markApplied(30);
    await again.snapshot();
    const third = await reopen(again);
    expect(third.appliedSeq).toBe(30);
  });

  test('drop - a dropped view keeps nothing: reopened on its place, it is empty', { timeout }, async () => {
    const index = await open();
    const random = rng(15);
    for (let i = 0; i < 5; i++) {
      await index.upsert(
        doc({ id: `gone${i}`, version: i + 1, vectors: [unitVector(random, index.dimensions)] }),
      );
      index.markApplied(i + 1);
    }
    await index.snapshot();
    await index.drop();
    const again = await reopen(index);
    expect(again.appliedSeq).toBe(0);
    expect(again.stats()).toEqual({ docs: 0, chunks: 0, tombstones: 0, version: 0 });
    expect(await again.get('acme', 'gone1')).toBeUndefined();
    expect(
      await again.search({ tenant: 'acme', vector: unitVector(random, again.dimensions), topK: 5 }),
    ).toEqual([]);
  });
}

function describeIsolation(open: Open, timeout: number): void {
  test('tenant isolation - the same vectors in two tenants never cross, by id, filter or similarity', {
    timeout,
  }, async () => {
    const index = await open();
    const random = rng(3);
    const count = 100;
    const vectors = Array.from({ length: count }, () => unitVector(random, index.dimensions));
    for (const [i, vector] of vectors.entries()) {
      const shared = { metadata: { owner: 'a', i }, scope: { agentId: 'same' } };
      await index.upsert(doc({ tenant: 'a', id: `a${i}`, version: i + 1, vectors: [vector], ...shared }));
      await index.upsert(doc({ tenant: 'b', id: `b${i}`, version: i + 1, vectors: [vector], ...shared }));
    }
    await index.upsert(doc({ tenant: 'b', id: 'same-id', version: 500, vectors: [vectors[0]!], text: 'b' }));
    for (const topK of [10, count]) {
      for (const [i, vector] of vectors.slice(0, 5).entries()) {
        const hitsA = await index.search({ tenant: 'a', vector, topK });
        const hitsB = await index.search({ tenant: 'b', vector, topK });
        expect(hitsA).toHaveLength(topK);
        expect(hitsA[0]?.id).toBe(`a${i}`);
        expect(hitsA.every((h) => h.id.startsWith('a'))).toBe(true);
        expect(hitsB.every((h) => h.id.startsWith('b') || h.id === 'same-id')).toBe(true);
      }
    }
    // Metadata naming the other tenant's data only narrows within the tenant asked for.
    const filtered = await index.search({
      tenant: 'a',
      vector: vectors[0]!,
      topK: 5,
      filter: { metadata: { owner: 'a' }, scope: { agentId: 'same' } },
    });
    expect(filtered.map((h) => h.id)).toEqual(['a0', ...filtered.slice(1).map((h) => h.id)]);
    expect(filtered.every((h) => h.id.startsWith('a'))).toBe(true);
    expect(await index.get('b', 'a1')).toBeUndefined();
    expect(await index.get('a', 'same-id')).toBeUndefined();
    expect(await index.delete('a', 'same-id', 600)).toBe(true);
    expect((await index.get('b', 'same-id'))?.text).toBe('b');
    expect(await index.search({ tenant: 'c', vector: vectors[0]!, topK: 5 })).toEqual([]);
    expect(index.stats('a')).toEqual({ docs: count, chunks: count, tombstones: 1, version: 600 });
    expect(index.stats('b')).toEqual({ docs: count + 1, chunks: count + 1, tombstones: 0, version: 500 });
    expect(index.stats('c')).toEqual({ docs: 0, chunks: 0, tombstones: 0, version: 0 });
  });
}

function describeFilters(open: Open, docs: number, timeout: number): void {
  /** color cycles through 4 values, agentId through 2, and 3 docs are 'rare'. */
  const rareEvery = Math.floor(docs / 3);
  const isRare = (i: number) => i % rareEvery === 11 && i < 3 * rareEvery;
  async function filled() {
    const index = await open();
    const random = rng(9);
    const vectors: Float32Array[] = [];
    for (let i = 0; i < docs; i++) {
      const vector = unitVector(random, index.dimensions);
      vectors.push(vector);
      const metadata: Metadata = { color: ['red', 'green', 'blue', 'black'][i % 4]!, rare: isRare(i) };
      await index.upsert(
        doc({
          id: `d${i}`,
          version: i + 1,
          vectors: [vector],
          metadata,
          scope: { agentId: `agent-${i % 2}` },
        }),
      );
    }
    return { index, vectors, random };
  }

  test('filter - metadata and scope equality, all keys must match', { timeout }, async () => {
    const { index, vectors, random } = await filled();
    const query = unitVector(random, index.dimensions);
    const search = (filter: Parameters<VectorIndex['search']>[0]['filter']) =>
      index.search({ tenant: 'acme', vector: query, topK: 10, filter });
    const hits = await search({ metadata: { color: 'red' }, scope: { agentId: 'agent-0' } });
    expect(hits).toHaveLength(10);
    for (const hit of hits) {
      expect(hit.metadata.color).toBe('red');
      expect(hit.scope.agentId).toBe('agent-0');
    }
    expect(hits.map((h) => h.id)).toEqual(bruteForce(vectors, query, 10, (i) => i % 4 === 0));
    expect(await search({ metadata: { color: 'red' }, scope: { agentId: 'agent-1' } })).toEqual([]);
    expect(await search({ metadata: { size: 1 } })).toEqual([]);
    // An undefined field is no constraint (it comes from spreading optional fields).
    const unconstrained = await search({ scope: { userId: undefined } });
    expect(unconstrained.map((h) => h.id)).toEqual(bruteForce(vectors, query, 10, () => true));
    expect((await search({})).map((h) => h.id)).toEqual(bruteForce(vectors, query, 10, () => true));
  });

  test('filter - a selective filter returns every match', { timeout }, async () => {
    const { index, vectors, random } = await filled();
    const rare = vectors.map((_, i) => i).filter(isRare);
    expect(rare).toHaveLength(3);
    for (let q = 0; q < 5; q++) {
      const hits = await index.search({
        tenant: 'acme',
        vector: unitVector(random, index.dimensions),
        topK: 10,
        filter: { metadata: { rare: true } },
      });
      expect(hits.map((h) => h.id).sort()).toEqual(rare.map((i) => `d${i}`).sort());
    }
    const [top] = await index.search({
      tenant: 'acme',
      vector: vectors[rare[1]!]!,
      topK: 1,
      filter: { metadata: { rare: true } },
    });
    expect(top?.id).toBe(`d${rare[1]}`);
  });

  test('filter - a broad filter matches brute force', { timeout }, async () => {
    const { index, vectors, random } = await filled();
    let agree = 0;
    let total = 0;
    for (let q = 0; q < 20; q++) {
      const query = unitVector(random, index.dimensions);
      const hits = await index.search({
        tenant: 'acme',
        vector: query,
        topK: 10,
        filter: { metadata: { color: 'blue' } },
      });
      expect(hits).toHaveLength(10);
      expect(hits.every((h) => h.metadata.color === 'blue')).toBe(true);
      const truth = new Set(bruteForce(vectors, query, 10, (i) => i % 4 === 2));
      agree += hits.filter((h) => truth.has(h.id)).length;
      total += 10;
    }
    expect(agree / total).toBeGreaterThanOrEqual(0.95);
  });

  test('filter - values and keys match exactly: types, quotes, backslashes, unicode', {
    timeout,
  }, async () => {
    const index = await open();
    const random = rng(15);
    const dim = index.dimensions;
    const tricky: Metadata[] = [
      { n: 1 },
      { n: '1' },
      { n: true },
      { n: 1.5 },
      { 'quote"key': 'say "hi"' },
      { 'back\\slash': 'C:\\dir\\' },
      { 'new\nline': 'tab\there\r\n' },
      { emoji: '😀 ü € ключ' },
      { 'a/b~c.d[0]': "it's" },
      { empty: '' },
    ];
    for (const [i, metadata] of tricky.entries()) {
      await index.upsert(doc({ id: `t${i}`, version: i + 1, vectors: [unitVector(random, dim)], metadata }));
    }
    await index.upsert(
      doc({ id: 'scoped', version: 50, vectors: [unitVector(random, dim)], scope: { userId: 'u "1"\\' } }),
    );
    const query = unitVector(random, dim);
    const ids = async (filter: Parameters<VectorIndex['search']>[0]['filter']) =>
      (await index.search({ tenant: 'acme', vector: query, topK: 20, filter })).map((h) => h.id).sort();
    for (const [i, metadata] of tricky.entries()) {
      expect(await ids({ metadata })).toEqual([`t${i}`]);
    }
    expect(await ids({ metadata: { n: 2 } })).toEqual([]);
    expect(await ids({ metadata: { n: false } })).toEqual([]);
    expect(await ids({ metadata: { 'quote"key': 'say "hi' } })).toEqual([]);
    expect(await ids({ scope: { userId: 'u "1"\\' } })).toEqual(['scoped']);
    expect(await ids({ scope: { userId: 'u "1"' } })).toEqual([]);
    expect((await index.get('acme', 't6'))?.metadata).toEqual({ 'new\nline': 'tab\there\r\n' });
  });
}

/** An hour: far enough that a document given it does not expire during a test. */
const HOUR_MS = 3_600_000;

/**
 * 10 expired, 10 expiring in an hour and 5 that never expire (ids e*, f*, n*); e* and f*
 * share metadata `{kind: 'session'}`, and every vector lies near `near`.
 */
async function expiryFixture(index: VectorIndex) {
  const random = rng(31);
  const dim = index.dimensions;
  const near = unitVector(random, dim);
  const around = () => {
    const v = unitVector(random, dim).map((x, i) => x * 0.2 + (near[i] as number));
    return new Float32Array(v);
  };
  const nowMs = Date.now();
  let version = 0;
  for (let i = 0; i < 10; i++) {
    const expiresAtMs = nowMs - 1_000 - i;
    await index.upsert(
      doc({
        id: `e${i}`,
        version: ++version,
        vectors: [around()],
        metadata: { kind: 'session' },
        expiresAtMs,
      }),
    );
    await index.upsert(
      doc({
        id: `f${i}`,
        version: ++version,
        vectors: [around()],
        metadata: { kind: 'session' },
        expiresAtMs: nowMs + HOUR_MS,
      }),
    );
  }
  for (let i = 0; i < 5; i++) {
    await index.upsert(doc({ id: `n${i}`, version: ++version, vectors: [around()] }));
  }
  return { near, nowMs, version };
}

const idsOf = (docs: { id: string }[]) => docs.map((d) => d.id).sort();
const LIVE_IDS = [
  ...Array.from({ length: 10 }, (_, i) => `f${i}`),
  ...Array.from({ length: 5 }, (_, i) => `n${i}`),
];

function describeExpiry(open: Open, reopen: Reopen, timeout: number): void {
  test('expiry - an expired document is gone from get, search and list at once, and takes no topK place', {
    timeout,
  }, async () => {
    const index = await open();
    const { near, nowMs } = await expiryFixture(index);
    expect(await index.get('acme', 'e3')).toBeUndefined();
    expect((await index.get('acme', 'f3'))?.expiresAtMs).toBe(nowMs + HOUR_MS);
    expect((await index.get('acme', 'n3'))?.expiresAtMs).toBeUndefined();
    // 15 live documents: a topK of 15 gets all of them, whatever the expired ones scored.
    const hits = await index.search({ tenant: 'acme', vector: near, topK: 15 });
    expect(idsOf(hits)).toEqual(LIVE_IDS.sort());
    expect(hits.find((h) => h.id === 'f0')?.expiresAtMs).toBe(nowMs + HOUR_MS);
    const filtered = await index.search({
      tenant: 'acme',
      vector: near,
      topK: 10,
      filter: { metadata: { kind: 'session' } },
    });
    expect(idsOf(filtered)).toEqual(LIVE_IDS.filter((id) => id.startsWith('f')).sort());
    expect(idsOf(await index.list({ tenant: 'acme', limit: 100 }))).toEqual(LIVE_IDS.sort());
  });

  test('expiry - expiring lists due documents, bounded; expire tombstones exactly that version', {
    timeout,
  }, async () => {
    const index = await open();
    const { near, nowMs, version } = await expiryFixture(index);
    expect(await index.expiring(nowMs, 3)).toHaveLength(3);
    const due = await index.expiring(nowMs, 100);
    expect(idsOf(due)).toEqual(Array.from({ length: 10 }, (_, i) => `e${i}`).sort());
    expect(due.every((d) => d.tenant === 'acme' && d.version % 2 === 1)).toBe(true);
    expect(await index.expire('acme', 'f0', 2)).toBe(false);
    expect(await index.expire('acme', 'n0', 21)).toBe(false);
    const [first] = due;
    expect(await index.expire('acme', first!.id, first!.version + 1)).toBe(false);
    for (const d of due) expect(await index.expire(d.tenant, d.id, d.version)).toBe(true);
    expect(await index.expire('acme', first!.id, first!.version)).toBe(false);
    expect(await index.expiring(nowMs, 100)).toEqual([]);
    expect(index.stats('acme')).toMatchObject({ docs: 15, tombstones: 10 });
    // The expired event again changes nothing; a newer version of the memory lives.
    const again = doc({ id: first!.id, version: first!.version, vectors: [near], expiresAtMs: nowMs - 1 });
    expect(await index.upsert(again)).toBe(false);
    expect(await index.upsert(doc({ id: first!.id, version: version + 1, vectors: [near] }))).toBe(true);
    expect((await index.get('acme', first!.id))?.version).toBe(version + 1);
  });

  test('expiry - an expiry survives a reopen', { timeout }, async () => {
    let index = await open();
    const { nowMs } = await expiryFixture(index);
    index.markApplied(25);
    await index.snapshot();
    index = await reopen(index);
    expect((await index.get('acme', 'f1'))?.expiresAtMs).toBe(nowMs + HOUR_MS);
    expect(await index.get('acme', 'e1')).toBeUndefined();
    expect(await index.expiring(Date.now(), 100)).toHaveLength(10);
  });
}

function describeList(open: Open, timeout: number): void {
  test('list - newest first, paged below a version with no duplicate and no gap, across updates and deletes', {
    timeout,
  }, async () => {
    const index = await open();
    const random = rng(41);
    const dim = index.dimensions;
    let version = 0;
    const current = new Map<string, number>();
    for (let i = 0; i < 40; i++) {
      await index.upsert(doc({ id: `d${i}`, version: ++version, vectors: [unitVector(random, dim)] }));
      current.set(`d${i}`, version);
      // Another tenant's documents interleave and are never listed.
      await index.upsert(
        doc({ tenant: 'globex', id: `d${i}`, version: ++version, vectors: [unitVector(random, dim)] }),
      );
    }
    for (const i of [3, 17, 30]) {
      await index.upsert(doc({ id: `d${i}`, version: ++version, vectors: [unitVector(random, dim)] }));
      current.set(`d${i}`, version);
    }
    for (const i of [5, 18]) {
      await index.delete('acme', `d${i}`, ++version);
      current.delete(`d${i}`);
    }
    const expected = [...current.entries()].sort((a, b) => b[1] - a[1]).map(([id]) => id);
    const seen: string[] = [];
    let before: number | undefined;
    for (let page = 0; page < 20; page++) {
      const docs = await index.list({ tenant: 'acme', limit: 7, beforeVersion: before });
      if (docs.length === 0) break;
      const versions = docs.map((d) => d.version);
      expect(versions).toEqual([...versions].sort((a, b) => b - a));
      expect(docs.every((d) => d.tenant === 'acme')).toBe(true);
      seen.push(...docs.map((d) => d.id));
      before = docs.at(-1)!.version;
    }
    expect(seen).toEqual(expected);
    const [newest] = await index.list({ tenant: 'acme', limit: 1 });
    expect(newest).toMatchObject({ id: 'd30', version: current.get('d30'), chunkCount: 1 });
    expect(await index.list({ tenant: 'nobody', limit: 5 })).toEqual([]);
  });

  test('list - filters select as search filters do: exact, typed, metadata and scope', {
    timeout,
  }, async () => {
    const index = await open();
    const random = rng(43);
    const dim = index.dimensions;
    const specs: { metadata: Metadata; scope: Scope }[] = [
      { metadata: { team: 'infra', n: 1 }, scope: { userId: 'u1' } },
      { metadata: { team: 'infra', n: '1' }, scope: { userId: 'u1', sessionId: 's1' } },
      { metadata: { team: 'web', n: 1 }, scope: { userId: 'u2' } },
      { metadata: { team: 'infra', n: true }, scope: { agentId: 'a1', userId: 'u2' } },
    ];
    for (const [i, spec] of specs.entries()) {
      await index.upsert(doc({ id: `d${i}`, version: i + 1, vectors: [unitVector(random, dim)], ...spec }));
    }
    const ids = async (filter: Parameters<VectorIndex['list']>[0]['filter']) =>
      (await index.list({ tenant: 'acme', limit: 100, filter })).map((d) => d.id);
    expect(await ids({ metadata: { team: 'infra' } })).toEqual(['d3', 'd1', 'd0']);
    expect(await ids({ metadata: { n: 1 } })).toEqual(['d2', 'd0']);
    expect(await ids({ metadata: { n: '1' } })).toEqual(['d1']);
    expect(await ids({ scope: { userId: 'u1' } })).toEqual(['d1', 'd0']);
    expect(await ids({ scope: { userId: 'u2' }, metadata: { team: 'infra' } })).toEqual(['d3']);
    expect(await ids({ scope: { sessionId: 's1', userId: 'u1' } })).toEqual(['d1']);
    expect(await ids({ scope: { userId: undefined } })).toEqual(['d3', 'd2', 'd1', 'd0']);
    expect(await ids({ metadata: { team: 'none' } })).toEqual([]);
    expect((await index.list({ tenant: 'acme', limit: 100 }))[0]?.scope).toEqual({
      agentId: 'a1',
      userId: 'u2',
    });
  });
}
