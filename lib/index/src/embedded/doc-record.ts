/**
 * @module doc-record
 * The stored form of one live document version, and the score of its best chunk.
 *
 * A record is immutable: an update builds a new record and swaps it in. A snapshot can
 * therefore hold on to the records of the moment it was taken while writes go on.
 */
import type { Metadata, Scope } from '@memmesh/core';
import type { IndexedDoc } from '../types.ts';

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
  /** When this version expires, ms since the epoch; undefined: never. */
  readonly expiresAtMs?: number | undefined;
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
    ...(record.expiresAtMs === undefined ? {} : { expiresAtMs: record.expiresAtMs }),
  };
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
