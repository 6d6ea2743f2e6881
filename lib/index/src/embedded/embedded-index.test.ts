import { mkdir, mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Metadata } from '@memmesh/core';
import { isMeshError, shardOf } from '@memmesh/core';
import { createLocalEmbedder } from '@memmesh/embed';
import { seededRandom as rng } from '@memmesh/testkit';
import { afterEach, describe, expect, test } from 'vitest';
import {
  cosine,
  describeVectorIndexConformance,
  doc,
  bruteForce as expected,
  unitVector as sharedUnitVector,
} from '../conformance.ts';
import type { VectorHit, VectorIndex } from '../types.ts';
import { createEmbeddedIndex } from './embedded-index.ts';
import type { EmbeddedIndexOptions } from './options.ts';

const DIM = 32;

const unitVector = (random: () => number, dim = DIM): Float32Array => sharedUnitVector(random, dim);

const opened: VectorIndex[] = [];
const dirs: string[] = [];

/**
 * The same hits in the same order, scores equal to float32 precision. A score comes from the
 * graph (usearch's float32 distance) or from the exact scan (float64 over the stored float32
 * vectors) depending on what the graph's audit reached; a rebuilt graph (threads, so no fixed
 * insertion order) reaches a different set, and the two sources differ in the eighth digit
 * (0.44771450757980347 against 0.44771452950744195 in a CI run).
 */
function expectSameHits(actual: VectorHit[], expected: VectorHit[]): void {
  const withoutScore = (hits: VectorHit[]) => hits.map(({ score: _score, ...hit }) => hit);
  expect(withoutScore(actual)).toEqual(withoutScore(expected));
  actual.forEach((hit, i) => {
    expect(hit.score).toBeCloseTo((expected[i] as VectorHit).score, 6);
  });
}

async function open(options: Partial<EmbeddedIndexOptions> = {}): Promise<VectorIndex> {
  const index = await createEmbeddedIndex({ dimensions: DIM, ...options });
  opened.push(index);
  return index;
}

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'memmesh-index-'));
  dirs.push(dir);
  return dir;
}

afterEach(async () => {
  await Promise.all(opened.splice(0).map((index) => index.close()));
  await Promise.all(dirs.splice(0).map((dir) => rm(dir, { recursive: true, force: true })));
});

/** Where each index of the conformance suite keeps its snapshots, to reopen it there. */
const dirOf = new WeakMap<VectorIndex, string>();

describeVectorIndexConformance(
  'embedded',
  async () => {
    const dir = await tempDir();
    const index = await createEmbeddedIndex({ dimensions: DIM, dir });
    dirOf.set(index, dir);
    return index;
  },
  {
    reopen: async (closed) => {
      const dir = dirOf.get(closed);
      if (dir === undefined) throw new Error('the conformance suite reopened an index it did not open');
      const index = await createEmbeddedIndex({ dimensions: DIM, dir });
      dirOf.set(index, dir);
      return index;
    },
  },
);

describe('embedded index', () => {
  test('validation - bad options fail with a config error', async () => {
    await expect(createEmbeddedIndex({ dimensions: 0 })).rejects.toSatisfy((err) =>
      isMeshError(err, 'config'),
    );
  });
});

