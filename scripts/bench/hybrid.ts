/**
 * @module bench-hybrid
 * `npm run bench:hybrid [-- --chunks N --queries N]`: what the lexical half costs. One embedded
 * index holds N one-chunk memories of the bench corpus (embedded by the local embedder) for
 * one tenant; the same queries are searched in vector mode (the baseline, measured in the
 * same run), keyword mode and hybrid mode, one at a time, and the p50 and p99 of each are
 * reported with the ratio and the difference to vector. Writes
 * scripts/bench/HYBRID_RESULTS.md with the date, the machine and the command.
 */
import { writeFile } from 'node:fs/promises';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import type { SearchMode } from '@memmesh/core';
import { createLocalEmbedder } from '@memmesh/embed';
import { createEmbeddedIndex, type VectorIndex } from '@memmesh/index';
import { makeCorpus, makeQueries } from './corpus.ts';
import { percentile } from './stats.ts';

const CHUNKS_DEFAULT = 10_000;
const CHUNKS_MAX = 200_000;
const QUERIES_DEFAULT = 1_000;
const QUERIES_MAX = 20_000;
const TOP_K = 10;
const EMBED_BATCH = 256;
/** Rounds of every mode, interleaved, so that drift in the machine's load hits all alike. */
const ROUNDS = 3;

const argv = process.argv.slice(2);
const { values } = parseArgs({
  args: argv,
  options: {
    chunks: { type: 'string', default: String(CHUNKS_DEFAULT) },
    queries: { type: 'string', default: String(QUERIES_DEFAULT) },
  },
});

function bounded(name: string, value: string | undefined, max: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 100 || n > max)
    throw new Error(`--${name} must be an integer in [100, ${max}]`);
  return n;
}

async function fill(
  chunks: number,
): Promise<{ index: VectorIndex; queries: string[]; vectors: Float32Array[] }> {
  const embedder = createLocalEmbedder();
  const index = await createEmbeddedIndex({ dimensions: embedder.dimensions });
  const corpus = makeCorpus(chunks);
  const embedAll = async (texts: string[]) => {
    const out: Float32Array[] = [];
    for (let at = 0; at < texts.length; at += EMBED_BATCH) {
      out.push(...(await embedder.embed(texts.slice(at, at + EMBED_BATCH))));
    }
    return out;
  };
  for (let at = 0; at < corpus.length; at += EMBED_BATCH) {
    const batch = corpus.slice(at, at + EMBED_BATCH);
    const vectors = await embedAll(batch.map((doc) => doc.text));
    for (const [i, doc] of batch.entries()) {
      await index.upsert({
        tenant: 'bench',
        id: doc.id,
        version: at + i + 1,
        text: doc.text,
        metadata: {},
        scope: {},
        chunks: [{ start: 0, end: doc.text.length, vector: vectors[i] as Float32Array }],
      });
    }
  }
  const queries = makeQueries(corpus, bounded('queries', values.queries, QUERIES_MAX));
  const vectors = await embedAll(queries);
  return { index, queries, vectors };
}

async function timeMode(index: VectorIndex, mode: SearchMode, queries: string[], vectors: Float32Array[]) {
  const latencies: number[] = [];
  for (const [i, text] of queries.entries()) {
    const started = performance.now();
    await index.search({ tenant: 'bench', vector: vectors[i] as Float32Array, topK: TOP_K, mode, text });
    latencies.push(performance.now() - started);
  }
  return latencies;
}

async function main(): Promise<void> {
  const chunks = bounded('chunks', values.chunks, CHUNKS_MAX);
  const { index, queries, vectors } = await fill(chunks);
  const modes: SearchMode[] = ['vector', 'keyword', 'hybrid'];
  const all = new Map<SearchMode, number[]>(modes.map((mode) => [mode, []]));
  // A first pass warms the JIT and the graph's pages; it is not counted.
  for (const mode of modes) await timeMode(index, mode, queries.slice(0, 100), vectors);
  for (let round = 0; round < ROUNDS; round++) {
    for (const mode of modes) all.get(mode)?.push(...(await timeMode(index, mode, queries, vectors)));
  }
  await index.close();
  const summary = modes.map((mode) => {
    const sorted = (all.get(mode) ?? []).sort((a, b) => a - b);
    return { mode, p50: percentile(sorted, 50), p99: percentile(sorted, 99) };
  });
  const base = summary[0] as (typeof summary)[number];
  const rows = summary.map(
    (s) =>
      `| ${s.mode} | ${s.p50.toFixed(3)} | ${s.p99.toFixed(3)} | ${(s.p50 / base.p50).toFixed(2)}× | ${(s.p50 - base.p50 >= 0 ? '+' : '') + (s.p50 - base.p50).toFixed(3)} |`,
  );
  const command = `npm run bench:hybrid${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`;
  const table = [
    '| mode | p50 ms | p99 ms | p50 vs vector | p50 added ms |',
    '|---|---|---|---|---|',
    ...rows,
  ].join('\n');
  console.log(table);
  const report = `# Hybrid search cost\n\n\`${command}\`, ${new Date().toISOString()}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}.\n\nOne embedded index, one tenant, ${chunks} one-chunk memories of the bench corpus (local embedder), ${queries.length} queries × ${ROUNDS} rounds per mode, one search at a time, topK ${TOP_K}; vector is the baseline measured in the same run.\n\n${table}\n`;
  await writeFile(new URL('./HYBRID_RESULTS.md', import.meta.url), report);
}

await main();
