/**
 * @module vectors
 * The vectors both backends are given, checked and scaled to unit length: chunk vectors to
 * store and query vectors to search with. Both backends rank by cosine, which on unit vectors
 * is a dot product, and both refuse a vector of the wrong length or with a non-finite value.
 */
import type { ChunkVector } from './types.ts';

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
