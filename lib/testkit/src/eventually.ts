/**
 * @module eventually
 * Waiting for a distributed system to get somewhere: poll a check until it answers, within a
 * deadline. Replication, failover and restarts settle in their own time, so a test asks
 * "within how long", never "after how long".
 */
import { sleep } from '@memmesh/core';

/** Long enough for a NATS re-election or a replica to catch up on a busy 2-core machine. */
export const DEFAULT_EVENTUALLY_TIMEOUT_MS = 15_000;
export const DEFAULT_EVENTUALLY_STEP_MS = 25;

export interface EventuallyOptions {
  /** How long to keep trying; one attempt always runs, and one more once the time is up. */
  timeoutMs?: number;
  /** Pause between attempts. */
  stepMs?: number;
}

/**
 * Runs `attempt` until it returns a value other than `undefined`, and returns that value. An
 * attempt that throws counts as "not yet" (a region that is down refuses connections), and
 * the last error becomes the timeout's `cause`, so that a failing test says why it waited in
 * vain. `what` names what was awaited in that error.
 */
export async function eventually<T>(
  what: string,
  attempt: () => Promise<T | undefined>,
  options: EventuallyOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_EVENTUALLY_TIMEOUT_MS;
  const stepMs = options.stepMs ?? DEFAULT_EVENTUALLY_STEP_MS;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    const value = await attempt().catch((err: unknown) => {
      lastError = err;
      return undefined;
    });
    if (value !== undefined) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms: ${what}`, { cause: lastError });
    }
    await sleep(stepMs);
  }
}
