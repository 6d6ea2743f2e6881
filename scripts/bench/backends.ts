/**
 * @module bench-backends
 * `npm run bench:backends [-- --docs N --cache-docs N --ingest-docs N]`: the production
 * backends against the embedded defaults they replace, measured in the same run on real
 * servers from the test kit:
 *   1. vector search: Milvus (a Milvus Lite server) against the embedded usearch index;
 *   2. cache: Redis against the in-process LRU, through a region agent;
 *   3. ingest: the MiniLM embedder against the local hashing one, through a region agent,
 *      each beside the embedder alone.
 * Prints one table per part and writes them, with the date, the machine, the load from other
 * processes and the command, to scripts/bench/BACKENDS_RESULTS.md. A part that fails is
 * reported as failed and the next one runs. Each part stops what it started when it ends;
 * everything still running is torn down on error and on Ctrl-C.
 */
import { parseArgs } from 'node:util';
import { createLocalEmbedder, createMiniLmEmbedder } from '@memmesh/embed';
import { DEFAULT_REGION_AGENT_CONFIG } from '../../agents/region/src/index.ts';
import { benchCache, benchIngest, cacheSetup, type IngestEmbedder, ingestSetup } from './backends-agent.ts';
import { renderBackends, type Section, writeBackendsResults } from './backends-report.ts';
import { benchVectorSearch, vectorSetup } from './backends-vector.ts';
import { killClients } from './client-process.ts';
import type { Teardown } from './env.ts';
import { cpuSnapshot, otherCores } from './machine.ts';
import { errorRow } from './report.ts';
import { createScopes, type Scopes } from './scopes.ts';

/** Bounds of each size flag: below the minimum the figures are noise, above the maximum the run takes hours. */
const SIZE_FLAGS = {
  docs: { default: 5_000, min: 100, max: 100_000 },
  'cache-docs': { default: 2_000, min: 100, max: 50_000 },
  'ingest-docs': { default: 1_000, min: 100, max: 20_000 },
} as const;

const argv = process.argv.slice(2);
const { values } = parseArgs({
  args: argv,
  options: {
    docs: { type: 'string', default: String(SIZE_FLAGS.docs.default) },
    'cache-docs': { type: 'string', default: String(SIZE_FLAGS['cache-docs'].default) },
    'ingest-docs': { type: 'string', default: String(SIZE_FLAGS['ingest-docs'].default) },
  },
});
/**
 * Milvus Lite keeps writes in a memtable until 128 MiB by default and answers every call by
 * scanning it in Python, so at a few thousand documents each upsert and search costs hundreds
 * of milliseconds and grows with the collection (measured: 45 → 230 ms per upsert from 200 to
 * 600 documents). A 1 MB memtable makes it flush every few hundred documents into segments
 * with their own index, closer to how Milvus seals segments, and keeps each call at tens of
 * milliseconds. Milvus Lite reads this variable at start, from the environment the test kit
 * passes on; a value already set wins.
 */
const MILVUS_LITE_MEMTABLE_ENV = 'MILVUS_LITE_MEMTABLE_MEMORY_LIMIT_BYTES';
const MILVUS_LITE_MEMTABLE_BYTES = 1_000_000;
const COMMAND = `npm run bench:backends${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`;
/** Set on SIGINT/SIGTERM: the run is being torn down and writes no results. */
let interrupted = false;

function sizeFlag(name: keyof typeof SIZE_FLAGS): number {
  const { min, max } = SIZE_FLAGS[name];
  const value = Number(values[name]);
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new Error(`--${name} must be an integer in [${min}, ${max}], got ${values[name]}`);
  }
  return value;
}

/**
 * Runs one part in a scope of its own, so that its servers are stopped (and their CPU time
 * credited to the bench) before its load figure is taken; a failure becomes its last row.
 */
