/**
 * @module auth-throttle
 * Throttling of failed authentication, the same in the agents and the gateway: past
 * `failuresMax` failed attempts in `windowMs` from one source address, or with one presented
 * key prefix (its first KEY_PREFIX_CHARS characters, so that guessing at one key is slowed
 * even from many addresses), further attempts from that source or with that prefix are
 * answered 429 with Retry-After until the window ends, without the key being looked up.
 * Only presented keys that fail count (unknown, expired, revoked, a wrong admin key); a
 * request without a key guesses nothing. A success clears nothing: another source's count is
 * not its business, and an attacker holding one good key must not reset its own count.
 *
 * The source is the socket's peer address. Behind a load balancer that is the balancer, so
 * every client would share one count: set `trustedProxyHops` to the number of proxies in
 * front (each appends the address it saw to X-Forwarded-For), and the address the outermost
 * trusted proxy saw is used. It is 0 (off) by default, since without trusted proxies
 * X-Forwarded-For is whatever the client wrote.
 *
 * Memory is bounded: each table (sources, prefixes) keeps at most `entriesMax` entries and
 * forgets the least recently failed first.
 */
import { ErrorCode, MeshError } from '@memmesh/core';
import type { Context } from 'hono';
import { z } from 'zod';

/** Characters of a presented key that name its prefix bucket. */
export const KEY_PREFIX_CHARS = 8;
/** The source of a request that came from no socket (`app.request()` in tests). */
export const UNKNOWN_SOURCE = 'unknown';

export interface AuthThrottleOptions {
  /** Failed attempts allowed per window, per source and per key prefix. */
  failuresMax: number;
  windowMs: number;
  /** Sources (and, separately, prefixes) tracked at once. */
  entriesMax: number;
  now?: () => number;
}

export interface AuthThrottle {
  /**
   * Runs `authenticate` unless the source or the key's prefix is over its failures (then
   * `rate_limited` with the wait), and counts its `unauthorized` failure against both.
   */
  attempt<T>(source: string, key: string | undefined, authenticate: () => Promise<T>): Promise<T>;
}

interface Window {
  startMs: number;
  failures: number;
}

export function createAuthThrottle(options: AuthThrottleOptions): AuthThrottle {
  const now = options.now ?? Date.now;
  const sources = boundedWindows(options.entriesMax);
  const prefixes = boundedWindows(options.entriesMax);
  const current = (windows: Map<string, Window>, id: string, t: number) => {
    const found = windows.get(id);
    return found && t - found.startMs < options.windowMs ? found : undefined;
  };
  const refuse = (what: string, window: Window, t: number) =>
    new MeshError(
      ErrorCode.RateLimited,
      `too many failed authentications ${what}: more than ${options.failuresMax} in ${options.windowMs / 1000} s`,
      { retryAfterMs: window.startMs + options.windowMs - t },
    );
  const count = (windows: Map<string, Window>, id: string, t: number) => {
    const window = current(windows, id, t) ?? { startMs: t, failures: 0 };
    window.failures += 1;
    // Re-inserted, so that the map's order is least recently failed first.
    windows.delete(id);
    windows.set(id, window);
    if (windows.size > options.entriesMax) windows.delete(windows.keys().next().value as string);
  };
  return {
    async attempt(source, key, authenticate) {
      const t = now();
      const prefix = key?.slice(0, KEY_PREFIX_CHARS);
      const bySource = current(sources, source, t);
      if (bySource && bySource.failures >= options.failuresMax)
        throw refuse('from this address', bySource, t);
      const byPrefix = prefix === undefined ? undefined : current(prefixes, prefix, t);
      if (byPrefix && byPrefix.failures >= options.failuresMax) throw refuse('with this key', byPrefix, t);
      try {
        return await authenticate();
      } catch (err) {
        if (key !== undefined && err instanceof MeshError && err.code === ErrorCode.Unauthorized) {
          count(sources, source, t);
          if (prefix !== undefined) count(prefixes, prefix, t);
        }
        throw err;
      }
    },
  };
}

function boundedWindows(entriesMax: number): Map<string, Window> {
  if (!Number.isInteger(entriesMax) || entriesMax < 1)
    throw new Error('entriesMax must be a positive integer');
  return new Map();
}

/**
 * The address a request came from: the socket's peer, or with `trustedProxyHops` > 0 the
 * entry of X-Forwarded-For that the outermost trusted proxy appended (the peer when the
 * header has fewer entries than proxies, so that a request that bypassed them is still counted).
 */
export function sourceAddressOf(c: Context, trustedProxyHops: number): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined;
  const peer = env?.incoming?.socket?.remoteAddress ?? UNKNOWN_SOURCE;
  if (trustedProxyHops === 0) return peer;
  const forwarded = (c.req.header('x-forwarded-for') ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  return forwarded[forwarded.length - trustedProxyHops] ?? peer;
}

/** The throttle's settings as configuration, spread into both services' config schemas. */
const FIELDS = {
  authFailuresMax: z.number().int().min(1).max(1_000_000),
  authFailureWindowMs: z.number().int().min(1_000).max(86_400_000),
  authThrottleEntriesMax: z.number().int().min(100).max(10_000_000),
  httpTrustedProxyHops: z.number().int().min(0).max(10),
};

export type AuthThrottleConfig = { [K in keyof typeof FIELDS]: number };

/**
 * Ten failures a minute: more than a person mistyping or a client with a stale key makes,
 * far too few to guess a key. 10 000 entries: about a megabyte.
 */
const DEFAULTS: AuthThrottleConfig = {
  authFailuresMax: 10,
  authFailureWindowMs: 60_000,
  authThrottleEntriesMax: 10_000,
  httpTrustedProxyHops: 0,
};

const ENV_NAMES = {
  authFailuresMax: 'MEMMESH_AUTH_FAILURES_MAX',
  authFailureWindowMs: 'MEMMESH_AUTH_FAILURE_WINDOW_MS',
  authThrottleEntriesMax: 'MEMMESH_AUTH_THROTTLE_ENTRIES_MAX',
  httpTrustedProxyHops: 'MEMMESH_HTTP_TRUSTED_PROXY_HOPS',
} as const satisfies Record<keyof AuthThrottleConfig, string>;

/** What a service config spreads in: `...fields`, `...defaults`, `...envNames`. */
export const AUTH_THROTTLE_CONFIG = { fields: FIELDS, defaults: DEFAULTS, envNames: ENV_NAMES } as const;

export function authThrottleOf(config: AuthThrottleConfig): AuthThrottle {
  return createAuthThrottle({
    failuresMax: config.authFailuresMax,
    windowMs: config.authFailureWindowMs,
    entriesMax: config.authThrottleEntriesMax,
  });
}
