/**
 * @module test-bus
 * The setup that the bus's integration tests share: one real nats-server per test file (on a
 * random port, with a temporary store, torn down after the file), a connection, JetStream
 * handles and the region's streams; and the upsert event the tests publish.
 */
import type { MemoryEvent } from '@memmesh/core';
import { type NatsServer, startNatsServer } from '@memmesh/testkit';
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll } from 'vitest';
import { connectBus, DEFAULT_REGION_STREAM_OPTIONS, ensureRegionStreams } from '../src/index.ts';

export interface TestBus {
  readonly server: NatsServer;
  readonly nc: NatsConnection;
  readonly js: JetStreamClient;
  readonly jsm: JetStreamManager;
}

export interface TestBusOptions {
  /** The region whose streams are created; more can be created by the tests. */
  region: string;
  /** The connection's name, as the server's monitoring shows it. */
  name: string;
}

/**
 * Registers the file's beforeAll and afterAll and returns the bus they set up. Its fields
 * may be read inside tests and hooks only; read earlier, they throw.
 */
export function useTestBus(options: TestBusOptions): TestBus {
  let started: TestBus | undefined;
  beforeAll(async () => {
    const server = await startNatsServer();
    const nc = await connectBus({ servers: server.url, name: options.name });
    const jsm = await jetstreamManager(nc);
    started = { server, nc, js: jetstream(nc), jsm };
    await ensureRegionStreams(jsm, { region: options.region, ...DEFAULT_REGION_STREAM_OPTIONS });
  });
  afterAll(async () => {
    await started?.nc.close();
    await started?.server.stop();
  });
  const get = (): TestBus => {
    if (!started) throw new Error('useTestBus: the bus is started in beforeAll; read it inside a test');
    return started;
  };
  return {
    get server() {
      return get().server;
    },
    get nc() {
      return get().nc;
    },
    get js() {
      return get().js;
    },
    get jsm() {
      return get().jsm;
    },
  };
}

export interface TestUpsert {
  region: string;
  tenant: string;
  id: string;
  text: string;
}

/** A valid upsert with one chunk over the whole text and a 2-dimensional vector. */
export function testUpsert({ region, tenant, id, text }: TestUpsert): MemoryEvent {
  return {
    v: 1,
    type: 'upsert',
    tenant,
    id,
    text,
    chunks: [
      { start: 0, end: text.length, vector: Buffer.from(new Float32Array([1, 0]).buffer).toString('base64') },
    ],
    metadata: {},
    scope: {},
    model: { id: 'test', dim: 2 },
    ts: 1,
    source: { region, agent: 'test' },
  };
}
