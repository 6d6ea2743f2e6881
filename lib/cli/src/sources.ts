/**
 * @module sources
 * What `memmesh import` reads: a JSON Lines file, a CSV file or a folder of `.md`/`.txt`
 * files, as memories in a fixed order with **deterministic ids** — the record's own id, else
 * the prefix and its line, row or relative path. Reading the same source again gives the
 * same memories with the same ids, so a resumed or repeated import rewrites rather than
 * duplicates (the log drops a same-content write to the same id). A text longer than the
 * API's LIMITS.textBytesMax is cut into parts (`<id>:<n>`), at a paragraph, line or word
 * break where there is one.
 */
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join, relative, sep } from 'node:path';
import { createInterface } from 'node:readline';
import type { MemoryInput, Metadata, Scope } from '@memmesh/client';
import { LIMITS } from '@memmesh/core/limits';
import { parse as parseCsv } from 'csv-parse';
import { UsageError } from './config.ts';

export type SourceFormat = 'jsonl' | 'csv' | 'dir';
export type ImportMemory = MemoryInput & { id: string };

export interface SourceOptions {
  idPrefix: string;
  /** Added to every memory that has no scope of its own. */
  scope?: Scope | undefined;
}

const FOLDER_EXTENSIONS = new Set(['.md', '.txt']);
const SCOPE_COLUMNS = ['userId', 'agentId', 'sessionId'] as const;
/** A character an id may not hold (DOC_ID_PATTERN) becomes this. */
const ID_REPLACEMENT = '-';

export async function formatOf(path: string, given: string | undefined): Promise<SourceFormat> {
  if (given !== undefined) {
    if (given === 'jsonl' || given === 'csv' || given === 'dir') return given;
    throw new UsageError(`--format is jsonl, csv or dir, got '${given}'`);
  }
  const info = await stat(path).catch(() => undefined);
  if (!info) throw new UsageError(`no such file or folder: ${path}`);
  if (info.isDirectory()) return 'dir';
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.jsonl' || ext === '.ndjson') return 'jsonl';
  throw new UsageError(`cannot tell the format of ${path}: give --format jsonl|csv|dir`);
}

export function defaultIdPrefix(path: string, format: SourceFormat): string {
  const name = basename(path, format === 'dir' ? '' : extname(path));
  return `${safeId(name) || 'import'}${format === 'dir' ? '/' : ':'}`;
}

const safeId = (raw: string) =>
  raw.replace(/[^A-Za-z0-9._:@/+=-]/g, ID_REPLACEMENT).replace(/^[^A-Za-z0-9]+/, '');

/** The memories of the source, in order, each with its id; empty texts are left out. */
export async function* readSource(
  path: string,
  format: SourceFormat,
  options: SourceOptions,
): AsyncGenerator<ImportMemory> {
  const records =
    format === 'dir' ? folderRecords(path) : format === 'csv' ? csvRecords(path) : jsonlRecords(path);
  for await (const { key, memory } of records) {
    const id = typeof memory.id === 'string' && memory.id ? memory.id : `${options.idPrefix}${key}`;
    if (memory.text.trim() === '') continue;
    const scoped = memory.scope || !options.scope ? memory : { ...memory, scope: options.scope };
    yield* splitText({ ...scoped, id });
  }
}

interface SourceRecord {
  /** The record's place in the source: its line, row or relative path. */
  key: string;
  memory: MemoryInput;
}

async function* jsonlRecords(path: string): AsyncGenerator<SourceRecord> {
  const lines = createInterface({
    input: createReadStream(path, 'utf8'),
    crlfDelay: Number.POSITIVE_INFINITY,
  });
  let line = 0;
  for await (const raw of lines) {
    line++;
    if (raw.trim() === '') continue;
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch {
      throw new UsageError(`${path}:${line}: not JSON`);
    }
    if (
      typeof value !== 'object' ||
      value === null ||
      typeof (value as { text?: unknown }).text !== 'string'
    ) {
      throw new UsageError(`${path}:${line}: a line is an object with a "text" string`);
    }
    yield { key: String(line), memory: value as MemoryInput };
  }
}

/** A header row; `text` is required, `id` and the scope ids are used as such, the rest is metadata. */
async function* csvRecords(path: string): AsyncGenerator<SourceRecord> {
  const parser = createReadStream(path).pipe(parseCsv({ columns: true, skip_empty_lines: true, bom: true }));
  let row = 0;
  for await (const record of parser as AsyncIterable<Record<string, string>>) {
    row++;
    const { id, text, ...rest } = record;
    if (text === undefined) throw new UsageError(`${path}: the header has no "text" column`);
    const scope: Scope = {};
    const metadata: Metadata = {};
    for (const [column, value] of Object.entries(rest)) {
      if (value === '') continue;
      if ((SCOPE_COLUMNS as readonly string[]).includes(column)) scope[column as keyof Scope] = value;
      else metadata[column] = value;
    }
    yield {
      key: String(row),
      memory: {
        text,
        ...(id ? { id } : {}),
        ...(Object.keys(scope).length > 0 ? { scope } : {}),
        ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
      },
    };
  }
}

/** Every .md and .txt file under the folder, by relative path; the path is in the metadata. */
async function* folderRecords(dir: string): AsyncGenerator<SourceRecord> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  const files = entries
    .filter((e) => e.isFile() && FOLDER_EXTENSIONS.has(extname(e.name).toLowerCase()))
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join('/'))
    .sort();
  for (const file of files) {
    const text = await readFile(join(dir, file), 'utf8');
    yield {
      key: safeId(file),
      memory: { text, metadata: { path: file.slice(0, LIMITS.metadataValueLengthMax) } },
    };
  }
}

const encoder = new TextEncoder();

/** The memory, or its parts when its text is over the API's limit. */
function* splitText(memory: ImportMemory): Generator<ImportMemory> {
  if (cutAt(memory.text, LIMITS.textBytesMax) === memory.text.length) {
    yield memory;
    return;
  }
  let rest = memory.text;
  let part = 0;
  while (rest.length > 0) {
    const cut = cutAt(rest, LIMITS.textBytesMax);
    part++;
    const metadata = { ...memory.metadata, part };
    yield { ...memory, id: `${memory.id}:${part}`, text: rest.slice(0, cut), metadata };
    rest = rest.slice(cut);
  }
}

/** Where to cut `text` so that the head is at most `bytesMax` bytes, at a break if one is near. */
function cutAt(text: string, bytesMax: number): number {
  let bytes = 0;
  let end = 0;
  // Whole code points only, so that a surrogate pair is never split.
  for (const char of text) {
    const size = encoder.encode(char).byteLength;
    if (bytes + size > bytesMax) break;
    bytes += size;
    end += char.length;
  }
  if (end === text.length) return end;
  const head = text.slice(0, end);
  for (const separator of ['\n\n', '\n', ' ']) {
    const at = head.lastIndexOf(separator);
    if (at > end / 2) return at + separator.length;
  }
  return end;
}
