/**
 * @module mesh-bench
 * `npm run bench:mesh`: the multi-region figures of memmesh, on real processes — a NATS
 * supercluster of three regions, one agent per region and the gateway, all served over HTTP
 * on loopback — each beside its baseline in the same run:
 *   - search through the gateway beside the same search sent straight to the agent that
 *     serves it (the gateway's overhead), from a client in its own process;
 *   - replication lag: write acknowledged in the home region → searchable in a replica;
 *   - failover time: the serving region's agent stops answering → first successful read
 *     from another region, over repeated trials.
 * Prints a table and writes it, with the machine and the command, to MESH_RESULTS.md.
 */
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import { type Gateway, resolveGatewayConfig, startGateway } from '@memmesh/gateway';
import { type RegionAgent, resolveConfig, startRegionAgent } from '@memmesh/region-agent';
import { createMemoryRoutingTable, loadTopology, seedRoutingTable } from '@memmesh/routing';
import { silentLogger } from '@memmesh/telemetry';
import { createNatsSecurity, natsServerBin, startSupercluster } from '@memmesh/testkit';
import { runClient } from './client-process.ts';
import { makeCorpus, makeQueries } from './corpus.ts';
import { percentile } from './stats.ts';

const REGIONS = ['us-east-1', 'eu-central-1', 'ap-southeast-1'] as const;
const DOCS = 2_000;
const LAG_TRIALS = 100;
const FAILOVER_TRIALS = 10;
const POLL_MS = 2;
const WAIT_MS_MAX = 10_000;
const HEADERS = { authorization: 'Bearer acme-dev-key', 'content-type': 'application/json' };

interface Served {
  agent: RegionAgent;
  server: Server;
  port: number;
}

async function serveOn(
  fetchFn: (req: Request) => Response | Promise<Response>,
  port = 0,
): Promise<{ server: Server; port: number }> {
  const server = serve({ fetch: fetchFn, hostname: '127.0.0.1', port }) as Server;
  await new Promise((r) => server.once('listening', r));
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0 };
}

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = performance.now() + WAIT_MS_MAX;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, POLL_MS));
  }
}

const post = (url: string, path: string, body: unknown, extra: Record<string, string> = {}) =>
  fetch(`${url}${path}`, { method: 'POST', headers: { ...HEADERS, ...extra }, body: JSON.stringify(body) });
/** On loopback every region is equally near: the hint makes us-east-1 the one serving. */
const PIN_US = { 'x-client-region': 'us-east-1' };

async function main(): Promise<void> {
  // Locked down as in production (TLS, nkey users), so the figures include what that costs.
  const security = await createNatsSecurity({ regions: REGIONS });
  const sc = await startSupercluster({ regions: [...REGIONS], security });
  const dataDir = await mkdtemp(join(tmpdir(), 'memmesh-mesh-bench-'));
  const routing = createMemoryRoutingTable();
  await seedRoutingTable(routing, await loadTopology(new URL('../../regions', import.meta.url).pathname));
  const served = {} as Record<(typeof REGIONS)[number], Served>;
  let gateway: Gateway | undefined;
  let gatewayServer: Server | undefined;
  try {
    for (const region of REGIONS) {
      const natsUrl = sc.regions[region]?.urls.join(',') ?? '';
      const config = resolveConfig({
        region,
        natsUrl,
        natsCredsFile: security.agent(region).credsFile,
        natsTlsCaFile: security.agent(region).tls.caFile,
        dataDir,
        port: 0,
        resultCacheTtlMs: 0,
        tenantRequestsPerSecond: 1e6,
        tenantBurst: 1e6,
      });
      const agent = await startRegionAgent(config, silentLogger, { routing });
      served[region] = { agent, ...(await serveOn(agent.app.fetch)) };
    }
    const endpoints = Object.fromEntries(REGIONS.map((r) => [r, `http://127.0.0.1:${served[r].port}`]));
    gateway = await startGateway(
      resolveGatewayConfig({
        endpoints,
        probeIntervalMs: 100,
        tenantRequestsPerSecond: 1e6,
        tenantBurst: 1e6,
      }),
      silentLogger,
      routing,
    );
    const g = await serveOn(gateway.app.fetch);
    gatewayServer = g.server;
    const rows = await run(`http://127.0.0.1:${g.port}`, endpoints, served);
    await report(rows);
  } finally {
    gatewayServer?.closeAllConnections();
    gatewayServer?.close();
    await gateway?.close();
    for (const s of Object.values(served)) {
      s.server.closeAllConnections();
      s.server.close();
      await s.agent.close();
    }
    await sc.stop();
    await security.remove();
    await rm(dataDir, { recursive: true, force: true });
  }
}

type Row = [metric: string, memmesh: string, baseline: string, aim: string, met: string];

