/**
 * @module conformance-retrieval
 * The retrieval part of the index conformance suite (DESIGN §13): the lexical view beside
 * the vectors, the search modes, their filters, time bounds and recency, and that the
 * lexical view follows every write, survives a reopen and never crosses tenants.
 */
import { seededRandom as rng } from '@memmesh/testkit';
import { expect, test } from 'vitest';
import type { UpsertDoc, VectorIndex } from './types.ts';

type Open = () => Promise<VectorIndex>;
type Reopen = (index: VectorIndex) => Promise<VectorIndex>;

function unit(random: () => number, dim: number): Float32Array {
  const v = Float32Array.from({ length: dim }, () => random() * 2 - 1);
  const norm = Math.hypot(...v);
  return v.map((x) => x / norm);
}

/** A shared text that near-duplicate memories all carry; about 4 KB when repeated 30 times. */
const SHARED =
  'The quarterly planning review covered budget, hiring and the migration timeline for the platform team. ';

/** Version v of a test memory was written at this instant + v seconds: a minute ago and after. */
const CREATED_AT_BASE_MS = Date.now() - 60_000;

/** A memory whose text is `sentence` inside `repeat` copies of the shared text, chunked by sentence. */
function textDoc(
  tenant: string,
  id: string,
  version: number,
  sentence: string,
  vectorOf: () => Float32Array,
  repeat = 1,
  sentenceVector?: Float32Array,
): UpsertDoc {
  const half = Math.floor(repeat / 2);
  const text = `${SHARED.repeat(half)}${sentence} ${SHARED.repeat(repeat - half)}`.trim();
  const chunks: UpsertDoc['chunks'] = [];
  const sentences = text.match(/[^.]+\.\s*/g) ?? [text];
  let start = 0;
  for (const part of sentences) {
    const own = sentenceVector !== undefined && part.startsWith(sentence);
    chunks.push({ start, end: start + part.length, vector: own ? sentenceVector : vectorOf() });
    start += part.length;
  }
  const createdAtMs = CREATED_AT_BASE_MS + version * 1000;
  return { tenant, id, version, text, metadata: { n: version }, scope: {}, chunks, createdAtMs };
}

export function describeRetrieval(open: Open, reopen: Reopen, timeout: number): void {
  /** 30 near-duplicates differing in a name and a number; every third one long (~4 KB). */
  async function nearDuplicates(index: VectorIndex) {
    const random = rng(41);
    const names = Array.from({ length: 30 }, (_, i) => `Vendor${String.fromCharCode(65 + (i % 26))}${i}`);
    // The distinctive sentences embed alike, as near-duplicates do: one direction plus noise.
    const common = unit(random, index.dimensions);
    const near = () => unit(random, index.dimensions).map((x, d) => (common[d] as number) * 4 + x);
    for (const [i, name] of names.entries()) {
      const sentence = `Contract ${name} was signed for ${1000 + i * 37} euros by Dana.`;
      const vec = () => unit(random, index.dimensions);
      await index.upsert(textDoc('acme', `d${i}`, i + 1, sentence, vec, i % 3 === 0 ? 40 : 1, near()));
    }
    return { names, near };
  }

  test('retrieval - keyword and hybrid find the document quoted by its distinctive sentence at top-1', {
    timeout,
  }, async () => {
    const index = await open();
    if (!index.keywordSearch) return;
    const { names, near } = await nearDuplicates(index);
    for (const i of [0, 3, 4, 29]) {
      const text = `Contract ${names[i]} was signed for ${1000 + i * 37} euros by Dana.`;
      // The query embeds as close to every near-duplicate as to its own: vector alone guesses.
      const vector = near();
      const keyword = await index.search({ tenant: 'acme', vector, topK: 5, mode: 'keyword', text });
      expect(keyword[0]?.id, `keyword ${i}`).toBe(`d${i}`);
      expect(keyword[0]?.ranks?.keywordRank).toBe(1);
      const hybrid = await index.search({ tenant: 'acme', vector, topK: 5, mode: 'hybrid', text });
      expect(hybrid[0]?.id, `hybrid ${i}`).toBe(`d${i}`);
    }
  });

  test('retrieval - hybrid keeps the vector half: a query sharing no word finds its vector match', {
    timeout,
  }, async () => {
    const index = await open();
    const random = rng(42);
    const target = unit(random, index.dimensions);
    await index.upsert(textDoc('acme', 'target', 1, 'Nothing here is lexically shared.', () => target));
    for (let i = 0; i < 20; i++) {
      await index.upsert(
        textDoc('acme', `o${i}`, i + 2, `Other memory ${i}.`, () => unit(random, index.dimensions)),
      );
    }
    const hits = await index.search({
      tenant: 'acme',
      vector: target,
      topK: 3,
      mode: 'hybrid',
      text: 'zebra',
    });
    expect(hits[0]?.id).toBe('target');
    if (index.keywordSearch) expect(hits[0]?.ranks?.vectorRank).toBe(1);
  });

  describeRetrievalUpkeep(open, reopen, timeout);
}

