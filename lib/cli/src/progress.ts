/**
 * @module progress
 * The import's progress bar: cli-progress (a maintained, widely used bar with ETA and no
 * native parts) drawn on stderr, so that stdout stays the command's answer. It is drawn
 * only when stderr is a terminal and the command is not run with `--json`; otherwise every
 * call is a no-op, so scripts and logs never get control characters.
 */
import cliProgress from 'cli-progress';

export interface Progress {
  start(total: number, done: number): void;
  update(done: number): void;
  stop(): void;
}

/** Redraws at most this often: enough to look live, little work for a fast import. */
const PROGRESS_FPS = 10;
/** Updates the ETA averages over (at least a few batches). */
const PROGRESS_ETA_UPDATES = 50;

const NO_PROGRESS: Progress = { start() {}, update() {}, stop() {} };

export function createProgress(stream: NodeJS.WriteStream | undefined, enabled: boolean): Progress {
  if (!enabled || !stream?.isTTY) return NO_PROGRESS;
  const bar = new cliProgress.SingleBar(
    {
      stream,
      fps: PROGRESS_FPS,
      etaBuffer: PROGRESS_ETA_UPDATES,
      hideCursor: true,
      clearOnComplete: false,
      format: 'importing {bar} {percentage}% | {value}/{total} memories | {rate}/s | ETA {eta_formatted}',
    },
    cliProgress.Presets.shades_classic,
  );
  let startedMs = 0;
  let startedAt = 0;
  // The rate of this run (memories stored since it started, per second), not counting what a
  // resumed run skipped.
  const rate = (done: number) => {
    const seconds = (Date.now() - startedMs) / 1_000;
    return seconds > 0 ? Math.round((done - startedAt) / seconds) : 0;
  };
  return {
    start(total, done) {
      startedMs = Date.now();
      startedAt = done;
      bar.start(total, done, { rate: 0 });
    },
    update(done) {
      bar.update(done, { rate: rate(done) });
    },
    stop() {
      bar.stop();
    },
  };
}
