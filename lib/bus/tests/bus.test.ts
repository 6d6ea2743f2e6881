import {
  deadLetterStreamName,
  deadLetterSubject,
  docKeyOf,
  docSubject,
  ErrorCode,
  isMeshError,
  type MemoryEvent,
  shardFilter,
  streamName,
} from '@memmesh/core';
import { describe, expect, it } from 'vitest';
import {
  type AppliedEvent,
  createPublisher,
  DEFAULT_REGION_STREAM_OPTIONS,
  type DeadLetter,
  encodeEvent,
  ensureRegionStreams,
  requestQuery,
  serveQueries,
  startShardConsumer,
} from '../src/index.ts';
import { testUpsert, useTestBus } from './test-bus.ts';

const REGION = 'test-1';
const STREAM = streamName(REGION);
const bus = useTestBus({ region: REGION, name: 'bus-test' });

const upsert = (tenant: string, id: string, text: string): MemoryEvent =>
  testUpsert({ region: REGION, tenant, id, text });

const subjectOf = (shard: string, tenant: string, id: string) =>
  docSubject(REGION, shard, tenant, docKeyOf(tenant, id));

describe('streams', () => {
  it('streams - provisioning is idempotent and spells out the settings', async () => {
    await ensureRegionStreams(bus.jsm, { region: REGION, ...DEFAULT_REGION_STREAM_OPTIONS });
    const info = await bus.jsm.streams.info(STREAM);
    expect(info.config.subjects).toEqual([`mem.${REGION}.>`]);
    expect(info.config.max_msgs_per_subject).toBe(DEFAULT_REGION_STREAM_OPTIONS.historyPerSubject);
    expect(info.config.duplicate_window).toBe(DEFAULT_REGION_STREAM_OPTIONS.duplicateWindowMs * 1_000_000);
    expect(info.config.deny_delete).toBe(true);
    expect((await bus.jsm.streams.info(deadLetterStreamName(REGION))).config.subjects).toEqual([
      `dlq.${REGION}.>`,
    ]);
  });
});

describe('publisher', () => {
  it('publisher - a retry inside the duplicate window is dropped by the server', async () => {
    const publisher = createPublisher(bus.js, bus.jsm, { stream: STREAM });
    const data = encodeEvent(upsert('acme', 'dup-1', 'hello'));
    const first = await publisher.publish({
      subject: subjectOf('s00', 'acme', 'dup-1'),
      data,
      msgId: 'm-dup-1',
    });
    const retry = await publisher.publish({
      subject: subjectOf('s00', 'acme', 'dup-1'),
      data,
      msgId: 'm-dup-1',
    });
    expect(first.duplicate).toBe(false);
    expect(retry).toEqual({ seq: first.seq, duplicate: true });
  });

  it('publisher - content A, then B, then A again is a new version, not a duplicate', async () => {
    const publisher = createPublisher(bus.js, bus.jsm, { stream: STREAM });
    const subject = subjectOf('s00', 'acme', 'aba');
    const a = { subject, data: encodeEvent(upsert('acme', 'aba', 'A')), msgId: 'aba-A' };
    const b = { subject, data: encodeEvent(upsert('acme', 'aba', 'B')), msgId: 'aba-B' };
    const v1 = await publisher.publish(a);
    const v2 = await publisher.publish(b);
    const v3 = await publisher.publish(a);
    expect(v3.duplicate).toBe(false);
    expect(v3.seq).toBeGreaterThan(v2.seq);
    expect(v2.seq).toBeGreaterThan(v1.seq);
    // A retry of that third write is now a real duplicate of it.
    expect(await publisher.publish(a)).toEqual({ seq: v3.seq, duplicate: true });
  });

  it('publisher - a stale expected version is a version conflict', async () => {
    const publisher = createPublisher(bus.js, bus.jsm, { stream: STREAM });
    const subject = subjectOf('s01', 'acme', 'occ');
    const v1 = await publisher.publish({
      subject,
      data: encodeEvent(upsert('acme', 'occ', 'one')),
      msgId: 'occ-1',
    });
    await expect(
      publisher.publish({
        subject,
        data: encodeEvent(upsert('acme', 'occ', 'two')),
        msgId: 'occ-2',
        expectLastSubjectSeq: 0,
      }),
    ).rejects.toSatisfy((err) => isMeshError(err, ErrorCode.VersionConflict));
    const v2 = await publisher.publish({
      subject,
      data: encodeEvent(upsert('acme', 'occ', 'two')),
      msgId: 'occ-2',
      expectLastSubjectSeq: v1.seq,
    });
    expect(v2.seq).toBeGreaterThan(v1.seq);
  });
});

