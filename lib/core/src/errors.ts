/**
 * @module errors
 * The one error type of memmesh. Every error that crosses a package boundary is a
 * `MeshError` with a stable `code`; the HTTP layer maps codes to statuses in one place.
 */

/** Stable error codes. They appear in API responses, so they never change meaning. */
export const ErrorCode = {
  BadRequest: 'bad_request',
  Unauthorized: 'unauthorized',
  /** The key is known and valid, but its scopes do not allow this route (a read-only key writing). */
  Forbidden: 'forbidden',
  NotFound: 'not_found',
  /** The path exists, but not with this method (the answer's `Allow` lists those it has). */
  MethodNotAllowed: 'method_not_allowed',
  VersionConflict: 'version_conflict',
  /** The request contradicts the current state, not a version: a tenant's third active API key. */
  Conflict: 'conflict',
  /** The request reached a region that does not hold (or is not the home of) the tenant. */
  WrongRegion: 'wrong_region',
  PayloadTooLarge: 'payload_too_large',
  RateLimited: 'rate_limited',
  Unavailable: 'unavailable',
  Timeout: 'timeout',
  InvalidEvent: 'invalid_event',
  Config: 'config',
  /** A dependency answered, but wrongly: refused our credentials, sent a malformed body. */
  Upstream: 'upstream',
  Internal: 'internal',
} as const;
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

/** Operating errors that a caller may retry unchanged, and after how long. */
const RETRYABLE: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.RateLimited,
  ErrorCode.Unavailable,
  ErrorCode.Timeout,
]);

export interface MeshErrorOptions {
  details?: unknown;
  cause?: unknown;
  /** Suggested wait before a retry, for 429 and 503 answers. */
  retryAfterMs?: number;
}

export class MeshError extends Error {
  override readonly name = 'MeshError';
  readonly code: ErrorCode;
  readonly details: unknown;
  readonly retryAfterMs: number | undefined;

  constructor(code: ErrorCode, message: string, options: MeshErrorOptions = {}) {
    // Without a cause, no `cause` property at all: logs would otherwise show `[cause]: undefined`
    // on every error, and code walking cause chains would step onto undefined.
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.details = options.details;
    this.retryAfterMs = options.retryAfterMs;
  }

  get retryable(): boolean {
    return RETRYABLE.has(this.code);
  }
}

export function isMeshError(err: unknown, code?: ErrorCode): err is MeshError {
  return err instanceof MeshError && (code === undefined || err.code === code);
}

/** HTTP status for each code; the single place where that mapping lives. */
export const httpStatusOf: Readonly<Record<ErrorCode, number>> = {
  bad_request: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  method_not_allowed: 405,
  version_conflict: 409,
  conflict: 409,
  wrong_region: 421,
  payload_too_large: 413,
  rate_limited: 429,
  unavailable: 503,
  timeout: 504,
  invalid_event: 400,
  config: 500,
  upstream: 502,
  internal: 500,
};
