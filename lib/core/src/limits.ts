/**
 * @module limits
 * Named maxima for everything a request can make memmesh hold or do. They bound memory,
 * message sizes and work per request; the API documents each of them.
 *
 * The sizes are chosen so that the worst shard reply (topKMax hits, each carrying its text
 * and metadata) stays under NATS's default 1 MiB max_payload.
 */
export const LIMITS = {
  /** A memory's text, in UTF-8 bytes. Longer documents are split into several memories. */
  textBytesMax: 16 * 1024,
  /** A search query, in UTF-8 bytes. */
  queryBytesMax: 4 * 1024,
  /** A document id, in characters. */
  idLengthMax: 256,
  /** Serialized metadata of one memory, in bytes. */
  metadataBytesMax: 2 * 1024,
  /** Keys in one memory's metadata. */
  metadataKeysMax: 32,
  /** A metadata key or scope value, in characters. */
  labelLengthMax: 128,
  /** Results of one search. */
  topKMax: 50,
  topKDefault: 10,
  /** Documents in one batch write. */
  batchDocsMax: 100,
  /** HTTP body of a single write or search, in bytes. */
  bodyBytesMax: 64 * 1024,
  /** HTTP body of a batch write, in bytes. */
  batchBodyBytesMax: 2 * 1024 * 1024,
  /** Chunks one memory may be split into (textBytesMax over the smallest chunk size). */
  chunksPerDocMax: 64,
} as const;
