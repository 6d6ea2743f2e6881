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
 *
 * A burst of such work (one tenant's batch: a second or so) gets the caller's short slice,
 * so that the requests of everyone else wait for little. A backlog that lasts (work asking
 * for turns for LASTING_BACKLOG_MS, 5 s, no pause over 1 s: a view catching up with its log) gets slices as
 * long as the rest of the loop ran since the last one ended, at most SLICE_MS_CEILING, so
 * about half of a busy loop: with 1 ms per turn whatever the backlog, a loop busy with
 * 10 ms of requests per turn left applying a tenth of it, and a re-index's new views fell
 * more than 30 s behind their log. Longer slices for every burst cost a flooded quiet
 * tenant's p99 ~10 ms.
 */

/**
 * The shortest slice of such work before the loop gets a turn. A search takes several turns
 * (its embedding, its shards, read-repair's reads), and each may wait for one slice: with
 * 2 ms, a quiet tenant's p90 rose by ~5 ms while another tenant's batch was indexed.
 */
export const EVENT_LOOP_SLICE_MS_MAX = 1;
/** The longest a slice may grow to on a busy loop, for a lasting backlog. */
const SLICE_MS_CEILING = 6;
/** A backlog lasts once work has asked for turns without a pause for this long. */
const LASTING_BACKLOG_MS = 5_000;
/** A pause this long between two requests for a turn ends a backlog. */
const BACKLOG_PAUSE_MS = 1_000;

let sliceStartMs = performance.now();
/** How long the current slice may run beyond the caller's own minimum. */
let sliceBudgetMs = 0;
/** When the last slice was found spent: the loop's other work runs from then on. */
let sliceEndedMs = performance.now();
let sliceOpen = true;
/** Callers that spent the slice, oldest first: each resumes on a turn of its own. */
const waiting: Array<() => void> = [];
let releaseScheduled = false;
/** When work last asked for a turn, and since when it has asked without a pause. */
let askedMs = Number.NEGATIVE_INFINITY;
let backlogSinceMs = 0;

/**
 * Gives the event loop a turn when the current slice is spent, else resolves at once: the
 * slice belongs to whoever runs in it, since a turn per small unit of work (one vector, one
 * event) would make applying many times slower for nothing.
 */
export async function yieldIfSliceSpent(sliceMsMax = EVENT_LOOP_SLICE_MS_MAX): Promise<void> {
  const now = performance.now();
  if (now - sliceStartMs < Math.max(sliceMsMax, sliceBudgetMs)) return;
  if (sliceOpen) {
    sliceOpen = false;
    sliceEndedMs = now;
  }
  if (now - askedMs > BACKLOG_PAUSE_MS) backlogSinceMs = now;
  askedMs = now;
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
  const lasting = sliceStartMs - backlogSinceMs >= LASTING_BACKLOG_MS;
  sliceBudgetMs = lasting ? Math.min(SLICE_MS_CEILING, sliceStartMs - sliceEndedMs) : 0;
  sliceOpen = true;
  if (waiting.length > 0) scheduleRelease();
  next?.();
}
