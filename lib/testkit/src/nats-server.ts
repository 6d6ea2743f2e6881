/**
 * @module nats-server
 * Starts a real nats-server for tests and the local mesh: JetStream on, loopback only,
 * random ports (the server picks them and reports them in a ports file, so there is no
 * race between choosing a port and binding it), a temporary store directory, and a
 * teardown that always kills the process and removes what it created.
 *
 * The configuration and the process handling here are also what the clustered topologies
 * (nats-topology.ts) run on, so a server in a cluster is configured like a standalone one
 * plus its `cluster` and `gateway` blocks.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '@memmesh/core';
import { hasExited, keepOutputTail, killOnExit, terminate } from './child-process.ts';
import type { NatsServerSecurity } from './nats-security.ts';

export interface NatsServerOptions {
  /** Prefix of the generated server name. */
  name?: string;
  /**
   * Exact server name. Clustered JetStream knows its peers by name, so a server restarted on
   * the same store must keep it; a standalone server gets a unique generated one.
   */
  serverName?: string;
  /** Store directory; a fresh temporary one when omitted (and then removed on stop). */
  storeDir?: string;
  /** Client port; 0 lets the server pick (the default). Set it to restart on the same port. */
  port?: number;
  /** Extra configuration appended verbatim, for what the options below do not cover. */
  extraConfig?: string;
  /** JetStream fsync policy; NATS's default is a 2 minute interval. */
  syncInterval?: 'always' | string;
  startTimeoutMs?: number;
  /** Path of the nats-server binary; defaults to MEMMESH_NATS_SERVER_BIN or .tools/bin. */
  bin?: string;
  /** Joins a cluster (one region): a `cluster {}` block with routes to the peers. */
  cluster?: NatsServerClusterOptions;
  /** Joins a supercluster: a `gateway {}` block naming every region's gateways. */
  gateway?: NatsServerGatewayOptions;
  /**
   * Locks the server down: TLS on client, route and gateway connections, and only the
   * accounts' users may connect (createNatsSecurity). Anonymous and plaintext when omitted.
   */
  security?: NatsServerSecurity;
}

export interface NatsServerClusterOptions {
  /** Cluster name; JetStream places streams by it (`placement.cluster`). */
  name: string;
  /** Route port on 127.0.0.1. Peers must know it before they start, so it cannot be picked by the server. */
  port: number;
  /** Route ports of the peers on 127.0.0.1. A server's own port is recognised and skipped by NATS. */
  routePorts: number[];
}

export interface NatsServerGatewayOptions {
  /** Gateway name: the cluster's name, as NATS requires. */
  name: string;
  /** Gateway port on 127.0.0.1, known up front for the same reason as the route port. */
  port: number;
  /** Every cluster of the supercluster with its servers' gateway ports; its own entry is ignored by NATS. */
  gateways: { name: string; ports: number[] }[];
}

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  /** The HTTP monitoring endpoint (`/varz`, `/connz`, …), plaintext on loopback. */
  readonly monitorUrl: string;
  readonly storeDir: string;
  readonly pid: number;
  /** Stops the server (SIGTERM, then SIGKILL after a grace period) and removes temp dirs. */
  stop(): Promise<void>;
  /** kill -9: the store directory is kept, for crash tests. */
  kill(): Promise<void>;
}

/** A started server and the ports it reported, for the topologies that probe its monitoring port. */
export interface LaunchedNatsServer {
  readonly server: NatsServer;
  readonly serverName: string;
  readonly clientPort: number;
  /** The HTTP monitoring port (`/healthz`, `/jsz`, `/routez`, `/gatewayz`), loopback only. */
  readonly monitorPort: number;
}

/** The server exited before it reported its ports; `addressInUse` says a port was taken. */
export class NatsServerStartError extends Error {
  override readonly name = 'NatsServerStartError';
  readonly addressInUse: boolean;

