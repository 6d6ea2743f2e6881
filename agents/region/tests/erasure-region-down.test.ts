/**
 * An erasure while one replica region is down, on a real supercluster: acme lives in
 * us-east-1 with replicas in eu-central-1 and ap-southeast-1, and ap-southeast-1's NATS
 * servers are killed (kill -9, stores kept) before the erase. The receipt must not claim what
 * it cannot know: the two live regions finish and say so, the down one stays `pending` by
 * name and the erasure stays unfinished, for as long as it is down. When its servers come back,
 * its agent reconnects, finds the sealed marker in its own stream and removes and checks its
 * copies; only then is the receipt `done`, and the region that was down holds none of it.
 */
import { type ErasureReceipt, streamName } from '@memmesh/core';
import { eventually as poll, sendJson } from '@memmesh/testkit';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentMesh, distinctiveSentence, type RegionId, startAgentMesh } from './harness.ts';

const ACME = 'acme-dev-key';
const DOCS = 40;
const DOWN: RegionId = 'ap-southeast-1';
/** How long the receipt is watched while the region is down: it must stay unfinished throughout. */
const DOWN_WATCH_MS = 3_000;

let mesh: AgentMesh;
let nc: NatsConnection;

const call = (region: RegionId, method: string, path: string, body?: unknown) =>
  sendJson(mesh.agents[region].app, method, path, body, { authorization: `Bearer ${ACME}` });
const eventually = <T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 90_000) =>
  poll(what, attempt, { timeoutMs, stepMs: 200 });
const receiptOf = async (id: string): Promise<ErasureReceipt> =>
  (await call('us-east-1', 'GET', `/v1/erasures/${id}`)).body;

const texts = Array.from({ length: DOCS }, (_, i) => distinctiveSentence(90_000 + i));

beforeAll(async () => {
  mesh = await startAgentMesh({
    name: 'erasure-down',
    http: false,
    agent: { erasureFollowMs: 200, replicationReconcileMs: 300, snapshotIntervalMs: 500 },
  });
  nc = await connect({
    servers: mesh.regions[DOWN].natsUrl,
    ...mesh.security.connectOptions(mesh.security.operator()),
    maxReconnectAttempts: -1,
    reconnectTimeWait: 200,
  });
  const memories = texts.map((text, i) => ({ id: `down-${i}`, text, scope: { userId: 'u-down' } }));
  const keep = { id: 'kept-0', text: distinctiveSentence(91_000), scope: { userId: 'u-keep' } };
  const r = await call('us-east-1', 'POST', '/v1/memories/batch?wait=true', {
    memories: [...memories, keep],
  });
  expect(r.status).toBe(202);
  await eventually(`every memory searchable in ${DOWN}`, async () => {
    const status = mesh.agents[DOWN].region.status('acme');
    return status.shards.reduce((n, s) => n + s.docs, 0) === DOCS + 1 ? true : undefined;
  });
}, 180_000);

afterAll(async () => {
  await nc?.close();
  await mesh?.stop();
});

describe('erasure - a replica region down', () => {
  it('erasure - the receipt names the down region as pending and is done only after it is back and erased', async () => {
    await mesh.supercluster.killRegion(DOWN);
    const accepted = await call('us-east-1', 'DELETE', '/v1/memories?userId=u-down');
    expect(accepted.status).toBe(202);
    const id = accepted.body.id as string;

    // The live regions finish their part; the down one is still pending, by name.
    const partial = await eventually('the live regions done', async () => {
      const r = await receiptOf(id);
      const live = ['us-east-1', 'eu-central-1'].every((region) => r.regions[region]?.state === 'done');
      return live ? r : undefined;
    });
    expect(partial.documents).toBe(DOCS);
    expect(partial.regions[DOWN]?.state).toBe('pending');
    expect(partial.state).not.toBe('done');
    expect(partial.finishedAt).toBeUndefined();
    const watchUntil = Date.now() + DOWN_WATCH_MS;
    while (Date.now() < watchUntil) {
      const r = await receiptOf(id);
      expect(r.state).not.toBe('done');
      expect(r.regions[DOWN]?.state).toBe('pending');
      await new Promise((resolve) => setTimeout(resolve, 250));
    }

    await mesh.supercluster.restartRegion(DOWN);
    const receipt = await eventually(
      'the erasure done once the region is back',
      async () => {
        const r = await receiptOf(id);
        if (r.state === 'failed') throw new Error(`erasure failed: ${JSON.stringify(r)}`);
        return r.state === 'done' ? r : undefined;
      },
      150_000,
    );
    expect(receipt.regions[DOWN]).toMatchObject({ state: 'done', viewDocs: DOCS });
    expect(receipt.regions[DOWN]?.streamMessages).toBeGreaterThanOrEqual(DOCS);

    // The region that was down holds none of it: no search hit, no message left but tombstones.
    for (const text of texts.slice(0, 10)) {
      const found = await call(DOWN, 'POST', '/v1/search', { query: text, topK: 5 });
      expect(found.status).toBe(200);
      expect(
        found.body.results.map((h: { id: string }) => h.id).filter((i: string) => i.startsWith('down-')),
      ).toEqual([]);
    }
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(streamName(DOWN), { subjects_filter: 'mem.us-east-1.*.acme.>' });
    // Every subject of an erased document keeps its tombstone alone (no text, no scope).
    let left = 0;
    for (const [subject, count] of Object.entries(info.state.subjects ?? {})) {
      if (subject.includes('._ctl.')) continue;
      const base = subject.split('.').slice(0, 5).join('.');
      const last = await jsm.streams.getMessage(streamName(DOWN), { last_by_subj: base });
      const body = new TextDecoder().decode(last?.data);
      if (!/"id":"down-\d+"/.test(body)) continue;
      expect(body).toContain('"type":"delete"');
      left += subject === base ? count - 1 : count;
    }
    expect(left).toBe(0);
    // Out of scope stays.
    expect((await call(DOWN, 'GET', '/v1/memories/kept-0')).status).toBe(200);
  }, 300_000);
});
