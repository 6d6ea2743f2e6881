/**
 * @module event-loop
 * Cooperative yielding for synchronous work on the event loop that also serves requests
 * (applying events, adding vectors to HNSW graphs). One clock for the whole process: the
 * shards' consumers apply side by side, and each taking its own slice in the same turn of the
 * loop would add up to a slice per shard before a waiting request is read.
 *
 * Waiters are let go one per turn of the loop, in the order they asked. When each waiter
 * resumed on its own `setImmediate`, all of those queued in one turn resumed in that same
 * turn's check phase, each restarting the clock and running its own slice: with a batch of
 * documents applied side by side that was 50-80 slices (100-165 ms in a profile) with no
 * request read in between, which is what a quiet tenant's p99 felt of another tenant's flood.
 */

/**
 * The longest run of such work before the loop gets a turn. A search takes several turns
 * (its embedding, its shards, read-repair's reads), and each may wait for one slice: with
 * 2 ms, a quiet tenant's p90 rose by ~5 ms while another tenant's batch was indexed.
 */
export const EVENT_LOOP_SLICE_MS_MAX = 1;

let sliceStartMs = performance.now();
/** Callers that spent the slice, oldest first: each resumes on a turn of its own. */
const waiting: Array<() => void> = [];
let releaseScheduled = false;

/**
 * Gives the event loop a turn when the current slice has run `sliceMsMax` or longer, else
 * resolves at once: the slice belongs to whoever runs in it, since a turn per small unit of
 * work (one vector, one event) made applying many times slower: a re-index's new views fell
 * more than 30 s behind their log.
 */
export async function yieldIfSliceSpent(sliceMsMax = EVENT_LOOP_SLICE_MS_MAX): Promise<void> {
  if (performance.now() - sliceStartMs < sliceMsMax) return;
  await new Promise<void>((resolve) => {
    waiting.push(resolve);
    scheduleRelease();
  });
}

function scheduleRelease(): void {
  if (releaseScheduled) return;
  releaseScheduled = true;
  setImmediate(releaseOne);
}

/** A new slice for the oldest waiter; the next one waits for the next turn (and its I/O). */
function releaseOne(): void {
  releaseScheduled = false;
  const next = waiting.shift();
  sliceStartMs = performance.now();
  if (waiting.length > 0) scheduleRelease();
  next?.();
}
