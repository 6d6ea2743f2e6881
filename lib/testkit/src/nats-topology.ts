/**
 * @module nats-topology
 * Real NATS topologies for tests and the local mesh: a cluster of servers inside one region
 * (`startNatsCluster`, enough for R3 streams), and a supercluster of regions, one cluster
 * each named after the region, joined by NATS gateways (`startSupercluster`), with JetStream
 * on every server so that a stream can be placed in a region with `placement.cluster`.
 *
 * Route and gateway ports must be known before the peers start (each server's config lists
 * the others), so they are reserved up front by binding port 0 and releasing it; a start that
 * loses that race is retried on fresh ports a bounded number of times. Client and monitoring
 * ports are picked by each server on its first start and reported in its ports file.
 *
 * Servers keep their names, ports and stores across kill and restart, because clustered
 * JetStream knows its peers by name and clients and peers reconnect to the same addresses.
 *
 * Readiness comes from each server's monitoring endpoint: `/healthz` (JetStream meta leader
 * known and this server's assets current), `/routez` (a route to every running peer of its
 * cluster), `/gatewayz` (outbound and inbound gateways to every other running region) and
 * `/jsz` (the meta leader's name), all bounded by `readyTimeoutMs`.
 *
 * How long that takes is set by NATS, not by polling. A cluster's routes connect at once and
 * its first meta election (an early campaign 0.1-0.8 s after start) wins: ready in about
 * 0.3 s. A supercluster's gateways connect only 1 s after start (a fixed solicit delay), so
 * that early campaign usually finds no peers and the election waits for the Raft election
 * timeout (4-9 s): ready in 1.3 s at best, 5-10 s typically. Losing the meta leader (say,
 * with its region) costs another election timeout before JetStream API calls that need the
 * meta leader (stream create, account info) answer again; publishing to streams led
 * elsewhere goes on meanwhile.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '@memmesh/core';
import type { NatsServerSecurity } from './nats-security.ts';
import {
  DEFAULT_START_TIMEOUT_MS,
  type LaunchedNatsServer,
  launchNatsServer,
  type NatsServer,
  NatsServerStartError,
} from './nats-server.ts';
import { freeLoopbackPorts } from './ports.ts';

export interface RegionSpec {
  name: string;
  /** Servers in the region's cluster (default 1). */
  servers?: number;
}

/** Settings shared by clusters and superclusters. */
export interface NatsTopologyOptions {
  /** Each server stores under `<storeRoot>/<server name>`, kept on stop; a temporary root when omitted. */
  storeRoot?: string;
  /** Limit for the whole topology to form (routes, gateways, JetStream meta leader). */
  readyTimeoutMs?: number;
  /** Limit for one server to report its ports. */
  startTimeoutMs?: number;
  /** JetStream fsync policy of every server, as in startNatsServer. */
  syncInterval?: 'always' | string;
  /** Path of the nats-server binary, as in startNatsServer. */
  bin?: string;
  /** TLS on every connection and nkey users only, as in startNatsServer (createNatsSecurity). */
  security?: NatsServerSecurity;
}

export interface SuperclusterOptions extends NatsTopologyOptions {
  regions: (string | RegionSpec)[];
}

export interface NatsClusterOptions extends NatsTopologyOptions {
  /** Cluster name, e.g. the region; default DEFAULT_CLUSTER_NAME. */
  name?: string;
  /** Servers in the cluster; default 3, the fewest for R3 streams. */
  servers?: number;
}

export interface RegionCluster {
  readonly name: string;
  /** Client URLs of the region's servers, stable across kill and restart. */
  readonly urls: string[];
  /**
   * The region's servers by index. After a kill, the entry is the killed process's handle
   * until the restart replaces it, so indices never shift.
   */
  readonly servers: NatsServer[];
  /** Server names by index, as JetStream reports them (stream leader and replicas). */
  readonly serverNames: string[];
}