/** The lexical view follows writes, reopens and tenants exactly as the vectors do. */
function describeRetrievalUpkeep(open: Open, reopen: Reopen, timeout: number): void {
  test('retrieval - updates and deletes leave no stale lexical hit; a reopen keeps the lexical view', {
    timeout,
  }, async () => {
    const index = await open();
    if (!index.keywordSearch) return;
    const random = rng(43);
    const vec = () => unit(random, index.dimensions);
    await index.upsert(textDoc('acme', 'a', 1, 'The password is Quokka77.', vec));
    await index.upsert(textDoc('acme', 'b', 2, 'Ferret42 guards the gate.', vec));
    await index.upsert(textDoc('acme', 'a', 3, 'The password was rotated.', vec));
    await index.delete('acme', 'b', 4);
    await index.upsert(textDoc('acme', 'c', 5, 'Marmot19 keeps the keys.', vec));
    index.markApplied(5);
    const keyword = (ix: VectorIndex, text: string) =>
      ix.search({ tenant: 'acme', vector: vec(), topK: 5, mode: 'keyword', text });
    expect(await keyword(index, 'Quokka77')).toEqual([]);
    expect(await keyword(index, 'Ferret42')).toEqual([]);
    expect((await keyword(index, 'rotated')).map((h) => h.id)).toEqual(['a']);
    await index.snapshot();
    const again = await reopen(index);
    expect(await keyword(again, 'Quokka77')).toEqual([]);
    expect((await keyword(again, 'Marmot19')).map((h) => h.id)).toEqual(['c']);
    await again.upsert(textDoc('acme', 'c', 6, 'Marmot19 retired.', vec));
    expect((await keyword(again, 'marmot19 retired')).map((h) => h.id)).toEqual(['c']);
    expect(await keyword(again, 'keys')).toEqual([]);
  });

  test('retrieval - tenants never see each other terms', { timeout }, async () => {
    const index = await open();
    if (!index.keywordSearch) return;
    const random = rng(44);
    const vec = () => unit(random, index.dimensions);
    await index.upsert(textDoc('a', 'x', 1, 'Common words only.', vec));
    await index.upsert(textDoc('b', 'y', 2, 'Secret codename Bluefin.', vec));
    for (const mode of ['keyword', 'hybrid'] as const) {
      const hits = await index.search({ tenant: 'a', vector: vec(), topK: 5, mode, text: 'Bluefin' });
      expect(hits.every((h) => h.id === 'x')).toBe(true);
      expect(hits.every((h) => h.ranks?.keywordRank === undefined)).toBe(true);
    }
    expect(await index.search({ tenant: 'c', vector: vec(), topK: 5, mode: 'hybrid', text: 'x' })).toEqual(
      [],
    );
  });

  test('retrieval - filters, time bounds and recency apply in every mode', { timeout }, async () => {
    const index = await open();
    const random = rng(45);
    const vec = () => unit(random, index.dimensions);
    for (let i = 1; i <= 6; i++)
      await index.upsert(textDoc('acme', `t${i}`, i, `Standup note ${i} about Heron.`, vec));
    const vector = vec();
    for (const mode of ['vector', 'keyword', 'hybrid'] as const) {
      if (mode !== 'vector' && !index.keywordSearch) continue;
      const base = { tenant: 'acme', vector, topK: 10, mode, text: 'Heron' };
      const filtered = await index.search({ ...base, filter: { metadata: { n: 2 } } });
      expect(
        filtered.map((h) => h.id),
        mode,
      ).toEqual(['t2']);
      // Version v was written v seconds after the base: [+3 s, +5 s) holds t3 and t4.
      const bounds = {
        createdAfterMs: CREATED_AT_BASE_MS + 3000,
        createdBeforeMs: CREATED_AT_BASE_MS + 5000,
      };
      const bounded = await index.search({ ...base, ...bounds });
      expect(bounded.map((h) => h.id).sort(), mode).toEqual(['t3', 't4']);
      // A half-life of a second weighs t6 32 times t1: far more than their fused scores differ.
      const recent = await index.search({ ...base, recencyHalfLifeDays: 1 / 86_400 });
      if (mode !== 'vector') expect(recent[0]?.id, mode).toBe('t6');
    }
  });
}
