/**
 * @module @memmesh/client
 * The typed memmesh client, fetch only (Node, Deno, Bun, browsers): `createClient` and the
 * API's types, errors with the API's stable codes, and the batch splitting it uses.
 */
export { API_BATCH_LIMITS, type BatchLimits, splitBatches } from './batch.ts';
export {
  type ClientOptions,
  createClient,
  type DeleteOptions,
  listQuery,
  type MemmeshAdmin,
  type MemmeshClient,
  type ReadOptions,
  type WriteOptions,
} from './client.ts';
export { type ApiErrorOptions, ErrorCode, isMeshError, MemmeshApiError, MeshError } from './errors.ts';
export {
  ADMIN_OPERATIONS,
  type AdminOperationId,
  type ClientOperationId,
  OPERATIONS,
} from './operations.ts';
export { DEFAULT_SESSION_IDS_MAX, type Session } from './session.ts';
export {
  DEFAULT_CLIENT_RETRY_POLICY,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type RetryPolicy,
  retryAfterMsOf,
} from './transport.ts';
export type * from './types.ts';
