/**
 * @module apply
 * Applying one event of the log to one shard view: a tombstone deletes, an upsert is checked
 * (model, dimension, vectors, offsets) and indexed. Checks that fail are deterministic, so the
 * event is poison for this view and the consumer dead-letters it rather than retry forever.
 */
import type { AppliedEvent } from '@memmesh/bus';
import { decodeVector, ErrorCode, MeshError, type UpsertEvent, yieldIfSliceSpent } from '@memmesh/core';
import type { UpsertDoc, VectorIndex } from '@memmesh/index';

/** Applies the event; `onApplied(tenant, version)` runs when the view changed. */
export async function applyEvent(
  index: VectorIndex,
  modelId: string,
  { version, event }: AppliedEvent,
  onApplied: (tenant: string, version: number) => void,
): Promise<void> {
  // Indexing is synchronous work (an upsert adds each chunk to the HNSW graph), and the
  // consumer hands over a fetched batch of events through promises alone: without a turn of
  // the event loop now and then, one tenant's large batch would be indexed in one go while
  // every other tenant's requests wait unread.
  await yieldIfSliceSpent();
  const changed =
    event.type === 'delete'
      ? await index.delete(event.tenant, event.id, version)
      : await index.upsert(toDoc(index, modelId, event, version));
  if (changed) onApplied(event.tenant, version);
}

function toDoc(index: VectorIndex, modelId: string, event: UpsertEvent, version: number): UpsertDoc {
  if (event.model.id !== modelId) {
    // Also deterministic. Regions that share tenants must run the same embedder (placement
    // checks it); this catches a region whose embedder changed under an existing log.
    throw new MeshError(
      ErrorCode.InvalidEvent,
      `event embedded by model ${event.model.id}, but this region embeds queries with ${modelId}`,
    );
  }
  if (event.model.dim !== index.dimensions) {
    throw new MeshError(
      ErrorCode.InvalidEvent,
      `event embedding dimension ${event.model.dim} does not match index dimension ${index.dimensions}`,
    );
  }
  const chunks = event.chunks.map((chunk) => {
    const vector = decodeVector(chunk.vector, event.model.dim);
    if (!vector) throw new MeshError(ErrorCode.InvalidEvent, 'chunk vector does not decode to finite floats');
    if (chunk.end > event.text.length || chunk.start >= chunk.end) {
      throw new MeshError(ErrorCode.InvalidEvent, 'chunk offsets are outside the text');
    }
    return { start: chunk.start, end: chunk.end, vector };
  });
  return {
    tenant: event.tenant,
    id: event.id,
    version,
    text: event.text,
    metadata: event.metadata,
    scope: event.scope,
    chunks,
    // The expiry the writing agent computed, the same instant in every view.
    ...(event.expiresAt === undefined ? {} : { expiresAtMs: event.expiresAt }),
  };
}
