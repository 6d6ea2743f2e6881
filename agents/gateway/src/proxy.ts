/**
 * @module proxy
 * Sends one request to one region and classifies what happened: an answer to return, or a
 * failure that may be worth another region. The classification is what makes failover
 * safe: a refused connection means nothing was sent (even a write may be sent again); a
 * reset or a timeout means the region may have acted on the request.
 */

export interface Forward {
  method: string;
  /** Path and query as the client sent them, e.g. `/v1/memories/a%2Fb?wait=true`. */
  pathAndQuery: string;
  headers: Record<string, string>;
  body: Uint8Array | undefined;
  timeoutMs: number;
}

/**
 * - `refused`: the connection was refused, so the request never left the gateway.
 * - `network`: the connection broke (reset, closed, cut-off answer); the region may have acted.
 * - `timeout`: no answer within the attempt's time; the region may still act.
 * - `aborted`: the gateway gave up on the attempt itself (a hedge was answered, or the client left).
 * - `status`: the region answered with a status that another region may improve on.
 */
export type FailureKind = 'refused' | 'network' | 'timeout' | 'aborted' | 'status';

export interface Answer {
  region: string;
  status: number;
  headers: Headers;
  body: Uint8Array;
}

export type Outcome =
  | ({ kind: 'answer' } & Answer)
  | { kind: 'failure'; region: string; failure: FailureKind; reason: string; answer?: Answer };

/**
 * 5xx: the region is in trouble (503 also when a replica has not applied `minVersion`).
 * 421: the region does not hold the tenant (yet); fetch itself has already repeated such a
 * request once on a new connection (Fetch standard), harmless since a 421 means the region
 * did not act. Any other status is the answer: a 400 is as bad in every region, and a 429 says
 * the tenant is over its limit — asking the next region would add the regions' limits up.
 */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 421;
}

export async function forward(
  region: string,
  endpoint: string,
  request: Forward,
  signal?: AbortSignal,
): Promise<Outcome> {
  const timeout = AbortSignal.timeout(request.timeoutMs);
  const abort = signal ? AbortSignal.any([timeout, signal]) : timeout;
  let response: Response;
  try {
    // Node's fetch keeps connections to each region alive between requests.
    response = await fetch(`${endpoint}${request.pathAndQuery}`, {
      method: request.method,
      headers: request.headers,
      ...(request.body ? { body: request.body } : {}),
      signal: abort,
    });
  } catch (err) {
    return failed(region, failureOf(err, timeout, signal), err);
  }
  let body: Uint8Array;
  try {
    body = new Uint8Array(await response.arrayBuffer());
  } catch (err) {
    const kind = failureOf(err, timeout, signal);
    // The request reached the region: a refused connection is impossible here.
    return failed(region, kind === 'refused' ? 'network' : kind, err);
  }
  const answer: Answer = { region, status: response.status, headers: response.headers, body };
  if (isRetryableStatus(response.status)) {
    return { kind: 'failure', region, failure: 'status', reason: `status ${response.status}`, answer };
  }
  return { kind: 'answer', ...answer };
}

/** What a fetch error means; `caller` is the gateway's own abort signal, if any. */
export function failureOf(err: unknown, timeout: AbortSignal, caller?: AbortSignal): FailureKind {
  if (caller?.aborted) return 'aborted';
  if (timeout.aborted) return 'timeout';
  return errorCodes(err).includes('ECONNREFUSED') ? 'refused' : 'network';
}

function failed(region: string, failure: FailureKind, err: unknown): Outcome {
  const codes = errorCodes(err);
  const detail = codes.length > 0 ? codes.join('/') : (err as Error)?.message;
  return { kind: 'failure', region, failure, reason: `${failure} (${detail})` };
}

/** Error codes along the cause chain (fetch wraps socket errors: TypeError → cause). */
function errorCodes(err: unknown): string[] {
  const codes: string[] = [];
  let current: unknown = err;
  // Bounded: cause chains of fetch errors are two or three links long.
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    if (current instanceof AggregateError) {
      for (const inner of current.errors) {
        const innerCode = (inner as { code?: unknown }).code;
        if (typeof innerCode === 'string') codes.push(innerCode);
      }
    }
    current = current.cause;
  }
  return codes;
}
