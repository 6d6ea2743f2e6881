/**
 * Single-message stream reads against a real nats-server: null when there is no message, the
 * right message otherwise, and the home version of a message sourced from another stream.
 */
import { docKeyOf, docSubject, isMeshError, streamName, tenantShardFilter } from '@memmesh/core';
import type { StoredMsg } from '@nats-io/jetstream';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_REGION_STREAM_OPTIONS,
  ensureRegionStreams,
  lastBySubject,
  nextBySubject,
  versionOf,
} from '../src/index.ts';
import { useTestBus } from './test-bus.ts';

const REGION = 'sr-1';
const STREAM = streamName(REGION);
const bus = useTestBus({ region: REGION, name: 'stream-read-test' });
const encoder = new TextEncoder();
/** How long a sourced message may take to arrive in the same server. */
const SOURCING_WAIT_MS_MAX = 10_000;

const subjectOf = (region: string, shard: string, tenant: string, id: string) =>
  docSubject(region, shard, tenant, docKeyOf(tenant, id));

const publish = async (subject: string, body: string) =>
  (await bus.js.publish(subject, encoder.encode(body))).seq;

const bodyOf = (stored: StoredMsg | null) => (stored ? new TextDecoder().decode(stored.data) : null);

describe('stream read', () => {
  it('stream read - lastBySubject is null without a message, and the newest message otherwise', async () => {
    const subject = subjectOf(REGION, 's00', 'acme', 'last');
    expect(await lastBySubject(bus.jsm, STREAM, subject)).toBeNull();
    await publish(subject, 'v1');
    const v2 = await publish(subject, 'v2');
    await publish(subjectOf(REGION, 's00', 'acme', 'other'), 'other');
    const last = await lastBySubject(bus.jsm, STREAM, subject);
    expect(bodyOf(last)).toBe('v2');
    expect(last?.seq).toBe(v2);
    expect(versionOf(last as StoredMsg)).toBe(v2);
  });

  it('stream read - nextBySubject is the first message on a filter at or after seq, null past the end', async () => {
    const filter = tenantShardFilter(REGION, 's01', 'globex');
    expect(await nextBySubject(bus.jsm, STREAM, { seq: 1, subject: filter })).toBeNull();
    const a = await publish(subjectOf(REGION, 's01', 'globex', 'a'), 'a');
    await publish(subjectOf(REGION, 's01', 'acme', 'x'), 'not globex');
    const b = await publish(subjectOf(REGION, 's01', 'globex', 'b'), 'b');
    expect(bodyOf(await nextBySubject(bus.jsm, STREAM, { seq: 1, subject: filter }))).toBe('a');
    expect(bodyOf(await nextBySubject(bus.jsm, STREAM, { seq: a, subject: filter }))).toBe('a');
    const next = await nextBySubject(bus.jsm, STREAM, { seq: a + 1, subject: filter });
    expect(bodyOf(next)).toBe('b');
    expect(next?.seq).toBe(b);
    expect(await nextBySubject(bus.jsm, STREAM, { seq: b + 1, subject: filter })).toBeNull();
    await expect(nextBySubject(bus.jsm, STREAM, { seq: 0, subject: filter })).rejects.toThrow(RangeError);
  });

  it('stream read - a stream that does not exist is a MeshError, not a crash', async () => {
    await expect(lastBySubject(bus.jsm, streamName('nowhere'), 'mem.nowhere.>')).rejects.toSatisfy((err) =>
      isMeshError(err),
    );
  });

  it("stream read - versionOf a sourced message is its sequence in the origin's stream", async () => {
    const home = 'sr-home';
    const replica = 'sr-rep';
    const options = DEFAULT_REGION_STREAM_OPTIONS;
    await ensureRegionStreams(bus.jsm, { region: home, ...options });
    await ensureRegionStreams(bus.jsm, {
      region: replica,
      ...options,
      sources: [{ homeRegion: home, tenant: 'acme' }],
    });
    // The replica's own messages first, so that its sequences and the home's differ.
    for (const id of ['r1', 'r2', 'r3']) await publish(subjectOf(replica, 's00', 'acme', id), id);
    await publish(subjectOf(home, 's00', 'globex', 'not-sourced'), 'globex');
    const subject = subjectOf(home, 's00', 'acme', 'sourced');
    const homeSeq = await publish(subject, 'from home');

    let copy: StoredMsg | null = null;
    for (const deadline = Date.now() + SOURCING_WAIT_MS_MAX; !copy && Date.now() < deadline; ) {
      copy = await lastBySubject(bus.jsm, streamName(replica), subject);
      if (!copy) await new Promise((r) => setTimeout(r, 25));
    }
    expect(bodyOf(copy)).toBe('from home');
    expect(copy?.seq).not.toBe(homeSeq);
    expect(versionOf(copy as StoredMsg)).toBe(homeSeq);
  });
});
