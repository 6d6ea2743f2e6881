/**
 * @module serve
 * Serving an app on a socket for the entry points (main.ts of the agent and the gateway):
 * listen, log one `listening` line with the URL (the local mesh and the tests wait for it),
 * and close without dropping the requests in flight.
 */
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import type { Logger } from '@memmesh/telemetry';

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
