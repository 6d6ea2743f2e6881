/**
 * @module stats
 * Small measurement helpers for the bench: percentiles, bounded concurrent loops, and a
 * seeded random generator so that every run sees the same corpus and queries.
 */

export function percentile(sortedMs: readonly number[], p: number): number {
  if (sortedMs.length === 0) return Number.NaN;
  const at = Math.min(sortedMs.length - 1, Math.max(0, Math.ceil((p / 100) * sortedMs.length) - 1));
  return sortedMs[at] as number;
}

export interface LatencySummary {
  p50Ms: number;
  p99Ms: number;
  /** Successful calls per second of wall time. */
  qps: number;
  /** Successful calls; failed ones are counted in `errors` and not timed. */
  count: number;
  errors: number;
  firstError: string | undefined;
}

export interface LoopBounds {
  /** Calls made at most. */
  count: number;
  /** Calls in flight at once. */
  concurrency: number;
  /** No call starts after this long. */
  timeMsMax: number;
  /** No call starts once this says true (a phase being measured has ended). */
  stop?: () => boolean;
}

/**
 * A loop of calls that settle at once (in-process work) never leaves the microtask queue,
 * so timers and sockets of everything else in the process (the agent's NATS heartbeats,
 * HTTP keep-alive timeouts) would starve for the whole loop. Yielding this often bounds that.
 */
const YIELD_EVERY_MS = 10;

/**
 * Runs `task` up to `count` times with `concurrency` workers, stopping early at `timeMsMax`,
 * and summarises per-call latency. A failing call is counted, not retried, and does not
 * stop the loop: a bench must show failures, not die of the first one.
 */
export async function measureLatency(
  task: (i: number) => Promise<void>,
  { count, concurrency, timeMsMax, stop }: LoopBounds,
): Promise<LatencySummary> {
  const latencies: number[] = [];
  let errors = 0;
  let firstError: string | undefined;
  let next = 0;
  const started = performance.now();
  const deadline = started + timeMsMax;
  let yielded = started;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count && performance.now() < deadline && !stop?.()) {
        if (performance.now() - yielded >= YIELD_EVERY_MS) {
          // Outside the timed region: other work runs here, not inside a measured call.
          await new Promise<void>((resolve) => setImmediate(resolve));
          yielded = performance.now();
          // Other workers may have taken the last calls while this one yielded.
          if (next >= count) break;
        }
        const i = next++;
        const t0 = performance.now();
        try {
          await task(i);
          latencies.push(performance.now() - t0);
        } catch (err) {
          errors++;
          firstError ??= err instanceof Error ? err.message : String(err);
        }
      }
    }),
  );
  const elapsedS = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    qps: latencies.length / elapsedS,
    count: latencies.length,
    errors,
    firstError,
  };
}

/** Runs `task` over `items` with at most `concurrency` in flight. */
export async function pool<T>(
  items: readonly T[],
  concurrency: number,
  task: (item: T, i: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const i = next++;
        await task(items[i] as T, i);
      }
    }),
  );
}

/** A seeded generator (mulberry32), so every bench run sees the same corpus. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
