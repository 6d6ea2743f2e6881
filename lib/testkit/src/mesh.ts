/**
 * @module mesh
 * The multi-region fixture: a locked-down NATS supercluster (one cluster per region, TLS on
 * every connection, nkey users with the roles' permissions), one agent per
 * region started by the caller on that region's cluster with one shared routing table and
 * one data directory, each agent served over HTTP on loopback, and a teardown in reverse
 * order of start.
 *
 * The test kit does not know the region agent (the agent's own tests depend on the kit, so
 * the kit depending on the agent would be a cycle), nor the routing table's package for the
 * same reason: the caller passes a `startAgent` that builds its agent from the region, its
 * NATS URL and credentials, the data directory and the routing table it also passed in, and gets that agent
 * back with its type intact.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type FetchHandler, type HttpServer, serveHttp } from './http.ts';
import { createNatsSecurity, type NatsClientFiles, type NatsSecurity } from './nats-security.ts';
import { type Supercluster, type SuperclusterOptions, startSupercluster } from './nats-topology.ts';
import { createTeardown } from './teardown.ts';

/** A memmesh service as the mesh needs it: a hono app to serve, and a way to stop it. */
export interface MeshAgent {
  readonly app: { readonly fetch: FetchHandler };
  close(): Promise<void>;
}

/** What an agent is started with. */
export interface MeshAgentContext<Region extends string, Routing> {
  region: Region;
  /** The region's cluster, every server's client URL joined by commas (NATS's server list). */
  natsUrl: string;
  /** The region agent role's credentials and the CA of the servers' certificates. */
  nats: NatsClientFiles;
  /** Shared by every agent of the mesh; each keeps its own region's files there. */
  dataDir: string;
  routing: Routing;
}

export interface MeshOptions<Region extends string, Agent extends MeshAgent, Routing> {
  regions: readonly Region[];
  /** Shared by every agent; the caller creates (and seeds) it and closes it if it must. */
  routing: Routing;
  /** Starts one region's agent; called region by region, in the order of `regions`. */
  startAgent(context: MeshAgentContext<Region, Routing>): Promise<Agent>;
  /** Serve each agent over HTTP on loopback (default true); off for suites that use `app.request` only. */
  http?: boolean;
  /** Names the temporary data directory (`memmesh-<name>-…`), to tell whose it is. */
  name?: string;
  /** Anything else for the supercluster (ready timeout, fsync policy). */
  supercluster?: Omit<SuperclusterOptions, 'regions' | 'security'>;
}

export interface MeshRegion<Agent> {
  readonly agent: Agent;
  readonly natsUrl: string;
  /**
   * The agent's loopback port and base URL, the same across closeHttp and reopenHttp (a
   * region that comes back comes back where the gateway and proxies look for it). Port 0 and
   * an empty URL when the mesh serves no HTTP.
   */
  readonly port: number;
  readonly url: string;
  /** Whether the HTTP server is listening now. */
  readonly serving: boolean;
}

export interface Mesh<Region extends string, Agent extends MeshAgent, Routing> {
  readonly supercluster: Supercluster;
  /** The CA and every role's credentials, for tests that connect to NATS themselves. */
  readonly security: NatsSecurity;
  readonly routing: Routing;
  readonly dataDir: string;
  readonly regions: Readonly<Record<Region, MeshRegion<Agent>>>;
  /** The agents alone, for `agents[region].app.request(...)`. */
  readonly agents: Readonly<Record<Region, Agent>>;
  /** Base URL of each region's agent. */
  readonly urls: Readonly<Record<Region, string>>;
  /** Stops a region's HTTP server, dropping its open connections: to its clients the region is gone. */
  closeHttp(region: Region): Promise<void>;
  /** Serves the region's agent again on the port it had. */
  reopenHttp(region: Region): Promise<void>;
  /** Stops HTTP servers and agents (last region first), then the supercluster, then removes the data. Idempotent. */
  stop(): Promise<void>;
}

export async function startMesh<Region extends string, Agent extends MeshAgent, Routing>(
  options: MeshOptions<Region, Agent, Routing>,
): Promise<Mesh<Region, Agent, Routing>> {
  const teardown = createTeardown();
  try {
    const dataDir = await mkdtemp(join(tmpdir(), `memmesh-${options.name ?? 'mesh'}-`));
    teardown.push(() => rm(dataDir, { recursive: true, force: true }));
    const security = await createNatsSecurity({ regions: options.regions });
    teardown.push(() => security.remove());
    const supercluster = await startSupercluster({
      ...options.supercluster,
      regions: [...options.regions],
      security,
    });
    teardown.push(() => supercluster.stop());
    const regions = {} as Record<Region, RegionSlot<Agent>>;
    for (const region of options.regions) {
      const natsUrl = supercluster.regions[region]?.urls.join(',') ?? '';
      const nats = security.agent(region);
      const agent = await options.startAgent({ region, natsUrl, nats, dataDir, routing: options.routing });
      teardown.push(() => agent.close());
      const slot: RegionSlot<Agent> = { agent, natsUrl, http: undefined, port: 0 };
      if (options.http ?? true) {
        slot.http = await serveHttp(agent.app.fetch);
        slot.port = slot.http.port;
      }
      // Through the slot, so that a re-opened server is the one closed.
      teardown.push(() => closeSlot(slot));
      regions[region] = slot;
    }
    return meshOf(options, { supercluster, security, dataDir, regions, stop: () => teardown.run() });
  } catch (err) {
    // The start's own error is the one worth reporting; a teardown failure would hide it.
    await teardown.run().catch(() => undefined);
    throw err;
  }
}

interface RegionSlot<Agent> {
  readonly agent: Agent;
  readonly natsUrl: string;
  http: HttpServer | undefined;
  port: number;
}

async function closeSlot(slot: RegionSlot<MeshAgent>): Promise<void> {
  const http = slot.http;
  slot.http = undefined;
  await http?.close();
}

function meshOf<Region extends string, Agent extends MeshAgent, Routing>(
  options: MeshOptions<Region, Agent, Routing>,
  started: {
    supercluster: Supercluster;
    security: NatsSecurity;
    dataDir: string;
    regions: Record<Region, RegionSlot<Agent>>;
    stop(): Promise<void>;
  },
): Mesh<Region, Agent, Routing> {
  const { regions } = started;
  const urlOf = (slot: RegionSlot<Agent>) => (slot.port > 0 ? `http://127.0.0.1:${slot.port}` : '');
  const each = <T>(pick: (slot: RegionSlot<Agent>) => T) =>
    Object.fromEntries(options.regions.map((region) => [region, pick(regions[region])])) as Record<Region, T>;
  const views = each(
    (slot): MeshRegion<Agent> => ({
      agent: slot.agent,
      natsUrl: slot.natsUrl,
      port: slot.port,
      url: urlOf(slot),
      get serving() {
        return slot.http !== undefined;
      },
    }),
  );
  return {
    supercluster: started.supercluster,
    security: started.security,
    routing: options.routing,
    dataDir: started.dataDir,
    regions: views,
    agents: each((slot) => slot.agent),
    urls: each(urlOf),
    closeHttp: (region) => closeSlot(regions[region]),
    async reopenHttp(region) {
      const slot = regions[region];
      if (slot.port === 0) throw new Error(`the mesh serves no HTTP, so ${region} cannot be re-opened`);
      if (slot.http) return;
      slot.http = await serveHttp(slot.agent.app.fetch, slot.port);
    },
    stop: started.stop,
  };
}
