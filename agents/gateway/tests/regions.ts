/**
 * @module regions
 * Test harness: three single-region agents, each on its own real nats-server, served over
 * real HTTP on loopback. us-east-1 runs as a child process (`node agents/region/src/main.ts`)
 * so that a test can kill -9 it and start it again on the same port; the other two run in
 * this process. The agents do not replicate to each other: each knows the demo keys itself
 * (single-region mode) and a test writes the documents it reads into every region. Every
 * nats-server is locked down (TLS, nkey users) and each agent connects as its region's role,
 * the child process through MEMMESH_NATS_CREDS and MEMMESH_NATS_TLS_CA as a deployment would.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RegionAgent, resolveConfig, startRegionAgent } from '@memmesh/region-agent';
import {
  createMemoryRoutingTable,
  loadTopology,
  type RoutingTable,
  seedRoutingTable,
} from '@memmesh/routing';
import { silentLogger } from '@memmesh/telemetry';
import {
  createNatsSecurity,
  createTeardown,
  type HttpServer,
  jsonSender,
  type NatsSecurity,
  type NatsServer,
  type ServiceProcess,
  serveHttp,
  startNatsServer,
  startServiceProcess,
} from '@memmesh/testkit';

export const REGIONS = ['us-east-1', 'eu-central-1', 'ap-southeast-1'] as const;
export type RegionId = (typeof REGIONS)[number];
export const ACME = 'Bearer acme-dev-key';
export const GLOBEX = 'Bearer globex-dev-key';

const AGENT_MAIN = new URL('../../region/src/main.ts', import.meta.url).pathname;
const REGIONS_DIR = new URL('../../../regions', import.meta.url).pathname;
const AGENT_START_TIMEOUT_MS = 30_000;

/** One request to an app (in process) or a URL (over HTTP), as acme unless headers say otherwise. */
export const send = jsonSender({ authorization: ACME });

export interface Regions {
  nats: Record<RegionId, NatsServer>;
  /** kill -9 of a region's nats-server: its agent stays up and answers 503. */
  killNats(region: RegionId): Promise<void>;
  /** The same server again: same port, same store. */
  restartNats(region: RegionId): Promise<void>;
  /** us-east-1's agent, a child process: kill -9 and start again on the same port. */
  us: ServiceProcess;
  inProcess: Record<'eu-central-1' | 'ap-southeast-1', { agent: RegionAgent; http: HttpServer }>;
  /** Direct base URL of each region's agent. */
  urls: Record<RegionId, string>;
  /** The gateway's view: regions and tenants of regions/, as a memory table. */
  routing: RoutingTable;
  stop(): Promise<void>;
}

export async function startRegions(): Promise<Regions> {
  const root = await mkdtemp(join(tmpdir(), 'memmesh-gw-regions-'));
  const teardown = createTeardown();
  teardown.push(() => rm(root, { recursive: true, force: true }));
  try {
    const storeOf = (region: RegionId) => join(root, region);
    await Promise.all(REGIONS.map((region) => mkdir(storeOf(region))));
    const security = await createNatsSecurity({ regions: REGIONS });
    teardown.push(() => security.remove());
    const servers = await Promise.all(
      REGIONS.map((region) => startNatsServer({ storeDir: storeOf(region), security })),
    );
    const nats = Object.fromEntries(REGIONS.map((r, i) => [r, servers[i]])) as Regions['nats'];
    // Stopped through the map, so that a restarted server is the one stopped.
    for (const region of REGIONS) teardown.push(() => nats[region].stop());
    const killNats = (region: RegionId) => nats[region].kill();
    const restartNats = async (region: RegionId) => {
      nats[region] = await startNatsServer({ storeDir: storeOf(region), port: nats[region].port, security });
    };
    const us = await startAgentProcess('us-east-1', nats['us-east-1'].url, security);
    teardown.push(() => us.kill());
    const inProcess = {} as Regions['inProcess'];
    for (const region of ['eu-central-1', 'ap-southeast-1'] as const) {
      const files = security.agent(region);
      const config = resolveConfig({
        region,
        natsUrl: nats[region].url,
        natsCredsFile: files.credsFile,
        natsTlsCaFile: files.tls.caFile,
        port: 0,
      });
      const agent = await startRegionAgent(config, silentLogger);
      teardown.push(() => agent.close());
      const http = await serveHttp(agent.app.fetch);
      teardown.push(() => http.close());
      inProcess[region] = { agent, http };
    }
    const urls = {
      'us-east-1': us.url,
      'eu-central-1': inProcess['eu-central-1'].http.url,
      'ap-southeast-1': inProcess['ap-southeast-1'].http.url,
    };
    const routing = createMemoryRoutingTable();
    await seedRoutingTable(routing, await loadTopology(REGIONS_DIR));
    // Agents before their NATS servers, in reverse order of start.
    return { nats, killNats, restartNats, us, inProcess, urls, routing, stop: () => teardown.run() };
  } catch (err) {
    await teardown.run().catch(() => undefined);
    throw err;
  }
}

function startAgentProcess(
  region: RegionId,
  natsUrl: string,
  security: NatsSecurity,
): Promise<ServiceProcess> {
  const files = security.agent(region);
  return startServiceProcess({
    script: AGENT_MAIN,
    portEnv: 'MEMMESH_PORT',
    env: {
      MEMMESH_REGION: region,
      MEMMESH_AGENT_ID: `${region}-gw-test`,
      MEMMESH_NATS_URL: natsUrl,
      MEMMESH_NATS_CREDS: files.credsFile,
      MEMMESH_NATS_TLS_CA: files.tls.caFile,
      MEMMESH_HOST: '127.0.0.1',
      MEMMESH_LOG_LEVEL: 'info',
    },
    startTimeoutMs: AGENT_START_TIMEOUT_MS,
  });
}
