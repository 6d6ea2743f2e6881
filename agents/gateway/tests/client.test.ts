/**
 * @memmesh/client against a real mesh: three regions (a NATS supercluster, one agent each) and the
 * gateway in front of them, over HTTP. The tenant acme lives in us-east-1 with replicas in
 * eu-central-1 and ap-southeast-1; the client asks for eu-central-1 first, so its reads go to
 * a replica that lags its writes. Shown: read-your-writes within the session (never an older
 * version), a write whose answer was lost is retried with the same id and stored once, and
 * reads keep working when the region they go to is killed mid-way.
 */

import { createClient } from '@memmesh/client';
import { type AgentMesh, startAgentMesh } from '@memmesh/region-agent/testing';
import { silentLogger } from '@memmesh/telemetry';
import { type HttpServer, serveHttp } from '@memmesh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, resolveGatewayConfig, startGateway } from '../src/index.ts';

let mesh: AgentMesh;
let gateway: Gateway;
let served: HttpServer;

beforeAll(async () => {
  mesh = await startAgentMesh({ name: 'client', agent: { replicationReconcileMs: 300 } });
  const config = resolveGatewayConfig({
    endpoints: mesh.urls,
    probeIntervalMs: 100,
    probeTimeoutMs: 1_000,
    readTimeoutMs: 3_000,
  });
  gateway = await startGateway(config, silentLogger, mesh.routing);
  served = await serveHttp(gateway.app.fetch);
}, 120_000);

afterAll(async () => {
  await served?.close();
  await gateway?.close();
  await mesh?.stop();
});

const clientOf = (options: Partial<Parameters<typeof createClient>[0]> = {}) =>
  createClient({ url: served.url, apiKey: 'acme-dev-key', clientRegion: 'eu-central-1', ...options });

describe('client - against the mesh', () => {
  it('client - reads in a replica region never show a version older than the session wrote', async () => {
    const client = clientOf();
    for (let i = 0; i < 5; i++) {
      const written = await client.add({ id: 'ryw-1', text: `read your writes, draft ${i}` });
      const got = await client.get('ryw-1');
      expect(got.version).toBe(written.version);
      expect(got.text).toBe(`read your writes, draft ${i}`);
      const found = await client.search({ query: `read your writes, draft ${i}`, topK: 5 });
      const hit = found.results.find((r) => r.id === 'ryw-1');
      expect(hit?.version, `search after draft ${i}`).toBe(written.version);
    }
  });

  it('client - a write whose answer was lost is sent again with its id and stored once', async () => {
    let lost = 0;
    const losing: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      if (init?.method === 'POST' && String(input).includes('/v1/memories') && lost === 0) {
        lost++;
        await response.arrayBuffer();
        throw new TypeError('fetch failed: the answer was lost');
      }
      return response;
    };
    const client = clientOf({ fetch: losing, clientRegion: 'us-east-1' });
    const result = await client.add({ text: 'an answer lost on the way back' });
    expect(lost).toBe(1);
    const history = await client.history(result.id);
    expect(history.versions.map((v) => v.version)).toEqual([result.version]);
  });

  it('client - reads keep answering while the region they go to is killed', async () => {
    const client = clientOf();
    const { id, version } = await client.add({ text: 'kept through a failover' }, { wait: true });
    const reads: Promise<number>[] = [];
    for (let i = 0; i < 20; i++) {
      if (i === 5) await mesh.closeHttp('eu-central-1');
      reads.push(client.get(id).then((m) => m.version));
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const settled = await Promise.allSettled(reads);
    await mesh.reopenHttp('eu-central-1');
    expect(settled.map((r) => (r.status === 'fulfilled' ? r.value : String(r.reason)))).toEqual(
      Array(20).fill(version),
    );
  });

  it('client - errors carry the API codes, a second tenant sees nothing of the first', async () => {
    const client = clientOf();
    const { id } = await client.add({ text: 'acme only' }, { wait: true });
    const globex = clientOf({ apiKey: 'globex-dev-key', clientRegion: undefined });
    await expect(globex.get(id)).rejects.toMatchObject({ code: 'not_found', status: 404 });
    await expect(client.add({ text: '' })).rejects.toMatchObject({ code: 'bad_request', status: 400 });
    await expect(client.delete(id, { ifVersion: 1 })).rejects.toMatchObject({ code: 'version_conflict' });
    await expect(clientOf({ apiKey: 'not-a-key-at-all' }).stats()).rejects.toMatchObject({
      code: 'unauthorized',
    });
  });

  it('client - addMany and iterate: every memory in, every memory out', async () => {
    const client = clientOf({ clientRegion: 'us-east-1' });
    const memories = Array.from({ length: 130 }, (_, i) => ({
      id: `many-${i}`,
      text: `bulk memory number ${i}`,
      scope: { userId: 'bulk-user' },
    }));
    const results = await client.addMany(memories, { wait: true });
    expect(results.filter((r) => 'version' in r)).toHaveLength(130);
    const seen = new Set<string>();
    for await (const memory of client.iterate({ userId: 'bulk-user', limit: 50 })) seen.add(memory.id);
    expect(seen.size).toBe(130);
  });

  it('client - erase by scope through the gateway: the receipt comes back done and the memories are gone', async () => {
    const client = clientOf({ clientRegion: 'us-east-1' });
    const memories = Array.from({ length: 5 }, (_, i) => ({
      id: `erase-me-${i}`,
      text: `a memory to forget, number ${i}`,
      scope: { userId: 'forget-user' },
    }));
    await client.addMany(memories, { wait: true });
    const kept = await client.add(
      { text: 'a memory to keep', scope: { userId: 'keep-user' } },
      { wait: true },
    );
    const accepted = await client.erase({ userId: 'forget-user' });
    expect(accepted.id).toMatch(/^er-/);
    let receipt = await client.erasure(accepted.id);
    // Bounded: 300 polls, 100 ms apart.
    for (let i = 0; i < 300 && receipt.state !== 'done' && receipt.state !== 'failed'; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      receipt = await client.erasure(accepted.id);
    }
    expect(receipt.state).toBe('done');
    await expect(client.get('erase-me-0')).rejects.toMatchObject({ code: 'not_found' });
    expect((await client.get(kept.id)).text).toBe('a memory to keep');
  }, 60_000);
});