describe('shard consumer', () => {
  it('shard consumer - poison events are dead-lettered with a reason and the shard goes on', async () => {
    const shard = 's05';
    const publisher = createPublisher(bus.js, bus.jsm, { stream: STREAM });
    const applied: AppliedEvent[] = [];
    const letters: DeadLetter[] = [];
    const consumer = await startShardConsumer(bus.js, bus.jsm, {
      stream: STREAM,
      deadLetterStream: deadLetterStreamName(REGION),
      deadLetterSubject: deadLetterSubject(REGION, shard),
      filterSubject: shardFilter(REGION, shard),
      consumerName: `bus-test-${shard}`,
      appliedSeq: 0,
      apply: async (e) => {
        if (e.event.type === 'upsert' && e.event.text === 'explode') throw new Error('cannot apply');
        applied.push(e);
      },
      onDeadLetter: (l) => letters.push(l),
      applyRetry: { attemptsMax: 10, initialDelayMs: 1, delayMsMax: 5, multiplier: 2 },
    });
    await bus.js.publish(subjectOf(shard, 'acme', 'bad-json'), new TextEncoder().encode('{not json'));
    // A valid event on another tenant's subject must not be applied either.
    await bus.js.publish(subjectOf(shard, 'globex', 'spoof'), encodeEvent(upsert('acme', 'spoof', 'x')));
    await publisher.publish({
      subject: subjectOf(shard, 'acme', 'boom'),
      data: encodeEvent(upsert('acme', 'boom', 'explode')),
      msgId: 'boom',
    });
    const good = await publisher.publish({
      subject: subjectOf(shard, 'acme', 'good'),
      data: encodeEvent(upsert('acme', 'good', 'fine')),
      msgId: 'good',
    });
    expect(await consumer.waitApplied(good.seq, 10_000)).toBe(true);
    await consumer.stop();

    expect(applied.map((a) => a.event.id)).toEqual(['good']);
    expect(letters.map((l) => l.reason)).toEqual([
      expect.stringContaining('not UTF-8 JSON'),
      expect.stringContaining('does not match subject tenant'),
      expect.stringContaining('apply failed 5 times: cannot apply'),
    ]);
    const dlq = await bus.jsm.streams.getMessage(deadLetterStreamName(REGION), {
      last_by_subj: deadLetterSubject(REGION, shard),
    });
    expect(dlq?.header.get('Memmesh-Reason')).toContain('apply failed');
    expect(dlq?.header.get('Memmesh-Original-Subject')).toBe(subjectOf(shard, 'acme', 'boom'));
  });

  it('shard consumer - restarts after its stored position and applies only what follows', async () => {
    const shard = 's06';
    const publisher = createPublisher(bus.js, bus.jsm, { stream: STREAM });
    const seqs: number[] = [];
    for (const id of ['r1', 'r2', 'r3']) {
      const r = await publisher.publish({
        subject: subjectOf(shard, 'acme', id),
        data: encodeEvent(upsert('acme', id, id)),
        msgId: `restart-${id}`,
      });
      seqs.push(r.seq);
    }
    const seen: string[] = [];
    const options = {
      stream: STREAM,
      deadLetterStream: deadLetterStreamName(REGION),
      deadLetterSubject: deadLetterSubject(REGION, shard),
      filterSubject: shardFilter(REGION, shard),
      consumerName: `bus-test-${shard}`,
      apply: async (e: AppliedEvent) => {
        seen.push(e.event.id);
      },
    };
    const first = await startShardConsumer(bus.js, bus.jsm, { ...options, appliedSeq: 0 });
    expect(await first.waitCaughtUp(10_000)).toBe(true);
    await first.stop();
    expect(seen).toEqual(['r1', 'r2', 'r3']);
    seen.length = 0;
    const second = await startShardConsumer(bus.js, bus.jsm, { ...options, appliedSeq: seqs[0] as number });
    expect(await second.waitApplied(seqs[2] as number, 10_000)).toBe(true);
    await second.stop();
    expect(seen).toEqual(['r2', 'r3']);
  });
});

describe('queries', () => {
  it('queries - request-reply round trip, and handler errors come back as MeshErrors', async () => {
    const sub = serveQueries(bus.nc, { subject: 'q.test-1.s00', queue: 'q.test-1.s00' }, async (data) => {
      const text = new TextDecoder().decode(data);
      if (text === 'fail') throw new Error('nope');
      return new TextEncoder().encode(JSON.stringify({ echo: text }));
    });
    expect(await requestQuery(bus.nc, 'q.test-1.s00', new TextEncoder().encode('hi'), 2_000)).toEqual({
      echo: 'hi',
    });
    await expect(
      requestQuery(bus.nc, 'q.test-1.s00', new TextEncoder().encode('fail'), 2_000),
    ).rejects.toSatisfy((err) => isMeshError(err, ErrorCode.Internal));
    sub.unsubscribe();
    await expect(requestQuery(bus.nc, 'q.test-1.s00', new Uint8Array(), 500)).rejects.toSatisfy((err) =>
      isMeshError(err, ErrorCode.Unavailable),
    );
  });
});
