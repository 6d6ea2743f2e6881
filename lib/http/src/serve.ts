/**
 * @module serve
 * Serving an app on a socket for the entry points (main.ts of the agent and the gateway):
 * listen, log one `listening` line with the URL (the local mesh and the tests wait for it),
 * and on SIGTERM/SIGINT close without dropping the requests in flight, then close the service.
 */
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { isMeshError } from '@memmesh/core';
import type { Logger } from '@memmesh/telemetry';
import { shutDownOnSignals } from './shutdown.ts';

export interface ServeOptions {
  fetch: (request: Request) => Response | Promise<Response>;
  host: string;
  port: number;
  log: Logger;
  /** Fields of the `listening` line besides the URL. */
  fields?: () => Record<string, unknown>;
}

export interface Served {
  /** Stops accepting connections; resolves once the requests in flight have been answered. */
  close(): Promise<void>;
}

export function serveApp(options: ServeOptions): Served {
  const { host, log } = options;
  const server = serve({ fetch: options.fetch, hostname: host, port: options.port }, (info) => {
    log.info('listening', { url: `http://${host}:${info.port}`, ...options.fields?.() });
  }) as Server;
  return {
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

export interface ServeUntilSignalledOptions extends ServeOptions {
  /** Longest graceful shutdown; past it the process exits 1 (shutdown.ts). */
  shutdownTimeoutMs: number;
  /** Closes what the service opened, once the socket is closed and its requests answered. */
  close: () => Promise<void>;
  /** Sends the spans still buffered; tracing is off by default. */
  flushTraces?: (() => Promise<void>) | undefined;
}

/** Serves until SIGTERM or SIGINT, then shuts down gracefully: the entry points' last step. */
export function serveUntilSignalled(options: ServeUntilSignalledOptions): void {
  const served = serveApp(options);
  shutDownOnSignals({
    log: options.log,
    timeoutMs: options.shutdownTimeoutMs,
    async stop() {
      await served.close();
      await options.close();
    },
    flushTraces: options.flushTraces,
  });
}

/**
 * The configuration `read` returns, or exit 2 with its message on stderr: a bad setting stops
 * the start with the name of its variable, never a stack trace.
 */
export function configOrExit<T>(service: string, read: () => T): T {
  try {
    return read();
  } catch (err) {
    process.stderr.write(`${service}: ${isMeshError(err) ? err.message : String(err)}\n`);
    process.exit(2);
  }
}