export interface Supercluster {
  readonly regions: Readonly<Record<string, RegionCluster>>;
  /** kill -9 every server of the region; stores stay. */
  killRegion(name: string): Promise<void>;
  /** Starts the region's servers again on the same ports and stores, and waits until ready. */
  restartRegion(name: string): Promise<void>;
  /** kill -9 one server (index in its region), keeping its store. */
  killServer(region: string, index: number): Promise<void>;
  /** Starts one killed server again on the same ports and store, and waits until ready. */
  restartServer(region: string, index: number): Promise<void>;
  /** Stops every server; removes the stores unless the caller gave a storeRoot. Idempotent. */
  stop(): Promise<void>;
}

/**
 * One cluster: its own name, urls and servers, with index-only killServer/restartServer. It
 * is also the one-region case of a Supercluster (regions, killServer(region, index)), so code
 * written against either keeps working.
 */
export interface NatsCluster extends Supercluster, RegionCluster {
  killServer(index: number): Promise<void>;
  killServer(region: string, index: number): Promise<void>;
  restartServer(index: number): Promise<void>;
  restartServer(region: string, index: number): Promise<void>;
}

/** Two Raft election timeouts (9 s each at most) plus start-up, with room for a busy machine. */
export const DEFAULT_READY_TIMEOUT_MS = 30_000;
export const DEFAULT_CLUSTER_NAME = 'memmesh';
export const DEFAULT_CLUSTER_SERVERS = 3;
export const DEFAULT_REGION_SERVERS = 1;
/** A topology is a test fixture: a handful of servers, never a fleet. */
export const TOPOLOGY_SERVERS_MAX = 32;
/** Fresh-port attempts for a first start whose reserved route or gateway port was taken. */
const PORT_ATTEMPTS_MAX = 3;
/** A restart must reuse its ports, so it can only wait for them to be released. */
const RESTART_ATTEMPTS_MAX = 5;
const RESTART_RETRY_DELAY_MS = 200;
const READY_POLL_MS = 50;
const PROBE_TIMEOUT_MS = 1_000;

/** One server's place in the topology; ports and store never change after the first start. */
interface Slot {
  readonly region: string;
  readonly name: string;
  readonly storeDir: string;
  clusterPort: number;
  gatewayPort: number;
  /** 0 until the first start, when the server picks it. */
  clientPort: number;
  /** The current (or last, once killed) process; its monitoring port changes with each start. */
  launched: LaunchedNatsServer | undefined;
  running: boolean;
}

interface Topology {
  readonly slots: Slot[];
  readonly regionNames: string[];
  readonly options: NatsTopologyOptions;
}

export async function startNatsCluster(options: NatsClusterOptions = {}): Promise<NatsCluster> {
  const name = options.name ?? DEFAULT_CLUSTER_NAME;
  const { name: _name, servers = DEFAULT_CLUSTER_SERVERS, ...common } = options;
  const sc = await startSupercluster({ ...common, regions: [{ name, servers }] });
  const region = sc.regions[name]!;
  const pick = (a: number | string, b?: number): [string, number] =>
    typeof a === 'number' ? [name, a] : [a, b ?? Number.NaN];
  return {
    name,
    urls: region.urls,
    serverNames: region.serverNames,
    get servers() {
      return region.servers;
    },
    regions: sc.regions,
    killRegion: sc.killRegion,
    restartRegion: sc.restartRegion,
    killServer: (a: number | string, b?: number) => sc.killServer(...pick(a, b)),
    restartServer: (a: number | string, b?: number) => sc.restartServer(...pick(a, b)),
    stop: sc.stop,
  };
}

export async function startSupercluster(options: SuperclusterOptions): Promise<Supercluster> {
  const specs = validRegions(options.regions);
  const ownsRoot = options.storeRoot === undefined;
  const root = options.storeRoot ?? (await mkdtemp(join(tmpdir(), 'memmesh-nats-topology-')));
  const slots = specs.flatMap((spec) =>
    Array.from({ length: spec.servers }, (_, index): Slot => {
      // The name is the store's identity: a restart on an existing storeRoot finds it again.
      const name = `${spec.name}-n${index}`;
      const storeDir = join(root, name);
      return {
        region: spec.name,
        name,
        storeDir,
        clusterPort: 0,
        gatewayPort: 0,
        clientPort: 0,
        launched: undefined,
        running: false,
      };
    }),
  );
  const topology: Topology = { slots, regionNames: specs.map((s) => s.name), options };
  const readyTimeoutMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.all(slots.map((slot) => slot.running && slot.launched?.server.stop()));
    for (const slot of slots) slot.running = false;
    if (ownsRoot) await rm(root, { recursive: true, force: true });
  };
  try {
    await startFirstTime(topology);
    await waitReady(topology, readyTimeoutMs);
  } catch (error) {
    await stop();
    throw error;
  }
  return superclusterHandle(topology, readyTimeoutMs, stop);
}

