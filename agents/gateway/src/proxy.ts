/**
 * @module proxy
 * Sends one request to one region and classifies what happened: an answer to return, or a
 * failure that may be worth another region. The classification is what makes failover
 * safe: a refused connection means nothing was sent (even a write may be sent again); a
 * reset or a timeout means the region may have acted on the request.
 */
import { Agent, type Dispatcher } from 'undici';

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

/** What the gateway reads of an answer's headers. */
export interface AnswerHeaders {
  get(name: string): string | null;
}

export interface Answer {
  region: string;
  status: number;
  headers: AnswerHeaders;
  body: Uint8Array;
}

export type Outcome =
  | ({ kind: 'answer' } & Answer)
  | { kind: 'failure'; region: string; failure: FailureKind; reason: string; answer?: Answer };

/**
 * 5xx: the region is in trouble (503 also when a replica has not applied `minVersion`).
 * 421: the region does not hold the tenant (yet), so it did not act. Any other status is the
 * answer: a 400 is as bad in every region, and a 429 says the tenant is over its limit —
 * asking the next region would add the regions' limits up.
 */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 421;
}

/** The sender of the gateway's requests to regions: one pool of kept-alive connections per region. */
export interface RegionClient {
  forward(region: string, endpoint: string, request: Forward, signal?: AbortSignal): Promise<Outcome>;
  close(): Promise<void>;
}

export interface RegionClientOptions {
  /** Connections kept to each region at most; requests beyond them wait for one. */
  connectionsPerRegion?: number;
}

/** Enough for the requests in flight at once to one region from one gateway process. */
const CONNECTIONS_PER_REGION_DEFAULT = 128;
/**
 * Idle connections are closed after this: before the agents close theirs (5 s, lib/http serve),
 * so that the gateway never sends a write on a connection the agent is just closing.
 */
const KEEP_ALIVE_MS = 4_000;

/**
 * undici's own dispatcher rather than fetch: a proxied request is bytes in and bytes out, and
 * fetch's WHATWG machinery (a Request, Headers, a ReadableStream per body, an AbortSignal per
 * timeout that lives as long as the timeout) was most of the gateway's work per request and
 * kept every request's objects alive for the whole read timeout, to be copied by each
 * young-generation collection in between.
 */
export function createRegionClient(options: RegionClientOptions = {}): RegionClient {
  const pool = new Agent({
    connections: options.connectionsPerRegion ?? CONNECTIONS_PER_REGION_DEFAULT,
    keepAliveTimeout: KEEP_ALIVE_MS,
    keepAliveMaxTimeout: KEEP_ALIVE_MS,
  });
  return {
    forward: (region, endpoint, request, signal) => forwardWith(pool, region, endpoint, request, signal),
    close: () => pool.close(),
  };
}

const TIMED_OUT = new Error('the attempt timed out');
const CALLER_ABORTED = new Error('the gateway gave up on the attempt');

async function forwardWith(
  pool: Agent,
  region: string,
  endpoint: string,
  request: Forward,
  signal?: AbortSignal,
): Promise<Outcome> {
  if (signal?.aborted)
    return { kind: 'failure', region, failure: 'aborted', reason: 'aborted (before sending)' };
  // One controller and one timer per attempt, both released when it ends: nothing of a
  // finished request stays reachable until its timeout would have fired.
  const controller = new AbortController();
  let failure: FailureKind | undefined;
  const timer = setTimeout(() => {
    failure = 'timeout';
    controller.abort(TIMED_OUT);
  }, request.timeoutMs);
  const onCallerAbort = () => {
    failure ??= 'aborted';
    controller.abort(CALLER_ABORTED);
  };
  signal?.addEventListener('abort', onCallerAbort, { once: true });
  let status: number;
  let headers: IncomingHeaders;
  let body: Uint8Array;
  let sent = false;
  try {
    const response = await pool.request({
      origin: endpoint,
      path: request.pathAndQuery,
      method: request.method as Dispatcher.HttpMethod,
      headers: request.headers,
      body: request.body ?? null,
      signal: controller.signal,
    });
    sent = true;
    status = response.statusCode;
    headers = response.headers;
    body = new Uint8Array(await response.body.arrayBuffer());
  } catch (err) {
    const kind = failure ?? (errorCodes(err).includes('ECONNREFUSED') && !sent ? 'refused' : 'network');
    return failed(region, kind, err);
  } finally {
    clearTimeout(timer);
    signal?.removeEventListener('abort', onCallerAbort);
  }
  const answer: Answer = { region, status, headers: answerHeaders(headers), body };
  if (isRetryableStatus(status)) {
    return { kind: 'failure', region, failure: 'status', reason: `status ${status}`, answer };
  }
  return { kind: 'answer', ...answer };
}

type IncomingHeaders = Record<string, string | string[] | undefined>;

/** The answer's headers by lower-case name (a repeated header: its first value). */
function answerHeaders(headers: IncomingHeaders): AnswerHeaders {
  return {
    get(name) {
      const value = headers[name.toLowerCase()];
      return (Array.isArray(value) ? value[0] : value) ?? null;
    },
  };
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
