/**
 * @module errors
 * The client's errors: an API answer that is an error becomes a `MemmeshApiError` carrying
 * the API's stable code (`bad_request`, `version_conflict`, …), its message and details, the
 * HTTP status and the region that answered. A request that got no answer (the network, a
 * timeout) is a `MeshError` with code `unavailable` or `timeout` and the fetch error as its
 * cause. Both are `MeshError`s, the one error type of memmesh, so `err.retryable` and
 * `isMeshError(err, code)` work the same in and out of the services.
 */
import { ErrorCode, MeshError, type MeshErrorOptions } from '@memmesh/core/errors';

export { ErrorCode, isMeshError, MeshError } from '@memmesh/core/errors';

const KNOWN_CODES: ReadonlySet<string> = new Set(Object.values(ErrorCode));

export interface ApiErrorOptions extends MeshErrorOptions {
  status: number;
  region?: string | undefined;
}

/** An error answer of the API (any status from 400 on). */
export class MemmeshApiError extends MeshError {
  readonly status: number;
  /** X-Memmesh-Region of the answer, when it had one. */
  readonly region: string | undefined;

  constructor(code: ErrorCode, message: string, options: ApiErrorOptions) {
    super(code, message, options);
    this.status = options.status;
    this.region = options.region;
  }
}

/**
 * An answer older than this client's own write (a replica that has not caught up): the read
 * is retried like a 503, and this is thrown when the retries run out.
 */
export class StaleRead extends MeshError {
  constructor(message: string) {
    super(ErrorCode.Unavailable, message);
  }
}

/**
 * The error of an answer: its body's code and message when the body is the API's error
 * shape, else one made from the status (a proxy in front of memmesh may answer in HTML).
 */
export function apiErrorOf(status: number, body: unknown, headers: Headers, retryAfterMs?: number) {
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
  const code =
    typeof error?.code === 'string' && KNOWN_CODES.has(error.code)
      ? (error.code as ErrorCode)
      : codeOfStatus(status);
  const message = typeof error?.message === 'string' ? error.message : `HTTP ${status}`;
  return new MemmeshApiError(code, message, {
    status,
    region: headers.get('x-memmesh-region') ?? undefined,
    details: error?.details,
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  });
}

/** The code of a status whose body did not say one. */
function codeOfStatus(status: number): ErrorCode {
  const byStatus: Record<number, ErrorCode> = {
    400: ErrorCode.BadRequest,
    401: ErrorCode.Unauthorized,
    403: ErrorCode.Forbidden,
    404: ErrorCode.NotFound,
    405: ErrorCode.MethodNotAllowed,
    409: ErrorCode.VersionConflict,
    413: ErrorCode.PayloadTooLarge,
    421: ErrorCode.WrongRegion,
    429: ErrorCode.RateLimited,
    502: ErrorCode.Upstream,
    503: ErrorCode.Unavailable,
    504: ErrorCode.Timeout,
  };
  return byStatus[status] ?? (status >= 500 ? ErrorCode.Unavailable : ErrorCode.BadRequest);
}
