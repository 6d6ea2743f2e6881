/**
 * @module connection
 * The NATS connection of an agent. It reconnects forever: an agent without NATS cannot do
 * anything useful, and giving up would turn a network blip into an outage that needs a
 * restart. Requests made while disconnected fail fast with `unavailable`.
 */
import { ErrorCode, MeshError } from '@memmesh/core';
import { connect, type NatsConnection } from '@nats-io/transport-node';

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
    });
  } catch (err) {
    throw new MeshError(ErrorCode.Unavailable, `cannot connect to NATS at ${String(options.servers)}`, {
      cause: err,
    });
  }
}