function superclusterHandle(
  topology: Topology,
  readyTimeoutMs: number,
  stop: () => Promise<void>,
): Supercluster {
  const inRegion = (region: string) => {
    const found = topology.slots.filter((s) => s.region === region);
    if (found.length === 0) throw new RangeError(`no region ${region} in this topology`);
    return found;
  };
  const one = (region: string, index: number) => {
    const slot = inRegion(region)[index];
    if (!slot) throw new RangeError(`no server ${index} in region ${region}`);
    return slot;
  };
  const regions: Record<string, RegionCluster> = {};
  for (const name of topology.regionNames) {
    const slots = inRegion(name);
    regions[name] = {
      name,
      urls: slots.map((s) => `nats://127.0.0.1:${s.clientPort}`),
      serverNames: slots.map((s) => s.name),
      get servers() {
        return slots.map((s) => s.launched!.server);
      },
    };
  }
  const restart = async (targets: Slot[]) => {
    await Promise.all(targets.map((slot) => restartSlot(topology, slot)));
    await waitReady(topology, readyTimeoutMs);
  };
  return {
    regions,
    killRegion: async (name) => {
      await Promise.all(inRegion(name).map(killSlot));
    },
    restartRegion: (name) => restart(inRegion(name)),
    killServer: (region, index) => killSlot(one(region, index)),
    restartServer: (region, index) => restart([one(region, index)]),
    stop,
  };
}

function validRegions(regions: (string | RegionSpec)[]): Required<RegionSpec>[] {
  const specs = regions.map((r) =>
    typeof r === 'string'
      ? { name: r, servers: DEFAULT_REGION_SERVERS }
      : { servers: DEFAULT_REGION_SERVERS, ...r },
  );
  const total = specs.reduce((sum, s) => sum + s.servers, 0);
  for (const spec of specs) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_-]*$/.test(spec.name))
      throw new RangeError(`bad region name "${spec.name}"`);
    if (!Number.isInteger(spec.servers) || spec.servers < 1) {
      throw new RangeError(`region ${spec.name}: servers must be a positive integer, got ${spec.servers}`);
    }
  }
  if (new Set(specs.map((s) => s.name)).size !== specs.length) throw new RangeError('region names repeat');
  // Clustered JetStream needs a meta group of two or more; one server is startNatsServer's job.
  if (total < 2 || total > TOPOLOGY_SERVERS_MAX) {
    throw new RangeError(
      `a topology has 2..${TOPOLOGY_SERVERS_MAX} servers, got ${total} (one server: startNatsServer)`,
    );
  }
  return specs;
}

/**
 * Reserves route and gateway ports for every server and starts them all. If a reserved port
 * was taken before its server bound it, every config that names it is stale, so the whole
 * topology starts again on fresh ports, a bounded number of times.
 */
async function startFirstTime(topology: Topology): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    const ports = await freeLoopbackPorts(topology.slots.length * 2);
    for (const [i, slot] of topology.slots.entries()) {
      slot.clusterPort = ports[2 * i]!;
      slot.gatewayPort = ports[2 * i + 1]!;
    }
    const started = await Promise.allSettled(topology.slots.map((slot) => startSlot(topology, slot)));
    const failure = started.find((r) => r.status === 'rejected');
    if (!failure) return;
    await Promise.all(topology.slots.map(killSlot));
    const error = failure.reason as unknown;
    const portTaken = error instanceof NatsServerStartError && error.addressInUse;
    if (!portTaken || attempt >= PORT_ATTEMPTS_MAX) throw error;
  }
}

