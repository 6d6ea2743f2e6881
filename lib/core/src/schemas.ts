/**
 * @module schemas
 * The public API bodies and the versioned log events, as zod schemas. The same schemas
 * validate requests, validate events before publish and after consume, and generate
 * /openapi.json, so the three can never drift apart.
 */
import { z } from 'zod';
import { DOC_ID_PATTERN, TENANT_PATTERN } from './ids.ts';
import { LIMITS } from './limits.ts';

const utf8Bytes = (value: string): number => Buffer.byteLength(value, 'utf8');

const label = z.string().min(1).max(LIMITS.labelLengthMax);

export const DocIdSchema = z
  .string()
  .regex(DOC_ID_PATTERN, 'id must start with a letter or digit and use only letters, digits and ._:@/+=-')
  .max(LIMITS.idLengthMax);

/**
 * A configured secret key (tenant API keys, the admin key): long enough and varied enough that
 * it cannot be guessed from a short list. Production keys should be random (32+ characters);
 * this only refuses the obviously weak (`12345678`, `aaaaaaaaaaaa`).
 */
export const ApiKeySchema = z
  .string()
  .min(LIMITS.apiKeyLengthMin, `keys must be at least ${LIMITS.apiKeyLengthMin} characters`)
  .max(LIMITS.apiKeyLengthMax, `keys must be at most ${LIMITS.apiKeyLengthMax} characters`)
  .regex(/^\S+$/, 'keys must not contain whitespace')
  .refine((key) => new Set(key).size >= LIMITS.apiKeyDistinctCharsMin, {
    message: `keys must use at least ${LIMITS.apiKeyDistinctCharsMin} different characters`,
  });

export const TenantSchema = z.string().regex(TENANT_PATTERN, 'tenant must match [a-z0-9][a-z0-9_-]{0,62}');

/**
 * Keys that name parts of every JavaScript object: `{"__proto__": …}` would be dropped by any
 * object it is copied into (and a filter on it would then match everything), so they are
 * refused as input instead of silently changing meaning.
 */
const RESERVED_KEYS: ReadonlySet<string> = new Set(['__proto__', 'constructor', 'prototype']);
const metadataKey = label.refine((key) => !RESERVED_KEYS.has(key), {
  message: 'metadata keys __proto__, constructor and prototype are reserved',
});

/** Metadata values are scalars so that filters are plain equality tests. */
export const MetadataSchema = z
  .record(metadataKey, z.union([z.string().max(LIMITS.metadataValueLengthMax), z.number(), z.boolean()]))
  .refine((m) => Object.keys(m).length <= LIMITS.metadataKeysMax, {
    message: `metadata has more than ${LIMITS.metadataKeysMax} keys`,
  })
  .refine((m) => utf8Bytes(JSON.stringify(m)) <= LIMITS.metadataBytesMax, {
    message: `metadata is larger than ${LIMITS.metadataBytesMax} bytes`,
  });
export type Metadata = z.infer<typeof MetadataSchema>;

export const ScopeSchema = z.strictObject({
  agentId: label.optional(),
  userId: label.optional(),
  sessionId: label.optional(),
});
export type Scope = z.infer<typeof ScopeSchema>;

const VersionSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

const TextSchema = z
  .string()
  .refine((t) => t.trim().length > 0, { message: 'text must not be empty' })
  .refine((t) => utf8Bytes(t) <= LIMITS.textBytesMax, {
    message: `text is larger than ${LIMITS.textBytesMax} bytes; split it into several memories`,
  });

/**
 * A memory's time to live, in whole seconds from its write. Bounded so that a unit mistake
 * (milliseconds sent as seconds) is refused instead of keeping a memory for centuries.
 */
export const TtlSecondsSchema = z
  .number()
  .int('ttlSeconds must be a whole number of seconds')
  .min(1, 'ttlSeconds must be at least 1')
  .max(LIMITS.ttlSecondsMax, `ttlSeconds must be at most ${LIMITS.ttlSecondsMax} (ten years)`);

export const MemoryInputSchema = z
  .strictObject({
    id: DocIdSchema.optional(),
    text: TextSchema,
    metadata: MetadataSchema.optional(),
    scope: ScopeSchema.optional(),
    /** Optimistic concurrency: the version the caller last saw; 0 means "must not exist yet". */
    ifVersion: VersionSchema.optional(),
    /** Expiry: the memory disappears this many seconds after its write. */
    ttlSeconds: TtlSecondsSchema.optional(),
    /**
     * Expiry as an instant, ISO 8601 with a time zone (`2026-01-31T12:00:00Z`); in the future
     * and at most ttlSecondsMax away, checked when the write is made.
     */
    expiresAt: z.iso
      .datetime({ offset: true, message: 'expiresAt must be an ISO 8601 date-time with a time zone' })
      .optional(),
  })
  .refine((input) => input.ttlSeconds === undefined || input.expiresAt === undefined, {
    message: 'give ttlSeconds or expiresAt, not both',
    path: ['expiresAt'],
  });
export type MemoryInput = z.infer<typeof MemoryInputSchema>;

