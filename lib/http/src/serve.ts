/**
 * @module serve
 * Serving an app on a socket for the entry points (main.ts of the agent and the gateway):
 * listen, log one `listening` line with the URL (the local mesh and the tests wait for it),
 * and on SIGTERM/SIGINT close without dropping the requests in flight, then close the service.
 * The socket has limits of its own, so that slow or numerous clients cannot hold a service:
 * headers and whole requests must arrive in time, idle connections close, and connections past
 * the cap are refused.
 */
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { isMeshError } from '@memmesh/core';
import type { Logger } from '@memmesh/telemetry';
import { shutDownOnSignals } from './shutdown.ts';

export interface HttpServerLimits {
  /** A request's headers must all arrive within this; a slow-header client is cut off. */
  headersTimeoutMs: number;
  /** A whole request, body included, must arrive within this; a slow-body client is cut off. */
  requestTimeoutMs: number;
  /** An idle keep-alive connection is closed after this. */
  keepAliveTimeoutMs: number;
  /** Connections held at once; one more is closed as soon as it is accepted. */
  connectionsMax: number;
}

/**
 * Headers come in one packet from any real client; a request body is at most a few MiB (the
 * batch limit), which takes seconds even on a slow link; receiving, not answering, is timed,
 * so a `?wait=true` write that waits for its index is not cut off.
 */
export const DEFAULT_HTTP_SERVER_LIMITS: HttpServerLimits = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  connectionsMax: 4_096,
};

/** How often Node looks for requests past their timeouts (its default, 30 s, would let them run long). */
const TIMEOUT_CHECK_MS_MAX = 1_000;

export interface ServeOptions {
  fetch: (request: Request) => Response | Promise<Response>;
  host: string;
  port: number;
  log: Logger;
  /** Fields of the `listening` line besides the URL. */
  fields?: () => Record<string, unknown>;
  limits?: HttpServerLimits;
}

export interface Served {
  /** The port once listening (useful with port 0). */
  readonly listening: Promise<number>;
  /** Stops accepting connections; resolves once the requests in flight have been answered. */
  close(): Promise<void>;
}

export function serveApp(options: ServeOptions): Served {
  const { host, log } = options;
  const limits = options.limits ?? DEFAULT_HTTP_SERVER_LIMITS;
  let listened: (port: number) => void = () => undefined;
  const listening = new Promise<number>((resolve) => {
    listened = resolve;
  });
  const serverOptions = {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    connectionsCheckingInterval: Math.min(TIMEOUT_CHECK_MS_MAX, limits.headersTimeoutMs),
  };
  const server = serve(
    { fetch: options.fetch, hostname: host, port: options.port, serverOptions },
    (info) => {
      log.info('listening', { url: `http://${host}:${info.port}`, ...options.fields?.() });
      listened(info.port);
    },
  ) as Server;
  server.maxConnections = limits.connectionsMax;
  return {
    listening,
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
