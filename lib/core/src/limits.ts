/**
 * @module limits
 * Named maxima for everything a request can make memmesh hold or do. They bound memory,
 * message sizes and work per request; the API documents each of them. This is the one source
 * of every limit that more than one package relies on: the schemas, the embedders, the
 * indexes, the shard protocol and the services' configuration all read them from here, and
 * `limits.test.ts` checks the relations between them that the comments claim.
 */

/** NATS's default `max_payload`: the largest message a default server accepts. */
const NATS_PAYLOAD_BYTES_DEFAULT = 1024 * 1024;

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
  /** A metadata string value, in characters. */
  metadataValueLengthMax: 128 * 8,
  /** Results of one search. */
  topKMax: 50,
  topKDefault: 10,
  /** The oldest stale answer a search may accept (`maxStaleSeconds`, `max-stale`): a day. */
  maxStaleSecondsMax: 86_400,
  /** Documents in one batch write. */
  batchDocsMax: 100,
  /** HTTP body of a single write or search, in bytes. */
  bodyBytesMax: 64 * 1024,
  /** HTTP body of a batch write, in bytes. */
  batchBodyBytesMax: 2 * 1024 * 1024,
  /** Chunks one memory may be split into. */
  chunksPerDocMax: 64,
  /**
   * The smallest step between the starts of two chunks (chunk size minus overlap), in
   * characters: at this step a text of textBytesMax characters fits in chunksPerDocMax
   * chunks, so no chunk is ever longer than the configured size.
   */
  chunkStrideCharsMin: 256,
  /** Length of an embedding vector: what events, indexes and embedders accept. */
  dimensionsMax: 4096,
  /** The payload NATS servers are expected to accept (their default max_payload). */
  natsPayloadBytesMax: NATS_PAYLOAD_BYTES_DEFAULT,
  /** Configured API and admin keys: length bounds and the fewest different characters. */
  apiKeyLengthMin: 12,
  apiKeyLengthMax: 256,
  apiKeyDistinctCharsMin: 8,
  /**
   * A memory's time to live, in seconds: at most ten years, so that an expiry is always a
   * safe integer of milliseconds and a typo (ms for s) is refused rather than kept forever.
   */
  ttlSecondsMax: 10 * 365 * 24 * 3_600,
  /** Memories in one page of `GET /v1/memories`. */
  listLimitMax: 100,
  listLimitDefault: 20,
  /** Ids of writes kept after an erasure's cut that its receipt lists (the count is exact). */
  erasureKeptIdsMax: 100,
  /** A shard's reply to a query: under natsPayloadBytesMax, with room for headers. */
  shardReplyBytesMax: 960 * 1024,
} as const;
