/**
 * @module transport
 * One API call over fetch, retried within bounds. Which failures are retried, and why:
 *
 * - 429 and 503 (over the rate limit; a dependency down or a replica behind `minVersion`):
 *   the service did not act on the request, so any request may be sent again — after the
 *   answer's `Retry-After` when it has one (never sooner), else after a backoff.
 * - 504 and network failures (no answer, a cut connection, the attempt's timeout): the
 *   service may have acted. A read may be sent again. A write only when it is idempotent:
 *   it names the memory's id, so the same write again is dropped by the log's duplicate
 *   window (the message id is a hash of the content), or a delete of one id.
 * - Anything else is the answer: a 400 is as wrong the second time.
 *
 * Every retry loop is bounded twice: by attempts and by total time; a wait the server asks
 * for that would end past the total is not waited for — the last error is thrown at once.
 * Only standard fetch, AbortSignal and Headers are used, so this runs in Node, Deno, Bun and
 * browsers.
 */
import { ErrorCode, MeshError } from '@memmesh/core/errors';
import { backoffDelayMs } from '@memmesh/core/retry';
import { apiErrorOf, MemmeshApiError, StaleRead } from './errors.ts';

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attemptsMax: number;
  /** From the first attempt's start; no retry begins that would wait past it. */
  elapsedMsMax: number;
  initialDelayMs: number;
  /** The largest backoff between attempts (a server's Retry-After may be longer). */
  delayMsMax: number;
  multiplier: number;
}

export const DEFAULT_CLIENT_RETRY_POLICY: Readonly<RetryPolicy> = {
  attemptsMax: 5,
  elapsedMsMax: 30_000,
  initialDelayMs: 100,
  delayMsMax: 5_000,
  multiplier: 2,
};

/** One attempt's longest wait for an answer; a `?wait=true` write waits for the home index too. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;

export interface TransportOptions {
  baseUrl: string;
  apiKey: string;
  fetch: typeof fetch;
  retry: RetryPolicy;
  requestTimeoutMs: number;
  /** Sent as X-Client-Region: the gateway asks this region first when it can. */
  clientRegion: string | undefined;
  /** Injected in tests; `Date.now` and a timer otherwise. */
  nowMs: () => number;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
}

export interface CallOptions {
  method: string;
  /** Path and query, already encoded. */
  path: string;
  body?: unknown;
  /** Whether sending it twice does what sending it once does (reads, writes by id). */
  idempotent: boolean;
  signal?: AbortSignal | undefined;
  /**
   * Checks a successful answer; a `MeshError` it throws that is retryable is retried like a
   * 503 (the client's session uses it for an answer older than its own writes).
   */
  accept?: (value: unknown) => void;
  /** Turns an error answer into another (the session makes a 404 of its own write a stale read). */
  mapError?: (err: MeshError) => MeshError;
}

export type Transport = <T>(call: CallOptions) => Promise<T>;

export function createTransport(options: TransportOptions): Transport {
  return async <T>(call: CallOptions): Promise<T> => {
    const startedMs = options.nowMs();
    let lastError: MeshError | undefined;
    for (let attempt = 1; attempt <= options.retry.attemptsMax; attempt++) {
      try {
        const value = await attemptOnce(options, call);
        call.accept?.(value);
        return value as T;
      } catch (caught) {
        const err = caught instanceof MeshError && call.mapError ? call.mapError(caught) : caught;
        if (!(err instanceof MeshError) || !retryable(err, call) || call.signal?.aborted) throw err;
        lastError = err;
      }
      if (attempt === options.retry.attemptsMax) break;
      const delayMs = Math.max(lastError.retryAfterMs ?? 0, backoffDelayMs(options.retry, attempt));
      if (options.nowMs() - startedMs + delayMs > options.retry.elapsedMsMax) break;
      await options.sleep(delayMs, call.signal);
    }
    throw lastError ?? new MeshError(ErrorCode.Internal, 'retry policy allows no attempt');
  };
}

function retryable(err: MeshError, call: CallOptions): boolean {
  if (err instanceof MemmeshApiError) {
    if (err.status === 429 || err.status === 503) return true;
    return err.status === 504 && call.idempotent;
  }
  if (err instanceof StaleRead) return true;
  // No answer: the network failed or the attempt timed out; the service may have acted.
  if (err.code === ErrorCode.Unavailable || err.code === ErrorCode.Timeout) return call.idempotent;
  return false;
}

async function attemptOnce(options: TransportOptions, call: CallOptions): Promise<unknown> {
  const timeout = AbortSignal.timeout(options.requestTimeoutMs);
  const signal = call.signal ? AbortSignal.any([timeout, call.signal]) : timeout;
  const headers: Record<string, string> = {
    authorization: `Bearer ${options.apiKey}`,
    accept: 'application/json',
  };
  if (call.body !== undefined) headers['content-type'] = 'application/json';
  if (options.clientRegion) headers['x-client-region'] = options.clientRegion;
  let response: Response;
  let text: string;
  try {
    response = await options.fetch(`${options.baseUrl}${call.path}`, {
      method: call.method.toUpperCase(),
      headers,
      ...(call.body === undefined ? {} : { body: JSON.stringify(call.body) }),
      signal,
    });
    text = await response.text();
  } catch (err) {
    if (call.signal?.aborted) throw err;
    const code = timeout.aborted ? ErrorCode.Timeout : ErrorCode.Unavailable;
    const what = timeout.aborted ? `no answer within ${options.requestTimeoutMs} ms` : 'the request failed';
    throw new MeshError(code, `${call.method.toUpperCase()} ${call.path}: ${what}`, { cause: err });
  }
  const body = parseJson(text);
  if (response.status >= 400) {
    throw apiErrorOf(response.status, body, response.headers, retryAfterMsOf(response.headers, options));
  }
  return body;
}

function parseJson(text: string): unknown {
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** Retry-After as seconds or as an HTTP date (RFC 9110 §10.2.3). */
export function retryAfterMsOf(
  headers: Headers,
  options: Pick<TransportOptions, 'nowMs'>,
): number | undefined {
  const value = headers.get('retry-after');
  if (value === null || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - options.nowMs());
}

/** A timer that an abort cuts short (the caller's signal then rejects the next attempt). */
export function sleepMs(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