async function part(
  scopes: Scopes,
  section: Omit<Section, 'rows' | 'otherCores'>,
  body: (teardown: Teardown, section: Section) => Promise<void>,
): Promise<Section> {
  const full: Section = { ...section, rows: [], otherCores: undefined };
  const cpuAtStart = cpuSnapshot();
  console.error(`bench:backends: ${section.title}`);
  try {
    await scopes.run(section.title, (teardown) => body(teardown, full));
  } catch (err) {
    full.rows.push(errorRow('part stopped', err));
    // After Ctrl-C the teardown kills what is running; the errors that follow are expected.
    if (!interrupted) console.error(err);
  }
  full.otherCores = otherCores(cpuAtStart, cpuSnapshot());
  return full;
}

function ingestEmbedders(): [IngestEmbedder, IngestEmbedder] {
  const minilmDir = process.env.MEMMESH_MINILM_DIR;
  const dimensions = DEFAULT_REGION_AGENT_CONFIG.embedDimensions;
  return [
    {
      name: 'local hashing',
      overrides: { embedder: 'local' },
      create: async () => createLocalEmbedder({ dimensions }),
    },
    {
      name: 'MiniLM',
      overrides: { embedder: 'minilm', minilmDir },
      create: () => {
        if (!minilmDir) {
          throw new Error('MEMMESH_MINILM_DIR is not set: run this through `npm run bench:backends`');
        }
        return createMiniLmEmbedder({ modelDir: minilmDir });
      },
    },
  ];
}

async function runParts(scopes: Scopes): Promise<Section[]> {
  const docs = sizeFlag('docs');
  const cacheDocs = sizeFlag('cache-docs');
  const ingestDocs = sizeFlag('ingest-docs');
  process.env[MILVUS_LITE_MEMTABLE_ENV] ??= String(MILVUS_LITE_MEMTABLE_BYTES);
  const memtableBytes = Number(process.env[MILVUS_LITE_MEMTABLE_ENV]);
  const embedder = createLocalEmbedder({ dimensions: DEFAULT_REGION_AGENT_CONFIG.embedDimensions });
  const embedders = ingestEmbedders();
  const sections: Section[] = [];
  try {
    sections.push(
      await part(
        scopes,
        {
          title: '1. Vector search: Milvus against the embedded usearch index',
          columns: { measured: 'Milvus (Milvus Lite)', baseline: 'embedded usearch (baseline)' },
          setup: vectorSetup(docs, embedder, memtableBytes),
        },
        (teardown, section) => benchVectorSearch(docs, embedder, teardown, section),
      ),
    );
  } finally {
    await embedder.close();
  }
  if (interrupted) return sections;
  sections.push(
    await part(
      scopes,
      {
        title: '2. Cache: Redis against the in-process LRU, through the agent',
        columns: { measured: 'Redis', baseline: 'LRU (baseline)' },
        setup: cacheSetup(cacheDocs),
      },
      (_teardown, section) => benchCache(cacheDocs, scopes, section),
    ),
  );
  if (interrupted) return sections;
  sections.push(
    await part(
      scopes,
      {
        title: '3. Ingest: MiniLM against the local hashing embedder, through the agent',
        columns: { measured: 'through the agent', baseline: 'embedder alone (baseline)' },
        setup: ingestSetup(ingestDocs, embedders),
      },
      (_teardown, section) => benchIngest(ingestDocs, embedders, scopes, section),
    ),
  );
  return sections;
}

async function main(): Promise<void> {
  const started = performance.now();
  const cpuAtStart = cpuSnapshot();
  const scopes = createScopes();
  const stop = (signal: string) => {
    interrupted = true;
    console.error(`bench:backends: ${signal}, tearing down`);
    killClients();
    void scopes.stopAll().finally(() => process.exit(130));
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
  let sections: Section[];
  try {
    sections = await runParts(scopes);
  } finally {
    killClients();
    await scopes.stopAll();
  }
  if (interrupted) return;
  const text = renderBackends({
    sections,
    command: COMMAND,
    runS: (performance.now() - started) / 1000,
    otherCores: otherCores(cpuAtStart, cpuSnapshot()),
  });
  console.log(`\n${text}`);
  await writeBackendsResults(text);
  if (sections.some((s) => s.rows.some((r) => r.metric === 'part stopped'))) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(`bench:backends failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
