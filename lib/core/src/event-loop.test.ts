import { describe, expect, it } from 'vitest';
import { yieldIfSliceSpent } from './event-loop.ts';

/** Busy work of `ms`, as an HNSW insert or an event's decoding is: the loop is held. */
function spin(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) {
    // held on purpose
  }
}

/** A worker doing `units` of 1 ms work, yielding as the shared slice is spent. */
async function work(name: string, units: number, trace: string[]): Promise<void> {
  for (let i = 0; i < units; i++) {
    await yieldIfSliceSpent(2);
    spin(1);
    trace.push(name);
  }
}

describe('yieldIfSliceSpent', () => {
  it('event loop - callers yielding together take turns: one slice per turn of the loop, in order', async () => {
    const trace: string[] = [];
    let timerAfterUnits: number | undefined;
    // A timer due at once stands for a request waiting to be read: it must not wait for
    // a slice per caller, let alone for all of the work.
    setTimeout(() => {
      timerAfterUnits = trace.length;
    }, 0);
    await Promise.all([work('a', 12, trace), work('b', 12, trace), work('c', 12, trace)]);
    expect(trace).toHaveLength(36);
    // A slice of 2 ms holds two or three units of 1 ms: the timer came within a slice or two.
    expect(timerAfterUnits).toBeLessThanOrEqual(8);
    // No caller went ahead of the others: in every window of 12 units, each worked.
    for (let i = 0; i + 12 <= 24; i++) {
      const window = new Set(trace.slice(i, i + 12));
      expect(window.size).toBe(3);
    }
  });
});