/** Starts a killed server on its own ports; a port still held elsewhere is waited for, boundedly. */
async function restartSlot(topology: Topology, slot: Slot): Promise<void> {
  if (slot.running) throw new Error(`server ${slot.name} is running; kill it before restarting it`);
  for (let attempt = 1; ; attempt++) {
    try {
      return await startSlot(topology, slot);
    } catch (error) {
      const portTaken = error instanceof NatsServerStartError && error.addressInUse;
      if (!portTaken || attempt >= RESTART_ATTEMPTS_MAX) throw error;
      await sleep(RESTART_RETRY_DELAY_MS);
    }
  }
}

async function startSlot(topology: Topology, slot: Slot): Promise<void> {
  const { options, slots, regionNames } = topology;
  const peers = slots.filter((s) => s.region === slot.region);
  // JetStream in a cluster refuses to start without configured routes (gateways do not
  // count), so a region of one server routes to itself, which NATS recognises and skips.
  const routePeers = peers.length === 1 ? peers : peers.filter((s) => s !== slot);
  const launched = await launchNatsServer({
    serverName: slot.name,
    storeDir: slot.storeDir,
    port: slot.clientPort,
    startTimeoutMs: options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
    ...(options.syncInterval ? { syncInterval: options.syncInterval } : {}),
    ...(options.bin ? { bin: options.bin } : {}),
    ...(options.security ? { security: options.security } : {}),
    cluster: { name: slot.region, port: slot.clusterPort, routePorts: routePeers.map((s) => s.clusterPort) },
    ...(regionNames.length > 1
      ? {
          gateway: {
            name: slot.region,
            port: slot.gatewayPort,
            gateways: regionNames.map((name) => ({
              name,
              ports: slots.filter((s) => s.region === name).map((s) => s.gatewayPort),
            })),
          },
        }
      : {}),
  });
  slot.launched = launched;
  slot.clientPort = launched.clientPort;
  slot.running = true;
}

async function killSlot(slot: Slot): Promise<void> {
  if (!slot.running) return;
  slot.running = false;
  await slot.launched?.server.kill();
}

/** Polls every running server until all are ready, or throws naming what is still missing. */
async function waitReady(topology: Topology, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const running = topology.slots.filter((s) => s.running);
    const problems = (await Promise.all(running.map((slot) => probe(slot, running)))).filter(
      (p): p is string => p !== undefined,
    );
    if (problems.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(`NATS topology not ready within ${timeoutMs} ms: ${problems.join('; ')}`);
    }
    await sleep(READY_POLL_MS);
  }
}

/** What keeps one server from being ready, or undefined when it is. */
async function probe(slot: Slot, running: Slot[]): Promise<string | undefined> {
  const get = async <T>(path: string): Promise<T> => {
    const response = await fetch(`http://127.0.0.1:${slot.launched!.monitorPort}${path}`, {
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    return (await response.json()) as T;
  };
  try {
    const health = await get<{ status?: string; error?: string }>('/healthz');
    if (health.status !== 'ok') return `${slot.name}: healthz ${health.error ?? health.status}`;
    const routez = await get<{ routes?: { remote_name?: string }[] }>('/routez');
    const routed = new Set((routez.routes ?? []).map((r) => r.remote_name));
    const peers = running.filter((s) => s.region === slot.region && s !== slot && !routed.has(s.name));
    if (peers.length > 0) return `${slot.name}: no route to ${peers.map((s) => s.name).join(', ')}`;
    const otherRegions = [...new Set(running.map((s) => s.region))].filter((r) => r !== slot.region);
    if (otherRegions.length > 0) {
      const gatewayz = await get<{ outbound_gateways?: object; inbound_gateways?: object }>('/gatewayz');
      const outbound = Object.keys(gatewayz.outbound_gateways ?? {});
      const inbound = Object.keys(gatewayz.inbound_gateways ?? {});
      const missing = otherRegions.filter((r) => !outbound.includes(r) || !inbound.includes(r));
      if (missing.length > 0) return `${slot.name}: gateways to ${missing.join(', ')} not both ways`;
    }
    const jsz = await get<{ meta_cluster?: { leader?: string } }>('/jsz');
    if (!jsz.meta_cluster?.leader) return `${slot.name}: no JetStream meta leader`;
    return undefined;
  } catch (error) {
    return `${slot.name}: ${(error as Error).message}`;
  }
}
