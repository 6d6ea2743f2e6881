/**
 * @module import
 * `memmesh import`: a source's memories (sources.ts) in batch writes, split by the client's
 * `splitBatches` within the API's limits, one batch at a time, with a progress bar.
 *
 * Resumable: after every batch the API acknowledged, the number of memories done (the
 * offset into the source's fixed order) is written to a state file (atomically: a temporary
 * file renamed over it). A run that finds the state file skips that many memories and goes
 * on; a finished run removes it. Ctrl-C stops after the batch in flight, saves the state and
 * exits 130; the state is never ahead of what was stored. It may be one batch behind (a kill
 * between the answer and the write): that batch is sent again with the same ids and
 * contents, which the log drops as duplicates, so the import never stores a memory twice.
 */
import { randomUUID } from 'node:crypto';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { type BatchItemResult, type MemmeshClient, type Scope, splitBatches } from '@memmesh/client';
import { LIMITS } from '@memmesh/core/limits';
import { UsageError } from './config.ts';
import type { Progress } from './progress.ts';
import { defaultIdPrefix, formatOf, type ImportMemory, readSource, type SourceFormat } from './sources.ts';

export interface ImportOptions {
  path: string;
  format?: string | undefined;
  idPrefix?: string | undefined;
  /** The state file; `<source>.memmesh-import.json` when absent. */
  state?: string | undefined;
  /** Memories per batch request, 1 to LIMITS.batchDocsMax. */
  batchSize: number;
  wait: boolean;
  scope?: Scope | undefined;
}

export interface ImportSummary {
  source: string;
  format: SourceFormat;
  total: number;
  /** Memories this run sent and the API accepted. */
  imported: number;
  /** Memories a previous, interrupted run had done. */
  resumedFrom: number;
  failed: number;
  /** The first IMPORT_FAILURES_SHOWN_MAX items the API refused, with its code. */
  failures: Array<{ id: string; code: string; message: string }>;
  complete: boolean;
  /** Where the state is kept while the import is not complete. */
  stateFile: string;
}

const IMPORT_FAILURES_SHOWN_MAX = 20;
const STATE_VERSION = 1;

interface ImportState {
  v: typeof STATE_VERSION;
  source: string;
  format: SourceFormat;
  idPrefix: string;
  /** Memories done, in the source's order. */
  offset: number;
}

export async function runImport(
  client: MemmeshClient,
  options: ImportOptions,
  run: { progress: Progress; stopped: () => boolean },
): Promise<ImportSummary> {
  const source = resolve(options.path);
  const format = await formatOf(source, options.format);
  const idPrefix = options.idPrefix ?? defaultIdPrefix(source, format);
  const stateFile = resolve(options.state ?? `${source.replace(/\/+$/, '')}.memmesh-import.json`);
  const state = await loadState(stateFile, { v: STATE_VERSION, source, format, idPrefix, offset: 0 });
  const read = () => readSource(source, format, { idPrefix, scope: options.scope });
  let total = 0;
  for await (const _ of read()) total++;
  const summary: ImportSummary = {
    source,
    format,
    total,
    imported: 0,
    resumedFrom: Math.min(state.offset, total),
    failed: 0,
    failures: [],
    complete: false,
    stateFile,
  };
  run.progress.start(total, summary.resumedFrom);
  try {
    await sendAll(client, read(), options, { state, stateFile, summary, ...run });
  } finally {
    run.progress.stop();
  }
  if (state.offset >= total) {
    summary.complete = true;
    await rm(stateFile, { force: true });
  }
  return summary;
}

interface Running {
  state: ImportState;
  stateFile: string;
  summary: ImportSummary;
  progress: Progress;
  stopped: () => boolean;
}

async function sendAll(
  client: MemmeshClient,
  memories: AsyncIterable<ImportMemory>,
  options: ImportOptions,
  r: Running,
): Promise<void> {
  if (
    !Number.isInteger(options.batchSize) ||
    options.batchSize < 1 ||
    options.batchSize > LIMITS.batchDocsMax
  ) {
    throw new UsageError(`--batch-size is 1 to ${LIMITS.batchDocsMax}, got '${options.batchSize}'`);
  }
  const limits = { docsMax: options.batchSize, bodyBytesMax: LIMITS.batchBodyBytesMax };
  let seen = 0;
  let pending: ImportMemory[] = [];
  const flush = async () => {
    for (const batch of splitBatches(pending, limits)) {
      if (r.stopped()) return false;
      const { results } = await client.addBatch(batch, { wait: options.wait });
      count(r.summary, results);
      r.state.offset += batch.length;
      await saveState(r.stateFile, r.state);
      r.progress.update(r.state.offset);
    }
    pending = [];
    return true;
  };
  for await (const memory of memories) {
    // Skip what an earlier run did: the order of the source is fixed.
    if (seen++ < r.state.offset) continue;
    pending.push(memory);
    if (pending.length >= options.batchSize && !(await flush())) return;
  }
  await flush();
}

function count(summary: ImportSummary, results: BatchItemResult[]): void {
  for (const item of results) {
    if ('error' in item) {
      summary.failed++;
      if (summary.failures.length < IMPORT_FAILURES_SHOWN_MAX)
        summary.failures.push({ id: item.id, ...item.error });
    } else {
      summary.imported++;
    }
  }
}

async function loadState(file: string, fresh: ImportState): Promise<ImportState> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    return fresh;
  }
  let stored: Partial<ImportState>;
  try {
    stored = JSON.parse(text) as Partial<ImportState>;
  } catch {
    throw new UsageError(`${file} is not an import state file: remove it, or give --state`);
  }
  const same = stored.v === fresh.v && stored.source === fresh.source && stored.idPrefix === fresh.idPrefix;
  if (!same || stored.format !== fresh.format || !Number.isInteger(stored.offset)) {
    throw new UsageError(`${file} holds the state of another import: remove it, or give --state`);
  }
  return { ...fresh, offset: stored.offset as number };
}

async function saveState(file: string, state: ImportState): Promise<void> {
  const temporary = `${file}.${randomUUID()}.tmp`;
  await writeFile(temporary, JSON.stringify(state));
  await rename(temporary, file);
}
