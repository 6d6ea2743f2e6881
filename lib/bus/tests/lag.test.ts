/**
 * Consumer lag against a real nats-server: messages and age of the oldest unapplied event
 * while a view is stuck, and zero once it has caught up.
 */
import {
  deadLetterStreamName,
  deadLetterSubject,
  docKeyOf,
  docSubject,
  type MemoryEvent,
  shardFilter,
  streamName,
} from '@memmesh/core';
import { type NatsServer, startNatsServer } from '@memmesh/testkit';
import { type JetStreamClient, type JetStreamManager, jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  connectBus,
  DEFAULT_REGION_STREAM_OPTIONS,
  encodeEvent,
  ensureRegionStreams,
  startShardConsumer,
} from '../src/index.ts';

const REGION = 'lag-1';
const SHARD = 's00';
let server: NatsServer;
let nc: NatsConnection;
let js: JetStreamClient;
let jsm: JetStreamManager;

const upsert = (id: string): MemoryEvent => ({
  v: 1,
  type: 'upsert',
  tenant: 'acme',
  id,
  text: id,
  chunks: [
    { start: 0, end: id.length, vector: Buffer.from(new Float32Array([1, 0]).buffer).toString('base64') },
  ],
  metadata: {},
  scope: {},
  model: { id: 'test', dim: 2 },
  ts: 1,
  source: { region: REGION, agent: 'test' },
});

beforeAll(async () => {
  server = await startNatsServer();
  nc = await connectBus({ servers: server.url, name: 'lag-test' });
  js = jetstream(nc);
  jsm = await jetstreamManager(nc);
  await ensureRegionStreams(jsm, { region: REGION, ...DEFAULT_REGION_STREAM_OPTIONS });
});

afterAll(async () => {
  await nc?.close();
  await server?.stop();
});

describe('lag', () => {
  it('lag - a stuck view reports its unapplied messages and their age, and zero once caught up', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const consumer = await startShardConsumer(js, jsm, {
      stream: streamName(REGION),
      deadLetterStream: deadLetterStreamName(REGION),
      deadLetterSubject: deadLetterSubject(REGION, SHARD),
      filterSubject: shardFilter(REGION, SHARD),
      consumerName: 'lag-test',
      appliedSeq: 0,
      apply: () => gate,
    });
    try {
      expect(await consumer.lag()).toEqual({ messages: 0, seconds: 0 });
      let last = 0;
      for (const id of ['a', 'b', 'c']) {
        const subject = docSubject(REGION, SHARD, 'acme', docKeyOf('acme', id));
        last = (await js.publish(subject, encodeEvent(upsert(id)))).seq;
      }
      await new Promise((r) => setTimeout(r, 300));
      const stuck = await consumer.lag();
      expect(stuck.messages).toBe(3);
      expect(stuck.seconds).toBeGreaterThanOrEqual(0.25);
      expect(stuck.seconds).toBeLessThan(10);
      release();
      expect(await consumer.waitApplied(last, 10_000)).toBe(true);
      // The ack of the last message follows its apply.
      await new Promise((r) => setTimeout(r, 100));
      expect(await consumer.lag()).toEqual({ messages: 0, seconds: 0 });
    } finally {
      release();
      await consumer.stop();
    }
  });
});
