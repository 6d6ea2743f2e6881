/**
 * @module types
 * The `Embedder` interface. Embeddings are computed once, at ingest, and travel in the
 * event; the model id and dimension travel with them so that a view never mixes models.
 */

export interface Embedder {
  /** Stable model id, recorded in every event (e.g. `local-hash-v1`, `text-embedding-3-small`). */
  readonly modelId: string;
  readonly dimensions: number;
  /** Largest number of texts accepted by one `embed` call. */
  readonly batchSizeMax: number;
  /** Unit-length vectors, one per text, in order. */
  embed(texts: readonly string[]): Promise<Float32Array[]>;
  close(): Promise<void>;
}
