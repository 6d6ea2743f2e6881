/**
 * @module snapshot
 * The on-disk form of an embedded index, and how it is switched atomically.
 *
 *     <dir>/CURRENT                      name of the snapshot to load, e.g. "snap-1234-1732512345678"
 *     <dir>/snap-<appliedSeq>-<ms>/
 *       docs.jsonl                       one live document per line (keys, no vectors)
 *       vectors.f32                      the documents' unit vectors, little-endian float32,
 *                                        in docs.jsonl order, keys.length × dimensions each
 *       tombstones.jsonl                 one deleted document's version per line
 *       tenant-<n>.usearch               tenant n's HNSW graph (an accelerator, see below)
 *       manifest.json                    written last: seqs, counts, byte sizes and sha256s
 *
 * A snapshot is written into a fresh directory, every file and the directory are fsynced,
 * and only then is `CURRENT` switched. A crash at any point leaves `CURRENT` naming the
 * previous complete snapshot, so a half-written one is never selected; older directories
 * are deleted only after the switch. Loading verifies every size and checksum.
 *
 * The graph files are derived data: when one is missing or fails its checksum, the tenant's
 * graph is rebuilt from vectors.f32. The checksum is verified before usearch sees the file
 * because the native loader is not built to survive arbitrary bytes.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { readdir, readFile, rm } from 'node:fs/promises';
import { endianness } from 'node:os';
import { join } from 'node:path';
import { ErrorCode, MeshError, type Metadata, type Scope } from '@memmesh/core';
import type { DocRecord } from './doc-record.ts';
import {
  CURRENT_FILE,
  DurableWriter,
  digestFile,
  type FileDigest,
  HashingReader,
  switchCurrent,
  syncDirectory,
  writeDurably,
} from './snapshot-files.ts';
import type { TenantIndex } from './tenant-index.ts';

const SNAPSHOT_FORMAT = 1;
const SNAPSHOT_NAME_PATTERN = /^snap-\d+-\d+$/;
const DOCS_FILE = 'docs.jsonl';
const VECTORS_FILE = 'vectors.f32';
const TOMBSTONES_FILE = 'tombstones.jsonl';
const MANIFEST_FILE = 'manifest.json';

interface ManifestTenant {
  tenant: string;
  docs: number;
  chunks: number;
  tombstones: number;
  graphFile: string | null;
}

interface Manifest {
  format: number;
  dimensions: number;
  appliedSeq: number;
  nextKey: number;
  createdAtMs: number;
  tenants: ManifestTenant[];
  files: Record<string, FileDigest>;
}

export interface SnapshotSource {
  dimensions: number;
  appliedSeq: number;
  nextKey: number;
  tenants: Iterable<TenantIndex>;
}

interface FrozenTenant {
  tenant: string;
  docs: DocRecord[];
  tombstones: [string, number][];
  graphFile: string | null;
}

/** A snapshot whose state is fixed and whose graph files exist, waiting to be written out. */
export interface FrozenSnapshot {
  dir: string;
  name: string;
  path: string;
  dimensions: number;
  appliedSeq: number;
  nextKey: number;
  createdAtMs: number;
  tenants: FrozenTenant[];
}

export interface LoadedTenant {
  docs: DocRecord[];
  tombstones: [string, number][];
  /** A checksum-verified graph file, or undefined when the graph must be rebuilt. */
  graphPath: string | undefined;
}

export interface LoadedSnapshot {
  createdAtMs: number;
  appliedSeq: number;
  nextKey: number;
  tenants: Map<string, LoadedTenant>;
}

/**
 * Fixes the state to persist, synchronously. Records are immutable and the graphs are saved
 * here, so everything the snapshot holds is from one instant even though writes go on while
 * `writeSnapshot` awaits the disk.
 */
export function freezeSnapshot(dir: string, source: SnapshotSource, createdAtMs: number): FrozenSnapshot {
  const name = `snap-${source.appliedSeq}-${createdAtMs}`;
  const path = join(dir, name);
  mkdirSync(dir, { recursive: true });
  // Non-recursive, so a name clash fails instead of mixing two snapshots in one directory.
  mkdirSync(path);
  try {
    const tenants = [...source.tenants].map((tenant, n) => freezeTenant(tenant, path, n));
    return { dir, name, path, createdAtMs, tenants, ...pick(source) };
  } catch (err) {
    rmSync(path, { recursive: true, force: true });
    throw err;
  }
}

