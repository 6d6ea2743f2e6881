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
    // Every call spends its slice (0 ms): each must wait for a turn of its own.
    const worker = async (w: number) => {
      for (let step = 0; step < 5; step++) {
        await yieldIfSliceSpent(0);
        resumed.push({ worker: w, turn: turns.turn });
      }
    };
    await Promise.all(Array.from({ length: 20 }, (_, w) => worker(w)));
    turns.stop();
    expect(resumed).toHaveLength(100);
    const perTurn = new Map<number, number>();
    for (const { turn } of resumed) perTurn.set(turn, (perTurn.get(turn) ?? 0) + 1);
    expect(Math.max(...perTurn.values())).toBe(1);
    // Round robin: the first round is workers 0..19 in order, and so is every later one.
    expect(resumed.slice(0, 20).map((r) => r.worker)).toEqual(Array.from({ length: 20 }, (_, w) => w));
  });

  it('resolves at once while the slice lasts and nobody waits', async () => {
    const turns = turnCounter();
    await yieldIfSliceSpent(0); // a fresh slice starts here
    const before = turns.turn;
    for (let i = 0; i < 10; i++) await yieldIfSliceSpent(60_000);
    expect(turns.turn).toBe(before);
    turns.stop();
  });
});
