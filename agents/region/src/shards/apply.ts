/**
 * @module apply
 * Applying one event of the log to one shard view, the view of one model: a tombstone
 * deletes, an upsert or a re-embedding is checked (model, dimension, vectors, offsets) and
 * indexed. Checks that fail are deterministic, so the event is poison for this view and the
 * consumer dead-letters it rather than retry forever.
 */
import type { AppliedEvent } from '@memmesh/bus';
import {
  type Chunk,
  decodeVector,
  type EmbeddingEvent,
  ErrorCode,
  MeshError,
  type ModelRef,
  type UpsertEvent,
  yieldIfSliceSpent,
} from '@memmesh/core';
import type { UpsertDoc, VectorIndex } from '@memmesh/index';

/** The view an event is applied to: its index and the model of its vectors. */
export interface ModelView {
  index: VectorIndex;
  model: ModelRef;
  /**
   * A view being built by a re-index: upserts that lack its model's vectors are left to
   * the re-index's own events instead of being refused.
   */
  building: boolean;
}

/** Applies the event; `onApplied(tenant, version)` runs when the view changed. */
export async function applyEvent(
  view: ModelView,
  { version, event }: AppliedEvent,
  onApplied: (tenant: string, version: number) => void,
): Promise<void> {
  // Indexing is synchronous work (an upsert adds each chunk to the HNSW graph), and the
  // consumer hands over a fetched batch of events through promises alone: without a turn of
  // the event loop now and then, one tenant's large batch would be indexed in one go while
  // every other tenant's requests wait unread.
  await yieldIfSliceSpent();
  let changed: boolean;
  if (event.type === 'delete') {
    changed = await view.index.delete(event.tenant, event.id, version);
  } else {
    const doc = event.type === 'upsert' ? upsertDoc(view, event, version) : embeddedDoc(view, event);
    if (!doc) return;
    changed = await view.index.upsert(doc);
  }
  if (changed) onApplied(event.tenant, version);
}

/** The upsert's document with this view's vectors: its own chunks, or an `alt` set. */
function upsertDoc(view: ModelView, event: UpsertEvent, version: number): UpsertDoc | undefined {
  if (sameModel(event.model, view.model)) return toDoc(view, event, event.chunks, version);
  const alt = event.alt?.find((a) => sameModel(a.model, view.model));
  if (alt) {
    if (alt.vectors.length !== event.chunks.length) {
      throw new MeshError(ErrorCode.InvalidEvent, 'alt vectors do not match the chunks one to one');
    }
    const chunks = event.chunks.map((c, i) => ({ ...c, vector: alt.vectors[i] as string }));
    return toDoc(view, { ...event, model: alt.model }, chunks, version);
  }
  if (view.building) return undefined;
  // Deterministic. Regions that share tenants must run the same embedder (placement checks
  // it); this catches a region whose embedder changed under an existing log.
  throw new MeshError(
    ErrorCode.InvalidEvent,
    `event embedded by model ${event.model.id}, but this view holds vectors of ${view.model.id}`,
  );
}

/** A re-embedding feeds the view of its model only; the others ignore it. */
function embeddedDoc(view: ModelView, event: EmbeddingEvent): UpsertDoc | undefined {
  if (!sameModel(event.model, view.model)) return undefined;
  return toDoc(view, event, event.chunks, event.version);
}

function sameModel(a: ModelRef, b: ModelRef): boolean {
  return a.id === b.id && a.dim === b.dim;
}

function toDoc(
  view: ModelView,
  event: Pick<UpsertEvent, 'tenant' | 'id' | 'text' | 'metadata' | 'scope' | 'model' | 'expiresAt'>,
  eventChunks: Chunk[],
  version: number,
): UpsertDoc {
  if (event.model.dim !== view.index.dimensions) {
    throw new MeshError(
      ErrorCode.InvalidEvent,
      `event embedding dimension ${event.model.dim} does not match index dimension ${view.index.dimensions}`,
    );
  }
  const chunks = eventChunks.map((chunk) => {
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