/** Writes a frozen snapshot durably, switches `CURRENT` to it and deletes older snapshots. */
export async function writeSnapshot(frozen: FrozenSnapshot): Promise<void> {
  assertLittleEndian();
  try {
    const files = await writeDataFiles(frozen);
    const manifest: Manifest = {
      format: SNAPSHOT_FORMAT,
      dimensions: frozen.dimensions,
      appliedSeq: frozen.appliedSeq,
      nextKey: frozen.nextKey,
      createdAtMs: frozen.createdAtMs,
      tenants: frozen.tenants.map((t) => ({
        tenant: t.tenant,
        docs: t.docs.length,
        chunks: t.docs.reduce((sum, doc) => sum + doc.keys.length, 0),
        tombstones: t.tombstones.length,
        graphFile: t.graphFile,
      })),
      files,
    };
    await writeDurably(join(frozen.path, MANIFEST_FILE), JSON.stringify(manifest));
    await syncDirectory(frozen.path);
    await syncDirectory(frozen.dir);
  } catch (err) {
    await rm(frozen.path, { recursive: true, force: true });
    throw err;
  }
  await switchCurrent(frozen.dir, frozen.name);
  await deleteOtherSnapshots(frozen.dir, frozen.name);
}

/** Loads the snapshot `CURRENT` names; undefined when there is none (a new shard). */
export async function readSnapshot(dir: string, dimensions: number): Promise<LoadedSnapshot | undefined> {
  assertLittleEndian();
  const name = await readCurrent(dir);
  if (name === undefined) return undefined;
  const path = join(dir, name);
  const manifest = await readManifest(path, dimensions);
  const tenants = new Map<string, LoadedTenant>();
  const tenantOf = (tenant: string): LoadedTenant => {
    let loaded = tenants.get(tenant);
    if (loaded === undefined) {
      loaded = { docs: [], tombstones: [], graphPath: undefined };
      tenants.set(tenant, loaded);
    }
    return loaded;
  };
  await readDocs(path, manifest, (doc) => tenantOf(doc.tenant).docs.push(doc));
  await readTombstones(path, manifest, (tenant, id, version) =>
    tenantOf(tenant).tombstones.push([id, version]),
  );
  checkCounts(path, manifest, tenants);
  for (const entry of manifest.tenants) {
    if (entry.graphFile === null) continue;
    const graphPath = join(path, entry.graphFile);
    if (await matchesDigest(graphPath, manifest.files[entry.graphFile])) {
      tenantOf(entry.tenant).graphPath = graphPath;
    }
  }
  return {
    createdAtMs: manifest.createdAtMs,
    appliedSeq: manifest.appliedSeq,
    nextKey: manifest.nextKey,
    tenants,
  };
}

function pick(source: SnapshotSource): Pick<FrozenSnapshot, 'dimensions' | 'appliedSeq' | 'nextKey'> {
  return { dimensions: source.dimensions, appliedSeq: source.appliedSeq, nextKey: source.nextKey };
}

function freezeTenant(tenant: TenantIndex, path: string, n: number): FrozenTenant {
  const graphFile = `tenant-${n}.usearch`;
  const saved = tenant.saveGraph(join(path, graphFile));
  return {
    tenant: tenant.tenant,
    docs: [...tenant.docs.values()],
    tombstones: [...tenant.tombstones.entries()],
    graphFile: saved ? graphFile : null,
  };
}

async function writeDataFiles(frozen: FrozenSnapshot): Promise<Record<string, FileDigest>> {
  const files: Record<string, FileDigest> = {};
  const docs = await DurableWriter.create(join(frozen.path, DOCS_FILE));
  const vectors = await DurableWriter.create(join(frozen.path, VECTORS_FILE));
  const tombstones = await DurableWriter.create(join(frozen.path, TOMBSTONES_FILE));
  try {
    for (const tenant of frozen.tenants) {
      for (const doc of tenant.docs) {
        await docs.write(`${JSON.stringify(docLine(doc))}\n`);
        await vectors.write(
          new Uint8Array(doc.vectors.buffer, doc.vectors.byteOffset, doc.vectors.byteLength),
        );
      }
      for (const [id, version] of tenant.tombstones) {
        await tombstones.write(`${JSON.stringify({ tenant: tenant.tenant, id, version })}\n`);
      }
    }
  } catch (err) {
    await Promise.all([docs.abandon(), vectors.abandon(), tombstones.abandon()]);
    throw err;
  }
  files[DOCS_FILE] = await docs.finish();
  files[VECTORS_FILE] = await vectors.finish();
  files[TOMBSTONES_FILE] = await tombstones.finish();
  for (const tenant of frozen.tenants) {
    if (tenant.graphFile === null) continue;
    files[tenant.graphFile] = await digestFile(join(frozen.path, tenant.graphFile), { sync: true });
  }
  return files;
}

function docLine(doc: DocRecord): object {
  const { tenant, id, version, text, metadata, scope, keys, expiresAtMs } = doc;
  // Snapshots written before expiry existed have no expiresAtMs: those documents never expire.
  return {
    tenant,
    id,
    version,
    text,
    metadata,
    scope,
    keys,
    ...(expiresAtMs === undefined ? {} : { expiresAtMs }),
  };
}

async function deleteOtherSnapshots(dir: string, keep: string): Promise<void> {
  for (const entry of await readdir(dir)) {
    if (entry !== keep && SNAPSHOT_NAME_PATTERN.test(entry)) {
      await rm(join(dir, entry), { recursive: true, force: true });
    }
  }
}

