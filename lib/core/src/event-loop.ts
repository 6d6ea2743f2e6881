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

/**
 * Gives the event loop a turn when the current slice has run `sliceMsMax` or longer, else
 * resolves at once: a turn per small unit of work would halve throughput for nothing.
 */
export async function yieldIfSliceSpent(sliceMsMax = EVENT_LOOP_SLICE_MS_MAX): Promise<void> {
  if (performance.now() - sliceStartMs < sliceMsMax) return;
  await new Promise<void>((resolve) => setImmediate(resolve));
  sliceStartMs = performance.now();
}
