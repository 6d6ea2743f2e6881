/**
 * @module connection
 * The NATS connection of an agent. It reconnects forever: an agent without NATS cannot do
 * anything useful, and giving up would turn a network blip into an outage that needs a
 * restart. Requests made while disconnected fail fast with `unavailable`.
 */
import { ErrorCode, MeshError } from '@memmesh/core';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { UNAVAILABLE_RETRY_AFTER_MS } from './errors.ts';

export interface BusConnectionOptions {
  servers: string | string[];
  /** Client name, shown in the server's connection list. */
  name: string;
  connectTimeoutMs?: number;
  reconnectWaitMs?: number;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_RECONNECT_WAIT_MS = 250;

export async function connectBus(options: BusConnectionOptions): Promise<NatsConnection> {
  try {
    return await connect({
      servers: options.servers,
      name: options.name,
      timeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: options.reconnectWaitMs ?? DEFAULT_RECONNECT_WAIT_MS,
      // nats.js otherwise builds an Error (with a stack trace) for every request and publish
      // in case it times out: ~5% of the agent's CPU under load, measured with --cpu-prof.
      noAsyncTraces: true,
    });
  } catch (err) {
    throw new MeshError(ErrorCode.Unavailable, `cannot connect to NATS at ${String(options.servers)}`, {
      cause: err,
    });
  }
}

export interface ConnectionState {
  /** False from a disconnect until the next reconnect, and after close. */
  readonly connected: boolean;
  /** Throws `unavailable` (503, Retry-After) at once while disconnected. */
  ensureConnected(what: string): void;
}

/**
 * Tracks whether the connection is up. While NATS is away the client would queue requests
 * until they time out (seconds, times the retries); callers check this first so that a
 * client hears `503 Retry-After` at once instead.
 */
export function watchConnection(nc: NatsConnection): ConnectionState {
  let connected = !nc.isClosed();
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') connected = false;
      else if (status.type === 'reconnect') connected = true;
    }
  })();
  void nc.closed().then(() => {
    connected = false;
  });
  return {
    get connected() {
      return connected;
    },
    ensureConnected(what) {
      if (!connected) {
        throw new MeshError(ErrorCode.Unavailable, `${what}: NATS is not reachable`, {
          retryAfterMs: UNAVAILABLE_RETRY_AFTER_MS,
        });
      }
    },
  };
}
