import { describe, expect, it } from 'vitest';
import { yieldIfSliceSpent } from './event-loop.ts';

/** Counts turns of the event loop: one increment per check phase, until stopped. */
function turnCounter() {
  let turn = 0;
  let running = true;
  const tick = () => {
    turn++;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    get turn() {
      return turn;
    },
    stop() {
      running = false;
    },
  };
}

describe('yieldIfSliceSpent', () => {
  it('lets one waiter go per turn of the loop, however many wait, in the order they asked', async () => {
    const turns = turnCounter();
    const resumed: Array<{ worker: number; turn: number }> = [];
    // Every slice is as short as it gets (0 ms and an idle loop): each waiter waits for a turn of its own.
    const worker = async (w: number) => {
      for (let step = 0; step < 5; step++) {
        await yieldIfSliceSpent(0);
        resumed.push({ worker: w, turn: turns.turn });
      }
    };
    await Promise.all(Array.from({ length: 20 }, (_, w) => worker(w)));
    turns.stop();
    expect(resumed).toHaveLength(100);
    // A waiter may go on for a few steps in its slice, but no other waiter runs in that turn.
    const perTurn = new Map<number, Set<number>>();
    for (const { worker, turn } of resumed) perTurn.set(turn, (perTurn.get(turn) ?? new Set()).add(worker));
    expect(Math.max(...[...perTurn.values()].map((workers) => workers.size))).toBe(1);
    // In the order they asked: the first to resume are workers 0..19, in order.
    const firstOf = [...new Set(resumed.map((r) => r.worker))];
    expect(firstOf).toEqual(Array.from({ length: 20 }, (_, w) => w));
  });

  it('resolves at once while the slice lasts and nobody waits', async () => {
    const turns = turnCounter();
    await yieldIfSliceSpent(0); // a fresh slice starts here
    const before = turns.turn;
    for (let i = 0; i < 10; i++) await yieldIfSliceSpent(60_000);
    expect(turns.turn).toBe(before);
    turns.stop();
  });

  it('gives a lasting backlog longer slices on a busy loop, and a burst short ones', async () => {
    const busy = (ms: number) => {
      const until = performance.now() + ms;
      while (performance.now() < until);
    };
    // The rest of the loop: 4 ms of other work every turn, for as long as the backlog runs.
    let running = true;
    const other = () => {
      busy(4);
      if (running) setImmediate(other);
    };
    setImmediate(other);
    // The backlog: steps of 0.2 ms, asking for turns without a pause, for 6.5 s. A slice is
    // measured from a resume to the wait that ends it.
    const slices: Array<{ at: number; ms: number }> = [];
    const started = performance.now();
    let sliceStart = performance.now();
    while (performance.now() - started < 6_500) {
      const before = performance.now();
      await yieldIfSliceSpent();
      if (performance.now() - before > 0.5) {
        slices.push({ at: before - started, ms: before - sliceStart });
        sliceStart = performance.now();
      }
      busy(0.2);
    }
    running = false;
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
    const early = slices.filter((s) => s.at > 200 && s.at < 4_500).map((s) => s.ms);
    const late = slices.filter((s) => s.at > 5_500).map((s) => s.ms);
    expect(early.length).toBeGreaterThan(10);
    expect(late.length).toBeGreaterThan(10);
    // A burst: the 1 ms slice (and one step past it). Lasting: as long as the other work, 4 ms.
    expect(median(early)).toBeLessThan(2);
    expect(median(late)).toBeGreaterThan(3);
  }, 30_000);
});