async function readCurrent(dir: string): Promise<string | undefined> {
  let content: string;
  try {
    content = await readFile(join(dir, CURRENT_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const name = content.trim();
  // The pattern also keeps a damaged pointer from naming a path outside `dir`.
  if (!SNAPSHOT_NAME_PATTERN.test(name)) throw corrupt(dir, `CURRENT holds '${name.slice(0, 80)}'`);
  return name;
}

async function readManifest(path: string, dimensions: number): Promise<Manifest> {
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(join(path, MANIFEST_FILE), 'utf8')) as Manifest;
  } catch (err) {
    throw corrupt(path, 'manifest.json is missing or unreadable', err);
  }
  if (manifest.format !== SNAPSHOT_FORMAT) throw corrupt(path, `unknown format ${manifest.format}`);
  if (manifest.dimensions !== dimensions) {
    throw new MeshError(
      ErrorCode.Config,
      `snapshot ${path} holds ${manifest.dimensions}-dimensional vectors, the index is configured for ${dimensions}`,
    );
  }
  return manifest;
}

interface DocLine {
  tenant: string;
  id: string;
  version: number;
  text: string;
  metadata: Metadata;
  scope: Scope;
  keys: number[];
  expiresAtMs?: number;
}

async function readDocs(path: string, manifest: Manifest, onDoc: (doc: DocRecord) => void): Promise<void> {
  const docs = await HashingReader.open(join(path, DOCS_FILE));
  const vectors = await HashingReader.open(join(path, VECTORS_FILE));
  try {
    for await (const line of docs.lines()) {
      const doc = parseLine<DocLine>(path, line);
      const packed = new Float32Array(doc.keys.length * manifest.dimensions);
      const complete = await vectors.readExactly(new Uint8Array(packed.buffer));
      if (!complete) throw corrupt(path, `${VECTORS_FILE} ends before document ${doc.id}'s vectors`);
      onDoc({ ...doc, vectors: packed });
    }
  } catch (err) {
    await Promise.all([docs.abandon(), vectors.abandon()]);
    throw err;
  }
  await expectDigest(path, DOCS_FILE, await docs.finish(), manifest);
  await expectDigest(path, VECTORS_FILE, await vectors.finish(), manifest);
}

async function readTombstones(
  path: string,
  manifest: Manifest,
  onTombstone: (tenant: string, id: string, version: number) => void,
): Promise<void> {
  const reader = await HashingReader.open(join(path, TOMBSTONES_FILE));
  try {
    for await (const line of reader.lines()) {
      const { tenant, id, version } = parseLine<{ tenant: string; id: string; version: number }>(path, line);
      onTombstone(tenant, id, version);
    }
  } catch (err) {
    await reader.abandon();
    throw err;
  }
  await expectDigest(path, TOMBSTONES_FILE, await reader.finish(), manifest);
}

function parseLine<T>(path: string, line: string): T {
  try {
    return JSON.parse(line) as T;
  } catch (err) {
    throw corrupt(path, 'a line is not valid JSON', err);
  }
}

/** Cross-checks the records against the manifest's per-tenant counts. */
function checkCounts(path: string, manifest: Manifest, tenants: Map<string, LoadedTenant>): void {
  for (const entry of manifest.tenants) {
    const loaded = tenants.get(entry.tenant);
    const docs = loaded?.docs.length ?? 0;
    const chunks = loaded?.docs.reduce((sum, doc) => sum + doc.keys.length, 0) ?? 0;
    const tombstones = loaded?.tombstones.length ?? 0;
    if (docs !== entry.docs || chunks !== entry.chunks || tombstones !== entry.tombstones) {
      throw corrupt(path, `tenant ${entry.tenant} holds other counts than the manifest lists`);
    }
  }
  if (tenants.size > manifest.tenants.length) {
    throw corrupt(path, 'records of a tenant the manifest does not list');
  }
}

async function expectDigest(
  path: string,
  file: string,
  actual: FileDigest,
  manifest: Manifest,
): Promise<void> {
  const expected = manifest.files[file];
  if (expected?.bytes !== actual.bytes || expected.sha256 !== actual.sha256) {
    throw corrupt(path, `${file} does not match its size or checksum in the manifest`);
  }
}

async function matchesDigest(path: string, expected: FileDigest | undefined): Promise<boolean> {
  if (expected === undefined) return false;
  try {
    const actual = await digestFile(path, { sync: false });
    return actual.bytes === expected.bytes && actual.sha256 === expected.sha256;
  } catch {
    return false;
  }
}

function corrupt(path: string, why: string, cause?: unknown): MeshError {
  return new MeshError(
    ErrorCode.Internal,
    `snapshot ${path} is damaged (${why}); delete the snapshot directory to rebuild the index from the stream`,
    { cause },
  );
}

// vectors.f32 is the in-memory Float32Array bytes as they are; that is only little-endian,
// as the format promises, on little-endian machines (every platform Node ships for).
function assertLittleEndian(): void {
  if (endianness() !== 'LE') throw new Error('embedded index snapshots need a little-endian machine');
}
