/**
 * @module doc-record
 * The stored form of one live document version, and the vector arithmetic over it.
 *
 * A record is immutable: an update builds a new record and swaps it in. A snapshot can
 * therefore hold on to the records of the moment it was taken while writes go on.
 */
import type { Metadata, Scope } from '@memmesh/core';
import type { ChunkVector, IndexedDoc } from './types.ts';

export interface DocRecord {
  readonly tenant: string;
  readonly id: string;
  readonly version: number;
  readonly text: string;
  readonly metadata: Metadata;
  readonly scope: Scope;
  /** usearch keys of the chunks, in chunk order. */
  readonly keys: readonly number[];
  /**
   * The chunks' unit-length vectors, row i belongs to keys[i]. Kept here because the usearch
   * binding cannot hand stored vectors back, and both the exact scan and snapshots need them.
   */
  readonly vectors: Float32Array;
}

export function toIndexedDoc(record: DocRecord): IndexedDoc {
  return {
    tenant: record.tenant,
    id: record.id,
    version: record.version,
    text: record.text,
    // Copies: the record is shared with snapshots and must not change under them.
    metadata: { ...record.metadata },
    scope: { ...record.scope },
    chunkCount: record.keys.length,
  };
}

/** Copies the chunks' vectors into one flat array, each row scaled to unit length. */
export function packUnitVectors(chunks: readonly ChunkVector[], dimensions: number): Float32Array {
  const packed = new Float32Array(chunks.length * dimensions);
  chunks.forEach((chunk, row) => {
    assertVector(chunk.vector, dimensions, `chunk ${row}`);
    packed.set(chunk.vector, row * dimensions);
  });
  for (let row = 0; row < chunks.length; row++) normalizeRow(packed, row * dimensions, dimensions);
  return packed;
}

/** A unit-length copy of a query vector; the caller's array is left untouched. */
export function unitQuery(vector: Float32Array, dimensions: number): Float32Array {
  assertVector(vector, dimensions, 'query vector');
  const copy = Float32Array.from(vector);
  normalizeRow(copy, 0, dimensions);
  return copy;
}

/** Cosine similarity of the best chunk; both sides are unit length, so a dot product suffices. */
export function bestChunkScore(query: Float32Array, vectors: Float32Array, dimensions: number): number {
  let best = Number.NEGATIVE_INFINITY;
  for (let offset = 0; offset < vectors.length; offset += dimensions) {
    let sum = 0;
    for (let i = 0; i < dimensions; i++) sum += (query[i] as number) * (vectors[offset + i] as number);
    if (sum > best) best = sum;
  }
  return best;
}

// A wrong length means the embedder and the index disagree on the model: a programmer or
// configuration error that must crash loudly rather than corrupt the index.
function assertVector(vector: Float32Array, dimensions: number, what: string): void {
  if (vector.length !== dimensions) {
    throw new RangeError(`${what} has ${vector.length} dimensions, the index has ${dimensions}`);
  }
  for (const x of vector) {
    if (!Number.isFinite(x)) throw new RangeError(`${what} contains a non-finite value`);
  }
}

function normalizeRow(vectors: Float32Array, offset: number, dimensions: number): void {
  let sum = 0;
  for (let i = offset; i < offset + dimensions; i++) sum += (vectors[i] as number) ** 2;
  const norm = Math.sqrt(sum);
  // A zero vector stays zero: it has no direction, and scores 0 against every query.
  if (norm === 0) return;
  for (let i = offset; i < offset + dimensions; i++) vectors[i] = (vectors[i] as number) / norm;
}