describe('embedded index filters', () => {
  const TENANT_DOCS = 2000;

  /** 2000 docs: color cycles through 4 values, agentId through 2, and 3 docs are 'rare'. */
  async function filled(options: Partial<EmbeddedIndexOptions> = {}) {
    const index = await open(options);
    const random = rng(9);
    const vectors: Float32Array[] = [];
    for (let i = 0; i < TENANT_DOCS; i++) {
      const vector = unitVector(random);
      vectors.push(vector);
      const metadata: Metadata = { color: ['red', 'green', 'blue', 'black'][i % 4]!, rare: i % 700 === 11 };
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

  test('filter - a selective filter returns every match (3 of 2000) via the exact scan', async () => {
    // exactScanChunksMax 0 leaves selectivity alone to route the query to the exact scan.
    const { index, vectors, random } = await filled({ exactScanChunksMax: 0 });
    for (let q = 0; q < 5; q++) {
      const hits = await index.search({
        tenant: 'acme',
        vector: unitVector(random),
        topK: 10,
        filter: { metadata: { rare: true } },
      });
      expect(hits.map((h) => h.id).sort()).toEqual(['d11', 'd1411', 'd711']);
    }
    const [top] = await index.search({
      tenant: 'acme',
      vector: vectors[711]!,
      topK: 1,
      filter: { metadata: { rare: true } },
    });
    expect(top?.id).toBe('d711');
  });

  test('filter - a broad filter through the graph matches brute force', async () => {
    const { index, vectors, random } = await filled({ exactScanChunksMax: 0 });
    let agree = 0;
    let total = 0;
    for (let q = 0; q < 20; q++) {
      const query = unitVector(random);
      const hits = await index.search({
        tenant: 'acme',
        vector: query,
        topK: 10,
        filter: { metadata: { color: 'blue' } },
      });
      expect(hits).toHaveLength(10);
      expect(hits.every((h) => h.metadata.color === 'blue')).toBe(true);
      const truth = new Set(expected(vectors, query, 10, (i) => i % 4 === 2));
      agree += hits.filter((h) => truth.has(h.id)).length;
      total += 10;
    }
    expect(agree / total).toBeGreaterThanOrEqual(0.95);
  });

  test('search - candidate doubling finds topK documents when each has many chunks', async () => {
    // oversampleFactor 1 makes the first graph round return far fewer than topK documents.
    const index = await open({ oversampleFactor: 1 });
    const random = rng(10);
    const docs = Array.from({ length: 40 }, () => Array.from({ length: 30 }, () => unitVector(random)));
    for (const [i, vectors] of docs.entries())
      await index.upsert(doc({ id: `d${i}`, version: i + 1, vectors }));
    const query = unitVector(random);
    const hits = await index.search({ tenant: 'acme', vector: query, topK: 10 });
    const truth = docs
      .map((vectors, i) => ({ id: `d${i}`, score: Math.max(...vectors.map((v) => cosine(query, v))) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, 10);
    expect(hits).toHaveLength(10);
    expect(hits[0]?.id).toBe(truth[0]?.id);
    expect(hits.filter((h) => truth.some((t) => t.id === h.id)).length).toBeGreaterThanOrEqual(9);
  });
});

describe('embedded index snapshots', () => {
  async function seeded(dir: string) {
    const index = await open({ dir });
    const random = rng(11);
    const vectors = Array.from({ length: 200 }, () => unitVector(random));
    for (const [i, vector] of vectors.entries()) {
      await index.upsert(
        doc({
          tenant: i % 2 === 0 ? 'even' : 'odd',
          id: `d${i}`,
          version: i + 1,
          vectors: [vector, unitVector(random)],
          metadata: { i },
        }),
      );
      index.markApplied(i + 1);
    }
    await index.delete('even', 'd0', 201);
    index.markApplied(201);
    return { index, vectors, random };
  }

  async function currentName(dir: string): Promise<string> {
    return (await readFile(join(dir, 'CURRENT'), 'utf8')).trim();
  }

  test('snapshot - reopening restores docs, tombstones, search results and appliedSeq', async () => {
    const dir = await tempDir();
    const { index, vectors, random } = await seeded(dir);
    const queries = Array.from({ length: 10 }, () => unitVector(random));
    const before = await Promise.all(
      queries.map((vector) => index.search({ tenant: 'odd', vector, topK: 5 })),
    );
    await index.snapshot();
    expect(await readdir(join(dir, await currentName(dir)))).toEqual(
      expect.arrayContaining([
        'docs.jsonl',
        'vectors.f32',
        'tombstones.jsonl',
        'manifest.json',
        'tenant-0.usearch',
      ]),
    );
    const statsBefore = index.stats();
    await index.close();

    const reopened = await open({ dir });
    expect(reopened.appliedSeq).toBe(201);
    expect(reopened.stats()).toEqual(statsBefore);
    expect(await reopened.get('odd', 'd5')).toMatchObject({ version: 6, metadata: { i: 5 }, chunkCount: 2 });
    const after = await Promise.all(
      queries.map((vector) => reopened.search({ tenant: 'odd', vector, topK: 5 })),
    );
    after.forEach((hits, i) => {
      expectSameHits(hits, before[i] as VectorHit[]);
    });
    expect(
      await reopened.upsert(doc({ tenant: 'even', id: 'd0', version: 100, vectors: [vectors[0]!] })),
    ).toBe(false);
    // New keys must not collide with restored ones.
    expect(
      await reopened.upsert(doc({ tenant: 'odd', id: 'new', version: 300, vectors: [vectors[1]!] })),
    ).toBe(true);
    expect(reopened.stats('odd').chunks).toBe(201);
  });

  test('snapshot - a half-written newer snapshot is never selected', async () => {
    const dir = await tempDir();
    const { index } = await seeded(dir);
    await index.snapshot();
    const good = await currentName(dir);
    await index.close();
    const partial = join(dir, `snap-999-${Date.now() + 1000}`);
    await mkdir(partial);
    await writeFile(join(partial, 'docs.jsonl'), '{"tenant":"even","id":"d2","vers');
    await writeFile(join(dir, 'CURRENT.tmp'), 'snap-999-');

    const reopened = await open({ dir });
    expect(reopened.appliedSeq).toBe(201);
    expect(reopened.stats().docs).toBe(199);
    reopened.markApplied(202);
    await reopened.snapshot();
    const entries = await readdir(dir);
    expect(entries.filter((e) => e.startsWith('snap-'))).toEqual([await currentName(dir)]);
    expect(await currentName(dir)).not.toBe(good);
  });

  test('snapshot - a damaged graph file is rebuilt from the stored vectors', async () => {
    const dir = await tempDir();
    const { index, random } = await seeded(dir);
    const query = unitVector(random);
    const before = await index.search({ tenant: 'even', vector: query, topK: 5 });
    await index.snapshot();
    await index.close();
    const graph = join(dir, await currentName(dir), 'tenant-0.usearch');
    const bytes = await readFile(graph);
    bytes.fill(0xff, 0, 64);
    await writeFile(graph, bytes);
    const reopened = await open({ dir });
    expectSameHits(await reopened.search({ tenant: 'even', vector: query, topK: 5 }), before);
  });

  test('snapshot - damaged vectors fail loudly instead of loading wrong data', async () => {
    const dir = await tempDir();
    const { index } = await seeded(dir);
    await index.snapshot();
    await index.close();
    await truncate(join(dir, await currentName(dir), 'vectors.f32'), 1000);
    await expect(createEmbeddedIndex({ dimensions: DIM, dir })).rejects.toThrow(/damaged/);
    await expect(createEmbeddedIndex({ dimensions: DIM + 1, dir })).rejects.toSatisfy((err) =>
      isMeshError(err, 'config'),
    );
  });

  test('snapshot - concurrent calls are serialized and an unchanged state is not rewritten', async () => {
    const dir = await tempDir();
    const { index, random } = await seeded(dir);
    const writes: Promise<void>[] = [];
    for (let i = 0; i < 5; i++) {
      await index.upsert(
        doc({ tenant: 'odd', id: `c${i}`, version: 1000 + i, vectors: [unitVector(random)] }),
      );
      index.markApplied(1000 + i);
      writes.push(index.snapshot());
    }
    await Promise.all(writes);
    const name = await currentName(dir);
    expect(name.startsWith('snap-1004-')).toBe(true);
    await index.snapshot();
    expect(await currentName(dir)).toBe(name);
    expect((await readdir(dir)).filter((e) => e.startsWith('snap-'))).toEqual([name]);
    await index.close();
    const reopened = await open({ dir });
    expect(reopened.appliedSeq).toBe(1004);
    expect(await reopened.get('odd', 'c4')).toBeDefined();
  });

  test('snapshot - a missing directory opens empty and memory-only snapshots are no-ops', async () => {
    const dir = join(await tempDir(), 'not', 'yet');
    const index = await open({ dir });
    expect(index.appliedSeq).toBe(0);
    expect(index.stats()).toEqual({ docs: 0, chunks: 0, tombstones: 0, version: 0 });
    const memory = await open();
    await memory.upsert(doc({ id: 'x', version: 1, vectors: [unitVector(rng(12))] }));
    await memory.snapshot();
  });
});

async function recallAt10(
  index: VectorIndex,
  vectors: Float32Array[],
  queries: Float32Array[],
): Promise<number> {
  for (const [i, vector] of vectors.entries())
    await index.upsert(doc({ id: `d${i}`, version: i + 1, vectors: [vector] }));
  let found = 0;
  for (const query of queries) {
    const hits = await index.search({ tenant: 'acme', vector: query, topK: 10 });
    const truth = new Set(
      vectors
        .map((v, i) => ({ i, score: cosine(query, v) }))
        .sort((a, b) => b.score - a.score)
        .slice(0, 10)
        .map(({ i }) => `d${i}`),
    );
    found += hits.filter((hit) => truth.has(hit.id)).length;
  }
  return found / (queries.length * 10);
}

describe('embedded index recall', () => {
  test('recall - default parameters reach recall@10 >= 0.95 on 5000 text embeddings', async () => {
    const embedder = createLocalEmbedder();
    const random = rng(17);
    const words = Array.from(
      { length: 3000 },
      (_, i) => `w${(i * 7919) % 100003}x${Math.floor(random() * 1000)}`,
    );
    const sentence = () =>
      Array.from({ length: 24 }, () => words[Math.floor(random() * words.length)]).join(' ');
    const texts = Array.from({ length: 5000 }, sentence);
    const vectors: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += embedder.batchSizeMax) {
      vectors.push(...(await embedder.embed(texts.slice(i, i + embedder.batchSizeMax))));
    }
    const queries = await embedder.embed(texts.slice(0, 100).map((t) => t.split(' ').slice(0, 8).join(' ')));
    const recall = await recallAt10(await open({ dimensions: 384 }), vectors, queries);
    expect(recall).toBeGreaterThanOrEqual(0.95);
  });

  test('recall - random vectors, the worst case, reach recall@10 >= 0.95 with efSearch 512', async () => {
    // Random unit vectors have no cluster structure, so HNSW needs a wider beam for them
    // than for real embeddings: ef 128 gives about 0.79 here, the default (256) about 0.94.
    const dim = 384;
    const random = rng(13);
    const vectors = Array.from({ length: 5000 }, () => unitVector(random, dim));
    const queries = Array.from({ length: 100 }, () => unitVector(random, dim));
    const recall = await recallAt10(
      await open({ dimensions: dim, hnsw: { efSearch: 512 } }),
      vectors,
      queries,
    );
    expect(recall).toBeGreaterThanOrEqual(0.95);
  });

  // The documents of one shard (s02 of 4) of 2,000 template sentences: the local embedder
  // puts one of them (number 611) close to almost every other, and HNSW's neighbour pruning
  // then leaves 62 of the 514 at 384 dimensions (3 at 192) with no link into them. No ef
  // reaches a node nothing links to, so only the unreachable-chunk scan finds them.
  test.each([384, 192])(
    'recall - every document is found by its own text at %i dimensions, though a hub leaves graph nodes unreachable',
    async (dimensions) => {
      const embedder = createLocalEmbedder({ dimensions });
      const ids = Array.from({ length: 2000 }, (_, i) => i).filter(
        (i) => shardOf('acme', `doc-${i}`, 4) === 's02',
      );
      const texts = ids.map(templateSentence);
      const vectors: Float32Array[] = [];
      for (let i = 0; i < texts.length; i += embedder.batchSizeMax) {
        vectors.push(...(await embedder.embed(texts.slice(i, i + embedder.batchSizeMax))));
      }
      const index = await open({ dimensions });
      for (const [i, vector] of vectors.entries()) {
        await index.upsert(doc({ id: `doc-${ids[i]}`, version: i + 1, vectors: [vector] }));
      }
      const missed: string[] = [];
      for (const [i, vector] of vectors.entries()) {
        const hits = await index.search({ tenant: 'acme', vector, topK: 10 });
        if (!hits.some((hit) => hit.id === `doc-${ids[i]}`)) missed.push(`doc-${ids[i]}`);
      }
      expect(ids).toHaveLength(514);
      expect(missed).toEqual([]);
    },
  );
});

/** Short sentences that differ in three made-up words and a number, over a fixed template. */
function templateSentence(i: number): string {
  const syllables = ['ka', 'zu', 'mor', 'vel', 'tri', 'quo', 'plin', 'dex', 'ro', 'sha', 'bix', 'nel'];
  const word = (n: number): string => {
    let s = '';
    let x = n;
    for (let k = 0; k < 4; k++) {
      s += syllables[x % syllables.length];
      x = Math.floor(x / syllables.length) + k * 7 + 3;
    }
    return s;
  };
  return `The ${word(i * 3 + 1)} keeps ${word(i * 5 + 2)} beside the ${word(i * 7 + 3)} number ${i}.`;
}
