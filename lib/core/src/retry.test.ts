import { describe, expect, it } from 'vitest';
import { ErrorCode, MeshError } from './errors.ts';
import { backoffDelayMs, DEFAULT_RETRY_POLICY, type RetryPolicy, sleep, withRetry } from './retry.ts';

const policy: RetryPolicy = { attemptsMax: 4, initialDelayMs: 10, delayMsMax: 100, multiplier: 2 };
/** A policy whose waits are a millisecond or two, so retry loops run fast. */
const fast: RetryPolicy = { attemptsMax: 4, initialDelayMs: 1, delayMsMax: 2, multiplier: 2 };

class Transient extends Error {}
class Fatal extends Error {}
const isTransient = (err: unknown): boolean => err instanceof Transient;

describe('backoffDelayMs', () => {
  it('retry - the ceiling grows by the multiplier and is capped at delayMsMax', () => {
    const ceilings = [1, 2, 3, 4, 5, 6, 20].map((attempt) => backoffDelayMs(policy, attempt, () => 1));
    expect(ceilings).toEqual([10, 20, 40, 80, 100, 100, 100]);
  });

  it('retry - jitter keeps each delay within [0.5, 1] of the ceiling', () => {
    expect(backoffDelayMs(policy, 3, () => 0)).toBe(20);
    expect(backoffDelayMs(policy, 3, () => 0.5)).toBe(30);
    expect(backoffDelayMs(policy, 3, () => 0.999_999)).toBe(40);
    for (let attempt = 1; attempt <= 10; attempt++) {
      const ceiling = Math.min(policy.delayMsMax, policy.initialDelayMs * 2 ** (attempt - 1));
      for (let i = 0; i < 50; i++) {
        const delay = backoffDelayMs(policy, attempt);
        expect(delay).toBeGreaterThanOrEqual(Math.round(ceiling / 2));
        expect(delay).toBeLessThanOrEqual(ceiling);
      }
    }
  });

  it('retry - a very late attempt stays at the cap instead of overflowing', () => {
    expect(backoffDelayMs(policy, 5_000, () => 1)).toBe(policy.delayMsMax);
    expect(backoffDelayMs(DEFAULT_RETRY_POLICY, 5_000, () => 1)).toBe(DEFAULT_RETRY_POLICY.delayMsMax);
  });

  it('retry - the default policy is bounded', () => {
    expect(DEFAULT_RETRY_POLICY.attemptsMax).toBeGreaterThan(1);
    let total = 0;
    for (let attempt = 1; attempt < DEFAULT_RETRY_POLICY.attemptsMax; attempt++) {
      total += backoffDelayMs(DEFAULT_RETRY_POLICY, attempt, () => 1);
    }
    expect(total).toBeLessThanOrEqual(DEFAULT_RETRY_POLICY.attemptsMax * DEFAULT_RETRY_POLICY.delayMsMax);
  });
});

describe('withRetry', () => {
  it('retry - returns the first success without retrying', async () => {
    const attempts: number[] = [];
    const result = await withRetry(
      async (attempt) => {
        attempts.push(attempt);
        return 'ok';
      },
      { policy: fast, isRetryable: () => true },
    );
    expect(result).toBe('ok');
    expect(attempts).toEqual([1]);
  });

  it('retry - retries retryable errors and returns a later success', async () => {
    const attempts: number[] = [];
    const result = await withRetry(
      async (attempt) => {
        attempts.push(attempt);
        if (attempt < 3) throw new Transient(`try ${attempt}`);
        return attempt * 10;
      },
      { policy: fast, isRetryable: isTransient },
    );
    expect(result).toBe(30);
    expect(attempts).toEqual([1, 2, 3]);
  });

  it('retry - stops at attemptsMax and rethrows the last error', async () => {
    let calls = 0;
    const retries: number[] = [];
    await expect(
      withRetry(
        async (attempt) => {
          calls++;
          throw new Transient(`try ${attempt}`);
        },
        { policy: fast, isRetryable: isTransient, onRetry: (_err, attempt) => retries.push(attempt) },
      ),
    ).rejects.toThrow('try 4');
    expect(calls).toBe(fast.attemptsMax);
    // onRetry announces each wait, never one after the final attempt.
    expect(retries).toEqual([1, 2, 3]);
  });

  it('retry - attemptsMax 1 means a single attempt', async () => {
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new Transient('once');
        },
        { policy: { ...fast, attemptsMax: 1 }, isRetryable: () => true },
      ),
    ).rejects.toThrow('once');
    expect(calls).toBe(1);
  });

  it('retry - a non-retryable error is thrown at once, even after retryable ones', async () => {
    let calls = 0;
    const fatal = new Fatal('bad request');
    await expect(
      withRetry(
        async () => {
          calls++;
          throw fatal;
        },
        { policy: fast, isRetryable: isTransient },
      ),
    ).rejects.toBe(fatal);
    expect(calls).toBe(1);

    calls = 0;
    await expect(
      withRetry(
        async (attempt) => {
          calls++;
          throw attempt === 1 ? new Transient('transient') : new Fatal('fatal');
        },
        { policy: fast, isRetryable: isTransient },
      ),
    ).rejects.toThrow('fatal');
    expect(calls).toBe(2);
  });

  it('retry - a retryAfterMs hint replaces the backoff, and the wait really happens', async () => {
    const hintMs = 30;
    const delays: number[] = [];
    const started = performance.now();
    await withRetry(
      async (attempt) => {
        if (attempt === 1) throw new MeshError(ErrorCode.RateLimited, 'slow down', { retryAfterMs: hintMs });
        return 'ok';
      },
      {
        policy: { ...fast, delayMsMax: 1_000 },
        isRetryable: (err) => err instanceof MeshError && err.retryable,
        retryAfterMs: (err) => (err instanceof MeshError ? err.retryAfterMs : undefined),
        onRetry: (_err, _attempt, delayMs) => delays.push(delayMs),
      },
    );
    expect(delays).toEqual([hintMs]);
    // Timers may fire up to a millisecond early against performance.now().
    expect(performance.now() - started).toBeGreaterThanOrEqual(hintMs - 2);
  });

  it('retry - a hint is capped at delayMsMax and an absent hint falls back to backoff', async () => {
    const delays: number[] = [];
    let calls = 0;
    await expect(
      withRetry(
        async () => {
          calls++;
          throw new Transient('x');
        },
        {
          policy: { attemptsMax: 3, initialDelayMs: 2, delayMsMax: 5, multiplier: 2 },
          isRetryable: () => true,
          retryAfterMs: () => (calls === 1 ? 60_000 : undefined),
          onRetry: (_err, _attempt, delayMs) => delays.push(delayMs),
        },
      ),
    ).rejects.toThrow('x');
    expect(delays[0]).toBe(5);
    // The second wait is the backoff of attempt 2: ceiling 4, jittered into [2, 4].
    expect(delays[1]).toBeGreaterThanOrEqual(2);
    expect(delays[1]).toBeLessThanOrEqual(4);
  });

  it('retry - sleep waits about the given time', async () => {
    const started = performance.now();
    await sleep(15);
    expect(performance.now() - started).toBeGreaterThanOrEqual(13);
  });
});