export const BatchInputSchema = z.strictObject({
  memories: z.array(MemoryInputSchema).min(1).max(LIMITS.batchDocsMax),
});
export type BatchInput = z.infer<typeof BatchInputSchema>;

export const FilterSchema = z.strictObject({
  metadata: MetadataSchema.optional(),
  scope: ScopeSchema.optional(),
});
export type Filter = z.infer<typeof FilterSchema>;

export const SearchInputSchema = z.strictObject({
  query: z
    .string()
    .refine((t) => t.trim().length > 0, { message: 'query must not be empty' })
    .refine((t) => utf8Bytes(t) <= LIMITS.queryBytesMax, {
      message: `query is larger than ${LIMITS.queryBytesMax} bytes`,
    }),
  topK: z.number().int().min(1).max(LIMITS.topKMax).optional(),
  filter: FilterSchema.optional(),
  /** Read-your-writes: answer only from state that includes this version. */
  minVersion: VersionSchema.optional(),
  /**
   * When the region sheds the search (its shards are saturated) or cannot ask its shards,
   * the last answer to the same search, up to this many seconds old, is acceptable instead
   * (as `Cache-Control: max-stale=<s>`). Never with `minVersion`, which asks for the opposite.
   */
  maxStaleSeconds: z.number().int().min(0).max(LIMITS.maxStaleSecondsMax).optional(),
});
export type SearchInput = z.infer<typeof SearchInputSchema>;

export const WriteResultSchema = z.object({
  id: DocIdSchema,
  version: VersionSchema,
  region: z.string(),
  shard: z.string(),
  /** True when `wait=true` was asked and the home index applied the write in time. */
  applied: z.boolean(),
});
export type WriteResult = z.infer<typeof WriteResultSchema>;

export const BatchResultSchema = z.object({
  results: z.array(
    z.union([
      WriteResultSchema,
      z.object({ id: DocIdSchema, error: z.object({ code: z.string(), message: z.string() }) }),
    ]),
  ),
});

export const MemorySchema = z.object({
  id: DocIdSchema,
  text: z.string(),
  metadata: MetadataSchema,
  scope: ScopeSchema,
  version: VersionSchema,
  region: z.string(),
  shard: z.string(),
  /** When the memory expires, ISO 8601; absent when it does not. */
  expiresAt: z.string().optional(),
});
export type Memory = z.infer<typeof MemorySchema>;

/** A page of `GET /v1/memories`: newest first; `nextCursor` asks for the next page. */
export const MemoryListSchema = z.object({
  memories: z.array(MemorySchema),
  /** Absent on the last page. */
  nextCursor: z.string().optional(),
  region: z.string(),
});
export type MemoryList = z.infer<typeof MemoryListSchema>;

/** One version of a memory as the log still holds it: an upsert with its content, or a delete. */
export const MemoryVersionSchema = z.object({
  version: VersionSchema,
  type: z.enum(['upsert', 'delete']),
  /** When the agent that wrote it made the event, ISO 8601. */
  at: z.string(),
  /** The region and agent that wrote it. */
  source: z.object({ region: z.string(), agent: z.string() }),
  text: z.string().optional(),
  metadata: MetadataSchema.optional(),
  scope: ScopeSchema.optional(),
});
export type MemoryVersion = z.infer<typeof MemoryVersionSchema>;

/** A memory's versions, newest first: as many as the region's log keeps per memory. */
export const MemoryHistorySchema = z.object({
  id: DocIdSchema,
  region: z.string(),
  versions: z.array(MemoryVersionSchema),
});
export type MemoryHistory = z.infer<typeof MemoryHistorySchema>;

export const SearchHitSchema = z.object({
  id: DocIdSchema,
  score: z.number(),
  text: z.string(),
  metadata: MetadataSchema,
  scope: ScopeSchema,
  version: VersionSchema,
  /** When the memory expires, ISO 8601; absent when it does not. */
  expiresAt: z.string().optional(),
});
export type SearchHit = z.infer<typeof SearchHitSchema>;

export const SearchResponseSchema = z.object({
  results: z.array(SearchHitSchema),
  region: z.string(),
  tookMs: z.number(),
  /**
   * Present (true) when a shard had to leave hits out of its reply to stay under the NATS
   * payload limit: only a topK of many near-maximal memories comes close.
   */
  truncated: z.literal(true).optional(),
  /**
   * Present when the answer is an earlier one, served because the region shed the search or
   * could not ask its shards and the client allowed it (`maxStaleSeconds`, `max-stale`):
   * how old it is, in whole seconds. Memories written, changed or deleted since are not in it.
   */
  staleSeconds: z.number().int().min(0).optional(),
});
export type SearchResponse = z.infer<typeof SearchResponseSchema>;

export const ErrorBodySchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), details: z.unknown().optional() }),
});

/* ---------------------------------------------------------------- log events, v1 */

export const EVENT_SCHEMA_VERSION = 1;

export const ChunkSchema = z.strictObject({
  /** UTF-16 offsets of the chunk in the memory's text. */
  start: z.number().int().min(0),
  end: z.number().int().min(1),
  /** Little-endian float32 embedding, base64: compact and exact, unlike a JSON number array. */
  vector: z.string().min(1),
});
export type Chunk = z.infer<typeof ChunkSchema>;

