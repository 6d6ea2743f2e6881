/**
 * @module event-loop
 * Cooperative yielding for synchronous work on the event loop that also serves requests
 * (applying events, adding vectors to HNSW graphs). One clock for the whole process: the
 * shards' consumers apply side by side, and each taking its own slice in the same turn of the
 * loop would add up to a slice per shard before a waiting request is read.
 */

/** The longest run of such work before the loop gets a turn. */
export const EVENT_LOOP_SLICE_MS_MAX = 2;

let sliceStartMs = performance.now();
/** Callers waiting for a turn, first come first served. */
const waiting: Array<() => void> = [];
let turnScheduled = false;

/** One turn of the loop: a fresh slice for the caller that has waited longest. */
function takeTurn(): void {
  turnScheduled = false;
  sliceStartMs = performance.now();
  waiting.shift()?.();
  if (waiting.length > 0) scheduleTurn();
}

function scheduleTurn(): void {
  if (turnScheduled) return;
  turnScheduled = true;
  // Scheduled from a turn, it runs in the next one: after the loop has read its sockets.
  setImmediate(takeTurn);
}

/**
 * Gives the event loop a turn when the current slice has run `sliceMsMax` or longer, else
 * resolves at once: a turn per small unit of work would halve throughput for nothing.
 *
 * One caller resumes per turn, in the order they yielded: callers waiting together would
 * otherwise all resume in the same turn, each with a slice of its own (with four shards
 * applying, four slices between two reads of the sockets), and the one that yielded first
 * would always go first again, leaving the other shards behind.
 */
export async function yieldIfSliceSpent(sliceMsMax = EVENT_LOOP_SLICE_MS_MAX): Promise<void> {
  if (performance.now() - sliceStartMs < sliceMsMax) return;
  await new Promise<void>((resolve) => {
    waiting.push(resolve);
    scheduleTurn();
  });
}
