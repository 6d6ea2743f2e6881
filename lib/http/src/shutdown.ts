/**
 * @module shutdown
 * Graceful shutdown on SIGTERM/SIGINT for the entry points (the agent's and the gateway's
 * main.ts): run `stop` once, bounded by `timeoutMs` (after which the process exits 1 rather
 * than hang a rolling update), flush the last spans, and exit 0.
 */
import type { Logger } from '@memmesh/telemetry';

export interface ShutdownOptions {
  log: Logger;
  timeoutMs: number;
  /** Stops accepting work and closes what the process opened. */
  stop: () => Promise<void>;
  /** Sends the spans still buffered; optional, as tracing is off by default. */
  flushTraces?: (() => Promise<void>) | undefined;
}

export function shutDownOnSignals({ log, timeoutMs, stop, flushTraces }: ShutdownOptions): void {
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { signal });
    const timer = setTimeout(() => {
      log.error('shutdown timed out; exiting', { timeoutMs });
      process.exit(1);
    }, timeoutMs);
    await stop();
    await flushTraces?.().catch(() => undefined);
    clearTimeout(timer);
    log.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
}