async function run(
  gatewayUrl: string,
  endpoints: Record<string, string>,
  served: Record<string, Served>,
): Promise<Row[]> {
  const corpus = makeCorpus(DOCS);
  for (let b = 0; b < DOCS; b += 100) {
    const res = await post(gatewayUrl, '/v1/memories/batch?wait=true', {
      memories: corpus.slice(b, b + 100),
    });
    if (res.status !== 202) throw new Error(`ingest failed: ${res.status}`);
  }
  const home = endpoints['us-east-1'] as string;
  const replica = endpoints['eu-central-1'] as string;
  await until('replicas caught up', async () =>
    served['eu-central-1']?.agent.region.status('acme').shards.reduce((n, s) => n + s.docs, 0) === DOCS
      ? true
      : undefined,
  );

  // Gateway overhead: the same searches through the gateway and straight to the region it picks.
  const queries = makeQueries(corpus, 2_000);
  const job = { mode: 'search' as const, queries, count: 1_000, concurrency: 1, timeMsMax: 20_000 };
  const direct = await runClient({ ...job, url: home }, 60_000);
  const through = await runClient({ ...job, url: gatewayUrl }, 60_000);
  const overhead = through.p50Ms - direct.p50Ms;

  // Replication lag: acknowledged at home → searchable in the replica.
  const lags: number[] = [];
  for (let i = 0; i < LAG_TRIALS; i++) {
    const text = `replication lag probe ${i} ${Math.random().toString(36).slice(2)}`;
    const res = await post(home, '/v1/memories', { id: `lag-${i}`, text });
    if (res.status !== 202) throw new Error(`lag write failed: ${res.status}`);
    const acked = performance.now();
    await until(`lag-${i} searchable in the replica`, async () => {
      const r = await post(replica, '/v1/search', { query: text, topK: 1 });
      const body = (await r.json()) as { results: { id: string }[] };
      return body.results[0]?.id === `lag-${i}` ? true : undefined;
    });
    lags.push(performance.now() - acked);
  }
  lags.sort((a, b) => a - b);

  // Failover: the serving region stops answering; time to the first successful read elsewhere.
  const failovers: number[] = [];
  const us = served['us-east-1'] as Served;
  for (let t = 0; t < FAILOVER_TRIALS; t++) {
    await until('reads served by us-east-1', async () => {
      const r = await post(gatewayUrl, '/v1/search', { query: 'probe', topK: 1 }, PIN_US);
      await r.arrayBuffer();
      return r.headers.get('x-memmesh-region') === 'us-east-1' ? true : undefined;
    });
    us.server.closeAllConnections();
    await new Promise((r) => us.server.close(r));
    const killed = performance.now();
    await until('a read served elsewhere', async () => {
      const r = await post(gatewayUrl, '/v1/search', { query: 'probe', topK: 1 }, PIN_US);
      await r.arrayBuffer();
      return r.status === 200 && r.headers.get('x-memmesh-region') !== 'us-east-1' ? true : undefined;
    });
    failovers.push(performance.now() - killed);
    us.server = (await serveOn(us.agent.app.fetch, us.port)).server;
  }
  failovers.sort((a, b) => a - b);

  const ms = (n: number) => n.toFixed(2);
  return [
    [
      'search p50 / p99 through the gateway (ms)',
      `${ms(through.p50Ms)} / ${ms(through.p99Ms)}`,
      `${ms(direct.p50Ms)} / ${ms(direct.p99Ms)} straight to the agent`,
      'gateway overhead ≤ 0.5 ms at p50',
      `${overhead <= 0.5 ? 'yes' : '**missed**'} (+${ms(overhead)} ms)`,
    ],
    [
      `replication lag p50 / p99, ack in us-east-1 → searchable in eu-central-1 (ms, ${LAG_TRIALS} trials)`,
      `${ms(percentile(lags, 50))} / ${ms(percentile(lags, 99))}`,
      '',
      'p99 ≤ 1000 ms',
      percentile(lags, 99) <= 1_000 ? 'yes' : '**missed**',
    ],
    [
      `failover p50 / p99, serving agent stops → first read elsewhere (ms, ${FAILOVER_TRIALS} trials)`,
      `${ms(percentile(failovers, 50))} / ${ms(percentile(failovers, 99))}`,
      '',
      'p99 ≤ 1000 ms',
      percentile(failovers, 99) <= 1_000 ? 'yes' : '**missed**',
    ],
  ];
}

async function report(rows: Row[]): Promise<void> {
  const natsVersion = execFileSync(natsServerBin(), ['--version']).toString().trim();
  const machine = `${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, ${natsVersion}`;
  const text = [
    `Measured ${new Date().toISOString().slice(0, 10)} with \`npm run bench:mesh\` on ${machine}.`,
    `Three regions on one machine (a NATS supercluster on loopback), ${DOCS} documents of tenant acme (home us-east-1), result cache off.`,
    '',
    '| metric | memmesh | baseline (same run) | aim | met |',
    '|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.join(' | ')} |`),
    '',
  ].join('\n');
  console.log(`\n${text}`);
  await writeFile(new URL('./MESH_RESULTS.md', import.meta.url), `# Multi-region bench results\n\n${text}`);
}

main().catch((err: unknown) => {
  console.error(`bench:mesh failed: ${err instanceof Error ? err.stack : String(err)}`);
  process.exit(1);
});