const EventSourceSchema = z.strictObject({ region: z.string(), agent: z.string() });

const ModelRefSchema = z.strictObject({
  id: z.string().min(1),
  dim: z.number().int().min(1).max(LIMITS.dimensionsMax),
});

export const UpsertEventSchema = z.strictObject({
  v: z.literal(EVENT_SCHEMA_VERSION),
  type: z.literal('upsert'),
  tenant: TenantSchema,
  id: DocIdSchema,
  text: z.string().max(LIMITS.textBytesMax),
  chunks: z.array(ChunkSchema).min(1).max(LIMITS.chunksPerDocMax),
  metadata: MetadataSchema,
  scope: ScopeSchema,
  model: ModelRefSchema,
  /**
   * During a re-index (and its rollback window), the same chunks embedded by the region's
   * other live models: `vectors[i]` belongs to `chunks[i]`. The view of each model takes
   * its own vectors, so a new write is never missing from the view being built.
   */
  alt: z
    .array(
      z.strictObject({
        model: ModelRefSchema,
        vectors: z.array(z.string().min(1)).max(LIMITS.chunksPerDocMax),
      }),
    )
    .max(2)
    .optional(),
  ts: z.number().int(),
  source: EventSourceSchema,
  /**
   * When this version expires, ms since the epoch: computed once by the agent that wrote it,
   * so every region and replica applies the same instant. Absent: it never expires.
   */
  expiresAt: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
});
export type UpsertEvent = z.infer<typeof UpsertEventSchema>;

/**
 * A document version re-embedded by another model (a re-index), on the document's
 * re-embedding subject: the whole document again (text, metadata, scope) with that model's
 * chunks, so that the new view can be built from these events alone. `version` is the
 * document version it embeds: the view applies it like that upsert, so a document updated
 * or deleted since is never brought back by it.
 */
export const EmbeddingEventSchema = z.strictObject({
  v: z.literal(EVENT_SCHEMA_VERSION),
  type: z.literal('embedding'),
  tenant: TenantSchema,
  id: DocIdSchema,
  version: z.number().int().min(1).max(Number.MAX_SAFE_INTEGER),
  text: z.string().max(LIMITS.textBytesMax),
  chunks: z.array(ChunkSchema).min(1).max(LIMITS.chunksPerDocMax),
  metadata: MetadataSchema,
  scope: ScopeSchema,
  model: ModelRefSchema,
  /** The re-index job that made it. */
  job: z.string().min(1).max(96),
  /** The document version's expiry (ms since the epoch), copied from its upsert: the same in every view. */
  expiresAt: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER).optional(),
  ts: z.number().int(),
  source: EventSourceSchema,
});
export type EmbeddingEvent = z.infer<typeof EmbeddingEventSchema>;

export const DeleteEventSchema = z.strictObject({
  v: z.literal(EVENT_SCHEMA_VERSION),
  type: z.literal('delete'),
  tenant: TenantSchema,
  id: DocIdSchema,
  ts: z.number().int(),
  source: EventSourceSchema,
});
export type DeleteEvent = z.infer<typeof DeleteEventSchema>;

export const MemoryEventSchema = z.discriminatedUnion('type', [
  UpsertEventSchema,
  DeleteEventSchema,
  EmbeddingEventSchema,
]);
export type MemoryEvent = z.infer<typeof MemoryEventSchema>;

/**
 * One admin change, as the audit log keeps it (AUDIT_<REGION>, subjects audit.<region>.<kind>):
 * who made it, when, from where, and the state before and after. Secrets never appear: an
 * API key is named by its id, and its record holds only its hash's id, scopes and dates.
 */
export const AuditEventSchema = z.strictObject({
  v: z.literal(EVENT_SCHEMA_VERSION),
  type: z.literal('audit'),
  /** Unique per change; also the message id, so a retried append is stored once. */
  id: z.string().min(1).max(64),
  action: z.enum(['tenant_policy.put', 'api_key.create', 'api_key.revoke', 'erasure.done']),
  tenant: TenantSchema,
  actor: z.strictObject({
    /** The operator's admin key, or a tenant's own key with the admin scope (by its id). */
    kind: z.enum(['operator', 'tenant_key']),
    keyId: z.string().max(64).optional(),
    /** The address the request came from, as the failed-authentication throttle sees it. */
    source: z.string().max(256),
  }),
  /** Milliseconds since the epoch, when the change was made. */
  at: z.number().int().min(0),
  /** The gateway that made it (an erasure: the home region's agent that finished it). */
  region: z.string().max(64),
  before: z.unknown().nullable(),
  after: z.unknown().nullable(),
});
export type AuditEvent = z.infer<typeof AuditEventSchema>;

/** Summarises zod issues as `path: message` lines for error details. */
export function describeIssues(error: z.ZodError): { path: string; message: string }[] {
  return error.issues.map((issue) => ({
    path: issue.path.length > 0 ? issue.path.map(String).join('.') : '(body)',
    message: issue.message,
  }));
}
