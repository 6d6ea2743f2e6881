/**
 * Read-repair on a real supercluster: a replica region's view of a shard is made stale by
 * pausing its consumer (JetStream consumer pause, as the operator), while the home updates
 * and deletes memories on that shard. The replica's stream has the new events (sourcing goes
 * on), its view does not: its searches must answer with the log's current text, and drop
 * what was deleted, and count the repairs.
 */
import { shardOf, streamName } from '@memmesh/core';
import { eventually, sendJson } from '@memmesh/testkit';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentMesh, distinctiveSentence, type RegionId, startAgentMesh } from './harness.ts';

const KEY = 'acme-dev-key';
let mesh: AgentMesh;
let nc: NatsConnection;

const call = (region: RegionId, method: string, path: string, body?: unknown) =>
  sendJson(mesh.agents[region].app, method, path, body, { authorization: `Bearer ${KEY}` });

beforeAll(async () => {
  mesh = await startAgentMesh({ name: 'repair', http: false, agent: { replicationReconcileMs: 300 } });
  nc = await connect({
    servers: mesh.supercluster.regions['eu-central-1']?.urls ?? [],
    ...mesh.security.connectOptions(mesh.security.operator()),
  });
}, 120_000);

afterAll(async () => {
  await nc?.close();
  await mesh?.stop();
});

describe('read-repair', () => {
  it('a replica whose view is stale answers a search with the log’s current text, and drops what was deleted', async () => {
    // Two memories on one shard of the home, both replicated and searchable in eu-central-1.
    const shard = shardOf('acme', 'repair-a', 4);
    let other = 0;
    while (shardOf('acme', `repair-b${other}`, 4) !== shard) other++;
    const b = `repair-b${other}`;
    const before = { a: distinctiveSentence(70_001), b: distinctiveSentence(70_002) };
    for (const [id, text] of [
      ['repair-a', before.a],
      [b, before.b],
    ] as const) {
      expect((await call('us-east-1', 'POST', '/v1/memories?wait=true', { id, text })).status).toBe(202);
      await eventually(`${id} searchable in eu-central-1`, async () => {
        const r = await call('eu-central-1', 'POST', '/v1/search', { query: text, topK: 3 });
        return r.body.results?.some((h: { id: string }) => h.id === id) ? true : undefined;
      });
    }

    // The replica's view of that shard stops applying.
    const jsm = await jetstreamManager(nc);
    const consumer = `eu-central-1-a0_us-east-1_${shard}`;
    await jsm.consumers.pause(streamName('eu-central-1'), consumer, new Date(Date.now() + 120_000));

    const after = `${before.a} Revised: the ledger moved to the north vault.`;
    const updated = await call('us-east-1', 'POST', '/v1/memories?wait=true', {
      id: 'repair-a',
      text: after,
    });
    expect((await call('us-east-1', 'DELETE', `/v1/memories/${b}?wait=true`)).status).toBe(202);
    // The replica's stream has both events (GET reads the stream), its view has neither.
    await eventually('the update and the delete in eu-central-1’s stream', async () => {
      const a = await call('eu-central-1', 'GET', '/v1/memories/repair-a');
      const gone = await call('eu-central-1', 'GET', `/v1/memories/${b}`);
      return a.body.text === after && gone.status === 404 ? true : undefined;
    });
    const stale = (await call('eu-central-1', 'GET', '/v1/stats')).body.shards.find(
      (s: { origin: string; shard: string }) => s.origin === 'us-east-1' && s.shard === shard,
    );
    expect(stale.caughtUp).toBe(true);

    const found = await call('eu-central-1', 'POST', '/v1/search', { query: before.a, topK: 5 });
    expect(found.status).toBe(200);
    const hit = found.body.results.find((h: { id: string }) => h.id === 'repair-a');
    expect(hit).toMatchObject({ text: after, version: updated.body.version });
    const deleted = await call('eu-central-1', 'POST', '/v1/search', { query: before.b, topK: 5 });
    expect(deleted.body.results.map((h: { id: string }) => h.id)).not.toContain(b);
    const metrics = await (await mesh.agents['eu-central-1'].app.request('/metrics')).text();
    for (const kind of ['stale', 'gone']) {
      const line = metrics
        .split('\n')
        .find((l) => l.startsWith('memmesh_read_repairs_total') && l.includes(`kind="${kind}"`));
      expect(Number(line?.split(' ').at(-1))).toBeGreaterThan(0);
    }

    // Resumed, the view catches up by itself and needs no repair for these any more.
    await jsm.consumers.resume(streamName('eu-central-1'), consumer);
    await eventually('the view caught up', async () => {
      const r = await call('eu-central-1', 'POST', '/v1/search', { query: after, topK: 3 });
      return r.body.results?.[0]?.id === 'repair-a' && r.body.results[0].text === after ? true : undefined;
    });
  }, 120_000);
});
