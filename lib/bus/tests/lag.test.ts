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
import { describe, expect, it } from 'vitest';
import { encodeEvent, startShardConsumer } from '../src/index.ts';
import { testUpsert, useTestBus } from './test-bus.ts';

const REGION = 'lag-1';
const SHARD = 's00';
const bus = useTestBus({ region: REGION, name: 'lag-test' });

const upsert = (id: string): MemoryEvent => testUpsert({ region: REGION, tenant: 'acme', id, text: id });

describe('lag', () => {
  it('lag - a stuck view reports its unapplied messages and their age, and zero once caught up', async () => {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const consumer = await startShardConsumer(bus.js, bus.jsm, {
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
        last = (await bus.js.publish(subject, encodeEvent(upsert(id)))).seq;
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
