/**
 * @module proxy
 * Sends one request to one region and classifies the outcome: an answer to return, or a
 * reason to try the next region. Network errors, timeouts, 5xx and 421 are worth another
 * region for reads; any other status is the answer.
 */
export interface Forward {
  method: string;
  /** Path and query, e.g. `/v1/search?x=1`. */
  pathAndQuery: string;
  headers: Record<string, string>;
  body: Uint8Array | undefined;
  timeoutMs: number;
}

export type Outcome =
  | { kind: 'answer'; region: string; response: Response; body: Uint8Array }
  | {
      kind: 'retry';
      region: string;
      reason: string;
      unreachable: boolean;
      response?: Response;
      body?: Uint8Array;
    };

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
    response = await fetch(`${endpoint}${request.pathAndQuery}`, {
      method: request.method,
      headers: request.headers,
      ...(request.body ? { body: request.body } : {}),
      signal: abort,
    });
  } catch (err) {
    const timedOut = timeout.aborted;
    return {
      kind: 'retry',
      region,
      reason: timedOut ? 'timeout' : `unreachable (${(err as Error).message})`,
      unreachable: !timedOut,
    };
  }
  let body: Uint8Array;
  try {
    body = new Uint8Array(await response.arrayBuffer());
  } catch {
    return { kind: 'retry', region, reason: 'response cut off', unreachable: false };
  }
  if (response.status >= 500 || response.status === 421) {
    return { kind: 'retry', region, reason: `status ${response.status}`, unreachable: false, response, body };
  }
  return { kind: 'answer', region, response, body };
}
