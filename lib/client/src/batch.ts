/**
 * @module batch
 * Splitting many memories into batch requests the API accepts: at most LIMITS.batchDocsMax
 * memories and LIMITS.batchBodyBytesMax bytes of JSON each. A single memory larger than a
 * batch body cannot happen (a memory's text and metadata are far below it), so every chunk
 * holds at least one memory.
 */
import { LIMITS } from '@memmesh/core/limits';
import type { MemoryInput } from './types.ts';

export interface BatchLimits {
  docsMax: number;
  bodyBytesMax: number;
}

export const API_BATCH_LIMITS: Readonly<BatchLimits> = {
  docsMax: LIMITS.batchDocsMax,
  bodyBytesMax: LIMITS.batchBodyBytesMax,
};

/** `{"memories":[` and `]}`, and the comma between two items. */
const ENVELOPE_BYTES = 16;

export function splitBatches(memories: readonly MemoryInput[], limits: BatchLimits = API_BATCH_LIMITS) {
  const encoder = new TextEncoder();
  const batches: MemoryInput[][] = [];
  let current: MemoryInput[] = [];
  let bytes = ENVELOPE_BYTES;
  for (const memory of memories) {
    const size = encoder.encode(JSON.stringify(memory)).byteLength + 1;
    const full = current.length >= limits.docsMax || bytes + size > limits.bodyBytesMax;
    if (full && current.length > 0) {
      batches.push(current);
      current = [];
      bytes = ENVELOPE_BYTES;
    }
    current.push(memory);
    bytes += size;
  }
  if (current.length > 0) batches.push(current);
  return batches;
}
