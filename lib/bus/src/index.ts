/**
 * @module @memmesh/bus
 * Everything memmesh does with NATS: the connection, stream provisioning, publishing with
 * deduplication and concurrency control, shard consumers with dead letters, shard queries
 * over request-reply (the typed shard protocol, and the untyped layer under it), and
 * single-message stream reads.
 */
export { AUDIT_APPEND_TIMEOUT_MS, type AuditLog, createAuditLog } from './audit.ts';
export { type DecodeResult, decodeEvent, encodeEvent } from './codec.ts';
export {
  type BusConnectionOptions,
  type BusTlsFiles,
  type ConnectionState,
  connectBus,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_RECONNECT_WAIT_MS,
  watchConnection,
} from './connection.ts';
export { isTransientNatsError, toMeshError, UNAVAILABLE_RETRY_AFTER_MS } from './errors.ts';
export {
  createPublisher,
  DEFAULT_PUBLISHER_OPTIONS,
  type Publisher,
  type PublisherOptions,
  type PublishRequest,
  type PublishResult,
} from './publisher.ts';
export {
  DEFAULT_QUERY_IN_FLIGHT_MAX,
  QUERY_ERROR_MESSAGE_LENGTH_MAX,
  QUERY_OVERLOAD_RETRY_AFTER_MS,
  QUERY_RETRY_AFTER_MS_MAX,
  type QueryHandler,
  requestQuery,
  type ServeQueriesOptions,
  serveQueries,
} from './queries.ts';
export {
  type AppliedEvent,
  type ConsumerLag,
  DEFAULT_SHARD_CONSUMER_OPTIONS,
  type DeadLetter,
  type ShardConsumer,
  type ShardConsumerOptions,
  sourcedSequence,
  startShardConsumer,
} from './shard-consumer.ts';
export {
  type RequestShardListOptions,
  type RequestShardOptions,
  requestShard,
  requestShardList,
  type ServeShardOptions,
  SHARD_QUERY_WAIT_MS_MAX,
  type ShardAnswer,
  type ShardHit,
  ShardHitSchema,
  type ShardListAnswer,
  type ShardListed,
  ShardListedSchema,
  type ShardListHandler,
  type ShardListQuery,
  ShardListQuerySchema,
  type ShardListReply,
  ShardListReplySchema,
  type ShardQuery,
  type ShardQueryHandler,
  ShardQuerySchema,
  type ShardReply,
  ShardReplySchema,
  type ShardServer,
  serveShard,
} from './shard-query.ts';
export { lastBySubject, type NextBySubject, nextBySubject, versionOf } from './stream-read.ts';
export {
  AUDIT_EVENT_BYTES_MAX,
  auditStreamConfig,
  DEFAULT_REGION_STREAM_OPTIONS,
  deadLetterStreamConfig,
  ensureRegionStreams,
  type RegionStreamOptions,
  type ReplicationSource,
  regionStreamConfig,
} from './streams.ts';
