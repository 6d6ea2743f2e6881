/**
 * One region on a three-server NATS cluster with R3 streams: an acknowledged write is on a
 * quorum, so losing any one server (kill -9) loses nothing and writes go on. The cluster is
 * locked down (TLS on client and route connections, nkey users), as in production.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@memmesh/telemetry';
import {
  createNatsSecurity,
  type JsonReply,
  type NatsSecurity,
  type Supercluster,
  sendJson,
  startNatsCluster,
} from '@memmesh/testkit';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RegionAgent, resolveConfig, startRegionAgent } from '../src/index.ts';
import { ACME, natsCredentialsOf } from './harness.ts';

let security: NatsSecurity;
let cluster: Supercluster;
let agent: RegionAgent;
let dataDir: string;

const call = (method: string, path: string, body?: unknown) =>
  sendJson(agent.app, method, path, body, { authorization: `Bearer ${ACME}` });

beforeAll(async () => {
  security = await createNatsSecurity({ regions: ['us-east-1'] });
  cluster = await startNatsCluster({ name: 'us-east-1', servers: 3, security });
  dataDir = await mkdtemp(join(tmpdir(), 'memmesh-r3-'));
  const natsUrl = cluster.regions['us-east-1']?.urls.join(',') ?? '';
  agent = await startRegionAgent(
    resolveConfig({
      natsUrl,
      ...natsCredentialsOf(security.agent('us-east-1')),
      dataDir,
      port: 0,
      streamReplicas: 3,
    }),
    silentLogger,
  );
}, 60_000);

afterAll(async () => {
  await agent?.close();
  await cluster?.stop();
  await security?.remove();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('r3 cluster', () => {
  it('r3 cluster - streams have three replicas and survive losing one server', async () => {
    const nc = await connect({
      servers: cluster.regions['us-east-1']?.urls ?? [],
      ...security.connectOptions(security.operator()),
    });
    const info = await (await jetstreamManager(nc)).streams.info('MEM_US_EAST_1');
    expect(info.config.num_replicas).toBe(3);
    expect(info.cluster?.name).toBe('us-east-1');
    expect(info.cluster?.replicas).toHaveLength(2);
    await nc.close();

    const ids: string[] = [];
    for (let i = 0; i < 20; i++) {
      const w = await call('POST', '/v1/memories?wait=true', {
        id: `r3-${i}`,
        text: `Quorum-stored memory number ${i}.`,
      });
      expect(w.status).toBe(202);
      ids.push(w.body.id);
    }
    // Lose a server that the agent may be connected to; the client reconnects to another.
    await cluster.killServer('us-east-1', 0);
    const deadline = Date.now() + 20_000;
    let written: JsonReply | undefined;
    while (Date.now() < deadline) {
      written = await call('POST', '/v1/memories?wait=true', {
        id: 'r3-after',
        text: 'Written with one server down.',
      });
      if (written.status === 202) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(written?.status).toBe(202);
    for (const id of ids) expect((await call('GET', `/v1/memories/${id}`)).status).toBe(200);
    // Consumers may still be moving to another server: read-your-writes says when it is in.
    const s = await call('POST', '/v1/search', {
      query: 'Written with one server down.',
      topK: 1,
      minVersion: written?.body.version,
    });
    expect(s.status).toBe(200);
    expect(s.body.results[0].id).toBe('r3-after');
    await cluster.restartServer('us-east-1', 0);
  }, 60_000);
});
