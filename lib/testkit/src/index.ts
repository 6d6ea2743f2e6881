/**
 * @module @memmesh/testkit
 * Real servers for tests, on random loopback ports with temporary directories. Private to
 * the repository: nothing in production imports it.
 */
export {
  DEFAULT_START_TIMEOUT_MS,
  type NatsServer,
  type NatsServerOptions,
  natsServerBin,
  startNatsServer,
} from './nats-server.ts';