  constructor(message: string, addressInUse: boolean) {
    super(message);
    this.addressInUse = addressInUse;
  }
}

export const DEFAULT_START_TIMEOUT_MS = 10_000;
const POLL_INTERVAL_MS = 20;
/**
 * Events carry whole documents with their embeddings. 1 MB is NATS's default, stated so that a
 * test server refuses the same oversized message production does.
 */
const MAX_PAYLOAD = '1MB';

export function natsServerBin(): string {
  const fromEnv = process.env.MEMMESH_NATS_SERVER_BIN;
  if (fromEnv) return fromEnv;
  const local = new URL('../../../.tools/bin/nats-server', import.meta.url).pathname;
  if (existsSync(local)) return local;
  throw new Error('nats-server not found: run the tests with `npm test`, which installs it into .tools/bin');
}

export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  return (await launchNatsServer(options)).server;
}

/** Starts a server and waits until it has reported its client and monitoring ports. */
export async function launchNatsServer(options: NatsServerOptions = {}): Promise<LaunchedNatsServer> {
  const workDir = await mkdtemp(join(tmpdir(), 'memmesh-nats-'));
  const removeWorkDir = () => rm(workDir, { recursive: true, force: true });
  const storeDir = options.storeDir ?? join(workDir, 'store');
  const name = options.name ?? 'memmesh-test';
  const serverName = options.serverName ?? `${name}-${process.pid}-${Date.now().toString(36)}`;
  let child: ChildProcess | undefined;
  let ports: { client: number; monitor: number };
  try {
    await mkdir(storeDir, { recursive: true });
    const configPath = join(workDir, 'nats.conf');
    await writeFile(configPath, natsServerConfig({ ...options, serverName, storeDir }, workDir));
    child = spawn(options.bin ?? natsServerBin(), ['-c', configPath], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    killOnExit(child);
    const timeoutMs = options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS;
    ports = await waitForPorts(child, workDir, timeoutMs, keepOutputTail(child));
  } catch (error) {
    if (child) await terminate(child, 'SIGKILL');
    await removeWorkDir();
    throw error;
  }
  const running = child;
  const server: NatsServer = {
    url: `nats://127.0.0.1:${ports.client}`,
    port: ports.client,
    monitorUrl: `http://127.0.0.1:${ports.monitor}`,
    storeDir,
    pid: running.pid ?? -1,
    async stop() {
      await terminate(running, 'SIGTERM');
      // A caller-supplied store outlives the server; a temporary one lives inside workDir.
      await removeWorkDir();
    },
    async kill() {
      await terminate(running, 'SIGKILL');
      // A crash keeps the store, so a crash test passes its own storeDir and restarts on it.
      await removeWorkDir();
    },
  };
  return { server, serverName, clientPort: ports.client, monitorPort: ports.monitor };
}

/**
 * The whole configuration file, the one place where memmesh's server settings live, so a
 * standalone test server and every server of a supercluster run with the same limits.
 */
export function natsServerConfig(
  options: NatsServerOptions & { serverName: string; storeDir: string },
  portsFileDir: string,
): string {
  const clientPort = options.port && options.port > 0 ? options.port : -1;
  return [
    `server_name: "${options.serverName}"`,
    `listen: "127.0.0.1:${clientPort}"`,
    // Monitoring on a port the server picks (reported in the ports file): the topologies poll
    // it to know when routes, gateways and the JetStream meta leader are in place.
    'http: "127.0.0.1:-1"',
    `ports_file_dir: "${portsFileDir}"`,
    `max_payload: ${MAX_PAYLOAD}`,
    jetStreamBlock(options),
    options.security ? clientSecurityBlock(options.security) : '',
    options.cluster ? clusterBlock(options.cluster, options.security) : '',
    options.gateway ? gatewayBlock(options.gateway, options.security) : '',
    options.extraConfig ?? '',
  ].join('\n');
}

function jetStreamBlock(options: NatsServerOptions & { storeDir: string }): string {
  return [
    'jetstream {',
    `  store_dir: "${options.storeDir}"`,
    '  max_memory_store: 256MB',
    '  max_file_store: 8GB',
    options.syncInterval ? `  sync_interval: ${options.syncInterval}` : '',
    '}',
  ].join('\n');
}

/** Clients must speak TLS and authenticate as one of the accounts' users. */
function clientSecurityBlock(security: NatsServerSecurity): string {
  return [tlsBlock(security, false, ''), security.accountsConfig].join('\n');
}

/**
 * A `tls {}` block. Routes and gateways verify the peer's certificate too (`verify`), so only
 * a server holding a certificate of the CA can join the cluster or the supercluster; clients
 * prove who they are with their nkey instead.
 */
function tlsBlock(security: NatsServerSecurity, verify: boolean, indent: string): string {
  const { certFile, keyFile, caFile } = security.tls;
  return [
    `${indent}tls {`,
    `${indent}  cert_file: "${certFile}"`,
    `${indent}  key_file: "${keyFile}"`,
    `${indent}  ca_file: "${caFile}"`,
    verify ? `${indent}  verify: true` : '',
    `${indent}  timeout: 2`,
    `${indent}}`,
  ].join('\n');
}

function clusterBlock(cluster: NatsServerClusterOptions, security: NatsServerSecurity | undefined): string {
  const routes = cluster.routePorts.map((port) => `"nats-route://127.0.0.1:${port}"`);
  return [
    'cluster {',
    `  name: "${cluster.name}"`,
    `  listen: "127.0.0.1:${cluster.port}"`,
    `  routes: [${routes.join(', ')}]`,
    security ? tlsBlock(security, true, '  ') : '',
    '}',
  ].join('\n');
}

function gatewayBlock(gateway: NatsServerGatewayOptions, security: NatsServerSecurity | undefined): string {
  const remotes = gateway.gateways.map(({ name, ports }) => {
    const urls = ports.map((port) => `"nats://127.0.0.1:${port}"`);
    return `    { name: "${name}", urls: [${urls.join(', ')}] }`;
  });
  return [
    'gateway {',
    `  name: "${gateway.name}"`,
    `  listen: "127.0.0.1:${gateway.port}"`,
    security ? tlsBlock(security, true, '  ') : '',
    '  gateways: [',
    remotes.join(',\n'),
    '  ]',
    '}',
  ].join('\n');
}

async function waitForPorts(
  child: ChildProcess,
  dir: string,
  timeoutMs: number,
  log: () => string,
): Promise<{ client: number; monitor: number }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (hasExited(child)) {
      const output = log();
      // Every listener (client, route, gateway, monitoring) reports a taken port this way.
      const addressInUse = /address already in use/i.test(output);
      throw new NatsServerStartError(
        `nats-server exited with ${child.exitCode ?? child.signalCode}:\n${output}`,
        addressInUse,
      );
    }
    const file = (await readdir(dir)).find((f) => f.endsWith('.ports'));
    if (file) {
      const ports = await readPorts(join(dir, file));
      if (ports !== undefined) return ports;
    }
    await sleep(POLL_INTERVAL_MS);
  }
  throw new Error(`nats-server did not start within ${timeoutMs} ms:\n${log()}`);
}

/** Client and monitoring ports from a ports file; undefined while the server is still writing it. */
async function readPorts(path: string): Promise<{ client: number; monitor: number } | undefined> {
  try {
    const ports = JSON.parse(await readFile(path, 'utf8')) as { nats?: string[]; monitoring?: string[] };
    const client = ports.nats?.[0];
    const monitor = ports.monitoring?.[0];
    return client && monitor
      ? { client: Number(new URL(client).port), monitor: Number(new URL(monitor).port) }
      : undefined;
  } catch {
    // Seen under load: the file exists but is empty or half written. Read it again shortly.
    return undefined;
  }
}
