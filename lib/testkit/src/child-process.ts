/**
 * @module child-process
 * Process handling shared by every server the test kit starts: keeping the tail of a
 * child's output for error messages, stopping a child within a bounded grace period, and
 * killing what is left when the test process exits.
 */
import type { ChildProcess } from 'node:child_process';

/** How long a child may take to exit after SIGTERM before it is killed. */
export const STOP_GRACE_MS = 5_000;
/** Enough of a server's log to show why it failed, without keeping a busy server's whole log. */
export const OUTPUT_TAIL_CHARS_MAX = 4_096;

/**
 * Keeps the last `charsMax` characters the child writes to its piped streams; the returned
 * function reads them. Only the tail matters: a server that fails says why at the end.
 */
export function keepOutputTail(child: ChildProcess, charsMax = OUTPUT_TAIL_CHARS_MAX): () => string {
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-charsMax);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  return () => tail;
}

/** Children still running; killed when this process exits. */
const live = new Set<ChildProcess>();
let exitHookInstalled = false;

/**
 * Registers a server child so that it dies with the test process. A test run that crashes
 * (an uncaught error, process.exit) would otherwise leave servers holding ports and stores,
 * reparented to init. Only synchronous work runs on 'exit', hence the plain SIGKILL; a process
 * killed by a signal runs no hook at all, so this is a safety net, not a replacement for stop().
 */
export function killOnExit(child: ChildProcess): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', killLive);
  }
  live.add(child);
  child.once('exit', () => live.delete(child));
}

function killLive(): void {
  for (const child of live) child.kill('SIGKILL');
}

/** Whether the child is gone (exited or killed by a signal); such a child emits no more 'exit'. */
export function hasExited(child: ChildProcess): boolean {
  return child.exitCode !== null || child.signalCode !== null;
}

/**
 * Sends `signal` and resolves once the child has exited; a child that ignores SIGTERM gets
 * SIGKILL after `graceMs`, so a stop never hangs a test run.
 */
export async function terminate(
  child: ChildProcess,
  signal: NodeJS.Signals,
  graceMs = STOP_GRACE_MS,
): Promise<void> {
  if (hasExited(child)) return;
  // A child that never spawned (missing binary) has no pid and will never emit 'exit'.
  if (child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}
