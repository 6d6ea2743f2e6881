/**
 * @module retry
 * Retry policies as values: capped exponential backoff with jitter and a maximum
 * number of attempts. Callers decide which errors are retryable.
 */

export interface RetryPolicy {
  /** Attempts in all, the first included. */
  attemptsMax: number;
  initialDelayMs: number;
  delayMsMax: number;
  multiplier: number;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = {
  attemptsMax: 5,
  initialDelayMs: 25,
  delayMsMax: 1_000,
  multiplier: 2,
};

/** Delay before attempt `attempt` (1-based: the delay after the first failure is attempt 1). */
export function backoffDelayMs(
  policy: RetryPolicy,
  attempt: number,
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.delayMsMax, policy.initialDelayMs * policy.multiplier ** (attempt - 1));
  // Jitter over [ceiling/2, ceiling] ("equal jitter", not full jitter) spreads the retries of
  // clients that failed at the same moment and still keeps half the backoff as a floor.
  return Math.round(ceiling * (0.5 + random() * 0.5));
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export interface RetryOptions {
  policy?: RetryPolicy;
  isRetryable: (err: unknown) => boolean;
  /** A server-supplied wait (e.g. Retry-After) that overrides the computed backoff. */
  retryAfterMs?: (err: unknown) => number | undefined;
  onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
}

export async function withRetry<T>(fn: (attempt: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const policy = options.policy ?? DEFAULT_RETRY_POLICY;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= policy.attemptsMax || !options.isRetryable(err)) throw err;
      const hinted = options.retryAfterMs?.(err);
      const delayMs = Math.min(policy.delayMsMax, hinted ?? backoffDelayMs(policy, attempt));
      options.onRetry?.(err, attempt, delayMs);
      await sleep(delayMs);
    }
  }
}
