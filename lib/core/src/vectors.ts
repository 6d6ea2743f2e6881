/**
 * @module vectors
 * Embedding vectors on the wire: little-endian float32, base64. A 384-dim vector is 2 KiB of
 * base64 instead of ~7 KiB of JSON numbers, and it round-trips bit-exactly.
 */

export function encodeVector(vector: Float32Array): string {
  // Float32Array is little-endian on every platform Node supports (x64, arm64).
  return Buffer.from(vector.buffer, vector.byteOffset, vector.byteLength).toString('base64');
}

/** Decodes a vector; returns undefined when the bytes are not `dim` finite floats. */
export function decodeVector(encoded: string, dim: number): Float32Array | undefined {
  const bytes = Buffer.from(encoded, 'base64');
  if (bytes.byteLength !== dim * 4) return undefined;
  // Copy into an aligned buffer: Buffer slices may start at any byte offset.
  const vector = new Float32Array(dim);
  new Uint8Array(vector.buffer).set(bytes);
  for (const x of vector) if (!Number.isFinite(x)) return undefined;
  return vector;
}

export function normalize(vector: Float32Array): Float32Array {
  let sum = 0;
  for (const x of vector) sum += x * x;
  const norm = Math.sqrt(sum);
  if (norm > 0) for (let i = 0; i < vector.length; i++) vector[i] = (vector[i] as number) / norm;
  return vector;
}

export function dot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i] as number) * (b[i] as number);
  return sum;
}
