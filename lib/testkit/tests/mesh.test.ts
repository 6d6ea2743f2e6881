/**
 * The mesh fixture on a real two-region supercluster, with a stand-in agent per region that
 * connects to the NATS URL it was given, with the region agent role's credentials and the CA
 * (the supercluster refuses anything else), and answers with the cluster it landed on: every
 * region's agent on its own cluster with the shared data directory and routing table, HTTP
 * that closes and re-opens on the same port, a teardown in reverse order, and nothing left
 * behind by a start that fails half-way.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { connect, nkeyAuthenticator } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Mesh, type MeshAgentContext, sendJson, startMesh } from '../src/index.ts';

const REGIONS = ['us-east-1', 'eu-central-1'] as const;
type RegionId = (typeof REGIONS)[number];
const ROUTING = { name: 'the shared table' };

interface StandIn {
  readonly app: { fetch(request: Request): Promise<Response> };
  readonly context: MeshAgentContext<RegionId, typeof ROUTING>;
  close(): Promise<void>;
}

/** Closes are recorded in `closed`, in the order they happen. */
async function startStandIn(
  context: MeshAgentContext<RegionId, typeof ROUTING>,
  closed: string[],
): Promise<StandIn> {
  const seed = (await readFile(context.nats.credsFile, 'utf8')).trim();
  const nc = await connect({
    servers: context.natsUrl.split(','),
    authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)),
    tls: context.nats.tls,
    ...(context.nats.inboxPrefix ? { inboxPrefix: context.nats.inboxPrefix } : {}),
  });
  return {
    context,
    app: {
      fetch: async () => Response.json({ region: context.region, cluster: nc.info?.cluster }),
    },
    async close() {
      closed.push(context.region);
      await nc.close();
    },
  };
}

describe('mesh', () => {
  let mesh: Mesh<RegionId, StandIn, typeof ROUTING>;
  const closed: string[] = [];

  beforeAll(async () => {
    mesh = await startMesh({
      regions: REGIONS,
      routing: ROUTING,
      name: 'mesh-test',
      startAgent: (context) => startStandIn(context, closed),
    });
  }, 60_000);

  afterAll(async () => {
    await mesh?.stop();
  });

  it('mesh - each region has its agent on its own cluster, with the shared data directory and routing table', async () => {
    expect(Object.keys(mesh.regions)).toEqual([...REGIONS]);
    for (const region of REGIONS) {
      const { agent, url, natsUrl, serving } = mesh.regions[region];
      expect(agent).toBe(mesh.agents[region]);
      expect(url).toBe(mesh.urls[region]);
      expect(agent.context).toEqual({
        region,
        natsUrl,
        nats: mesh.security.agent(region),
        dataDir: mesh.dataDir,
        routing: ROUTING,
      });
      expect(natsUrl).toBe(mesh.supercluster.regions[region]?.urls.join(','));
      expect(serving).toBe(true);
      const r = await sendJson(url, 'GET', '/');
      expect([r.status, r.body]).toEqual([200, { region, cluster: region }]);
    }
    expect(mesh.routing).toBe(ROUTING);
    expect(mesh.dataDir).toContain('memmesh-mesh-test-');
  });

  it('mesh - a region closed over HTTP refuses connections and is served again on the same port', async () => {
    const { port, url } = mesh.regions['us-east-1'];
    await mesh.closeHttp('us-east-1');
    expect(mesh.regions['us-east-1'].serving).toBe(false);
    await expect(fetch(url)).rejects.toThrow();
    expect((await sendJson(mesh.urls['eu-central-1'], 'GET', '/')).status).toBe(200);
    await mesh.reopenHttp('us-east-1');
    expect([mesh.regions['us-east-1'].serving, mesh.regions['us-east-1'].port]).toEqual([true, port]);
    expect((await sendJson(url, 'GET', '/')).body.region).toBe('us-east-1');
  });

  it('mesh - stop closes the agents last region first, then the supercluster, then removes the data', async () => {
    const { dataDir, urls } = mesh;
    await mesh.stop();
    expect(closed).toEqual(['eu-central-1', 'us-east-1']);
    for (const region of REGIONS) await expect(fetch(urls[region])).rejects.toThrow();
    await expect(connect({ servers: mesh.supercluster.regions['us-east-1']?.urls })).rejects.toThrow();
    expect(existsSync(dataDir)).toBe(false);
    expect(existsSync(mesh.security.dir)).toBe(false);
    await mesh.stop();
    expect(closed).toHaveLength(2);
  });
});

describe('mesh start', () => {
  it('mesh start - an agent that fails to start tears down what was started and the error is the start error', async () => {
    const closed: string[] = [];
    const contexts: MeshAgentContext<RegionId, typeof ROUTING>[] = [];
    const started = startMesh({
      regions: REGIONS,
      routing: ROUTING,
      async startAgent(context) {
        contexts.push(context);
        if (context.region === 'eu-central-1') throw new Error('eu agent would not start');
        return startStandIn(context, closed);
      },
    });
    await expect(started).rejects.toThrow('eu agent would not start');
    expect(closed).toEqual(['us-east-1']);
    expect(existsSync(contexts[0]!.dataDir)).toBe(false);
    await expect(connect({ servers: contexts[0]!.natsUrl.split(',') })).rejects.toThrow();
  }, 60_000);
});
