/**
 * @module server-config
 * The socket limits as configuration, the same in both services: the fields, their defaults
 * and their environment variables, spread into each service's own config schema, and the
 * mapping to what `serveApp` takes.
 */
import { z } from 'zod';
import { DEFAULT_HTTP_SERVER_LIMITS, type HttpServerLimits } from './serve.ts';

/** The fields of a service config that set its socket's limits (lib/http serve.ts). */
const FIELDS = {
  httpHeadersTimeoutMs: z.number().int().min(100).max(600_000),
  httpRequestTimeoutMs: z.number().int().min(100).max(3_600_000),
  httpKeepAliveTimeoutMs: z.number().int().min(100).max(600_000),
  httpConnectionsMax: z.number().int().min(1).max(1_000_000),
};

export type HttpServerConfig = { [K in keyof typeof FIELDS]: number };

const DEFAULTS: HttpServerConfig = {
  httpHeadersTimeoutMs: DEFAULT_HTTP_SERVER_LIMITS.headersTimeoutMs,
  httpRequestTimeoutMs: DEFAULT_HTTP_SERVER_LIMITS.requestTimeoutMs,
  httpKeepAliveTimeoutMs: DEFAULT_HTTP_SERVER_LIMITS.keepAliveTimeoutMs,
  httpConnectionsMax: DEFAULT_HTTP_SERVER_LIMITS.connectionsMax,
};

const ENV_NAMES = {
  httpHeadersTimeoutMs: 'MEMMESH_HTTP_HEADERS_TIMEOUT_MS',
  httpRequestTimeoutMs: 'MEMMESH_HTTP_REQUEST_TIMEOUT_MS',
  httpKeepAliveTimeoutMs: 'MEMMESH_HTTP_KEEP_ALIVE_TIMEOUT_MS',
  httpConnectionsMax: 'MEMMESH_HTTP_CONNECTIONS_MAX',
} as const satisfies Record<keyof HttpServerConfig, string>;

/** Node refuses a headers timeout longer than the whole request's: for the schemas' `refine`. */
const TIMEOUTS_AGREE: [(c: HttpServerConfig) => boolean, { path: string[]; message: string }] = [
  (c) => c.httpHeadersTimeoutMs <= c.httpRequestTimeoutMs,
  { path: ['httpHeadersTimeoutMs'], message: 'must not be longer than httpRequestTimeoutMs' },
];

/**
 * What a service config spreads in: `...fields` into its schema, `.refine(...timeoutsAgree)`
 * after it, `...defaults` into its defaults and `...envNames` into its variable names.
 */
export const HTTP_SERVER_CONFIG = {
  fields: FIELDS,
  defaults: DEFAULTS,
  envNames: ENV_NAMES,
  timeoutsAgree: TIMEOUTS_AGREE,
} as const;

export function httpLimitsOf(config: HttpServerConfig): HttpServerLimits {
  return {
    headersTimeoutMs: config.httpHeadersTimeoutMs,
    requestTimeoutMs: config.httpRequestTimeoutMs,
    keepAliveTimeoutMs: config.httpKeepAliveTimeoutMs,
    connectionsMax: config.httpConnectionsMax,
  };
}
