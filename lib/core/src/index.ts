/**
 * @module @memmesh/core
 * What every memmesh part shares: schemas, ids, sharding, subjects and which role may use
 * which on NATS, errors, limits, configuration parsing and retry policies.
 */
export { type ChunkOptions, chunkText, DEFAULT_CHUNK_OPTIONS, type TextSpan } from './chunk.ts';
export {
  type EnvParser,
  numberParsersOf,
  parseConfig,
  parsePairs,
  ReadableFileSchema,
  readEnv,
} from './config.ts';
export { ErrorCode, httpStatusOf, isMeshError, MeshError, type MeshErrorOptions } from './errors.ts';
export { EVENT_LOOP_SLICE_MS_MAX, yieldIfSliceSpent } from './event-loop.ts';
export { DOC_ID_PATTERN, docKeyOf, isDocId, isTenant, newDocId, sha256Hex, TENANT_PATTERN } from './ids.ts';
export { LIMITS } from './limits.ts';
export {
  type EmbedderSpec,
  EmbedderSpecSchema,
  type ModelRef,
  type ModelState,
  ModelStateSchema,
  modelKeyOf,
  modelRefOf,
  REINDEX_ID_PATTERN,
  REINDEX_STATES,
  type ReindexJob,
  ReindexJobSchema,
  type ReindexRequest,
  ReindexRequestSchema,
  type ReindexState,
  reindexRegionOf,
  sameSpec,
  writeModelsOf,
} from './models.ts';
export {
  gatewayInboxPrefix,
  gatewayPermissions,
  MEMMESH_ACCOUNT,
  type NatsPermissions,
  type NatsSubjectPermission,
  natsPermissionsConfig,
  OPERATOR_PERMISSIONS,
  regionAgentPermissions,
  regionInboxPrefix,
} from './nats-permissions.ts';
export {
  backoffDelayMs,
  DEFAULT_RETRY_POLICY,
  type RetryOptions,
  type RetryPolicy,
  sleep,
  withRetry,
} from './retry.ts';
export {
  ApiKeySchema,
  type AuditEvent,
  AuditEventSchema,
  type BatchInput,
  BatchInputSchema,
  BatchResultSchema,
  type Chunk,
  ChunkSchema,
  type DeleteEvent,
  DeleteEventSchema,
  DocIdSchema,
  describeIssues,
  type EmbeddingEvent,
  EmbeddingEventSchema,
  ErrorBodySchema,
  EVENT_SCHEMA_VERSION,
  type Filter,
  FilterSchema,
  type Memory,
  type MemoryEvent,
  MemoryEventSchema,
  type MemoryHistory,
  MemoryHistorySchema,
  type MemoryInput,
  MemoryInputSchema,
  type MemoryList,
  MemoryListSchema,
  MemorySchema,
  type MemoryVersion,
  MemoryVersionSchema,
  type Metadata,
  MetadataSchema,
  type Scope,
  ScopeSchema,
  type SearchHit,
  SearchHitSchema,
  type SearchInput,
  SearchInputSchema,
  type SearchResponse,
  SearchResponseSchema,
  TenantSchema,
  TtlSecondsSchema,
  type UpsertEvent,
  UpsertEventSchema,
  type WriteResult,
  WriteResultSchema,
} from './schemas.ts';
export { secretsEqual } from './secrets.ts';
export { jumpHash, SHARD_COUNT_MAX, shardIndexOf, shardName, shardNames, shardOf } from './shard.ts';
export {
  auditStreamName,
  auditSubject,
  auditSubjects,
  deadLetterStreamName,
  deadLetterSubject,
  deadLetterSubjects,
  docSubject,
  embeddingSubject,
  modelStateSubject,
  parseDocSubject,
  parseEventSubject,
  querySubject,
  REGION_PATTERN,
  regionDocSubjects,
  regionSubjects,
  shardFilter,
  streamName,
  tenantFilter,
  tenantQuerySubject,
  tenantShardFilter,
} from './subjects.ts';
export { decodeVector, dot, encodeVector, normalize } from './vectors.ts';
