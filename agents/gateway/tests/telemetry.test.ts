/**
 * Metrics and traces end to end: a real nats-server, a region agent and a gateway in this
 * process, each over real HTTP, with spans kept in memory. One write and one search through
 * the gateway must each make one connected trace (gateway → agent → publish → apply, and
 * gateway → agent → shard queries), and both /metrics must export the whole catalogue.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RegionAgent, resolveConfig, startRegionAgent } from '@memmesh/region-agent';
import { type LockedNats, startLockedNats } from '@memmesh/region-agent/testing';
import {
  AGENT_METRIC_NAMES,
  createTracerProvider,
  GATEWAY_METRIC_NAMES,
  InMemorySpanExporter,
  type ReadableSpan,
  scrapeMetricNames,
  silentLogger,
} from '@memmesh/telemetry';
import { eventually, type HttpServer, serveHttp } from '@memmesh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, resolveGatewayConfig, startGateway } from '../src/index.ts';
import { send } from './regions.ts';

const exporter = new InMemorySpanExporter();
const agentTracing = createTracerProvider({
  serviceName: 'memmesh-region-agent',
  exporter,
  exportEachSpan: true,
});
const gatewayTracing = createTracerProvider({
  serviceName: 'memmesh-gateway',
  exporter,
  exportEachSpan: true,
});

let nats: LockedNats;
let dataDir: string;
let agent: RegionAgent;
let agentHttp: HttpServer;
let gateway: Gateway;
let gatewayHttp: HttpServer;
let agentUrl: string;
let gatewayUrl: string;

beforeAll(async () => {
  nats = await startLockedNats();
  dataDir = await mkdtemp(join(tmpdir(), 'memmesh-telemetry-'));
  const config = resolveConfig({ ...nats.agent, dataDir, port: 0 });
  agent = await startRegionAgent(config, silentLogger, { tracerProvider: agentTracing });
  agentHttp = await serveHttp(agent.app.fetch);
  agentUrl = agentHttp.url;
  const gatewayConfig = resolveGatewayConfig({ endpoints: { 'us-east-1': agentUrl }, probeIntervalMs: 100 });
  gateway = await startGateway(gatewayConfig, silentLogger, agent.routing, {
    tracerProvider: gatewayTracing,
  });
  gatewayHttp = await serveHttp(gateway.app.fetch);
  gatewayUrl = gatewayHttp.url;
}, 60_000);

afterAll(async () => {
  await gateway?.close();
  for (const http of [gatewayHttp, agentHttp]) await http?.close();
  await agent?.close();
  await nats?.stop();
  await agentTracing.shutdown();
  await gatewayTracing.shutdown();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

const serviceOf = (span: ReadableSpan) => span.resource.attributes['service.name'];

/** The span and its ancestors, nearest first, as far as the recorded spans reach. */
function ancestry(span: ReadableSpan, spans: ReadableSpan[]): ReadableSpan[] {
  const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
  const chain = [span];
  // Bounded by the number of spans: each step moves to a different recorded span.
  for (let current = span; chain.length <= spans.length; ) {
    const parent = byId.get(current.parentSpanContext?.spanId ?? '');
    if (!parent) break;
    chain.push(parent);
    current = parent;
  }
  return chain;
}

/** The gateway's server span of `route` in the recorded spans. */
function gatewayServerSpan(spans: ReadableSpan[], name: string): ReadableSpan | undefined {
  return spans.find((s) => s.name === name && serviceOf(s) === 'memmesh-gateway' && s.kind === 1);
}

describe('telemetry', () => {
  it('telemetry - one trace runs from the gateway through the agent and the publish to the apply', async () => {
    exporter.reset();
    const write = await send(gatewayUrl, 'POST', '/v1/memories?wait=true', {
      id: 'traced-1',
      text: 'The cartographer traced every river of the northern valley.',
    });
    expect(write.status).toBe(202);
    expect(write.body.applied).toBe(true);
    const { root, apply } = await eventually('gateway and apply spans', async () => {
      const spans = exporter.getFinishedSpans();
      const root = gatewayServerSpan(spans, 'POST /v1/memories');
      const apply = spans.find(
        (s) => s.name === 'apply' && s.spanContext().traceId === root?.spanContext().traceId,
      );
      return root && apply ? { root, apply } : undefined;
    });
    const chain = ancestry(apply, exporter.getFinishedSpans());
    expect(chain.map((s) => `${serviceOf(s)}:${s.name}`)).toEqual([
      'memmesh-region-agent:apply',
      'memmesh-region-agent:publish',
      'memmesh-region-agent:POST /v1/memories',
      'memmesh-gateway:proxy us-east-1',
      'memmesh-gateway:POST /v1/memories',
    ]);
    expect(chain.at(-1)?.spanContext().spanId).toBe(root.spanContext().spanId);
    expect(new Set(chain.map((s) => s.spanContext().traceId)).size).toBe(1);
    const embed = exporter.getFinishedSpans().find((s) => s.name === 'embed');
    expect(embed?.spanContext().traceId).toBe(root.spanContext().traceId);
  });

  it('telemetry - a search is one trace from the gateway to every shard query', async () => {
    exporter.reset();
    const search = await send(gatewayUrl, 'POST', '/v1/search', { query: 'rivers of the northern valley' });
    expect(search.status).toBe(200);
    expect(search.body.results[0]?.id).toBe('traced-1');
    const spans = await eventually('shard query spans', async () => {
      const spans = exporter.getFinishedSpans();
      const queries = spans.filter((s) => s.name.startsWith('query q.'));
      return gatewayServerSpan(spans, 'POST /v1/search') && queries.length === agent.config.shardCount
        ? spans
        : undefined;
    });
    const root = gatewayServerSpan(spans, 'POST /v1/search') as ReadableSpan;
    for (const query of spans.filter((s) => s.name.startsWith('query q.'))) {
      const chain = ancestry(query, spans);
      expect(chain.at(-1)?.spanContext().spanId).toBe(root.spanContext().spanId);
      expect(chain.map((s) => s.name)).toContain('POST /v1/search');
      expect(query.spanContext().traceId).toBe(root.spanContext().traceId);
    }
  });

  it('telemetry - /metrics of a live agent and gateway export every catalogue metric after traffic', async () => {
    await send(gatewayUrl, 'POST', '/v1/search', { query: 'rivers of the northern valley' });
    await send(gatewayUrl, 'GET', '/v1/memories/traced-1');
    const agentNames = await scrapeMetricNames(`${agentUrl}/metrics`);
    const gatewayNames = await scrapeMetricNames(`${gatewayUrl}/metrics`);
    expect(AGENT_METRIC_NAMES.filter((name) => !agentNames.has(name))).toEqual([]);
    expect(GATEWAY_METRIC_NAMES.filter((name) => !gatewayNames.has(name))).toEqual([]);
    expect(agentNames).toContain('nodejs_eventloop_lag_seconds');

    const agentText = await (await fetch(`${agentUrl}/metrics`)).text();
    const sample = (text: string, name: string, labels: Record<string, string>) =>
      text
        .split('\n')
        .filter((line) => line.startsWith(`${name}{`))
        .filter((line) => Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`)))
        .map((line) => Number(line.slice(line.lastIndexOf(' ') + 1)));
    const us = { region: 'us-east-1', service: 'region-agent' };
    expect(
      sample(agentText, 'memmesh_events_applied_total', { ...us, origin: 'us-east-1' }).some((v) => v >= 1),
    ).toBe(true);
    expect(sample(agentText, 'memmesh_consumer_lag_messages', us)).toEqual([0, 0, 0, 0]);
    expect(sample(agentText, 'memmesh_consumer_lag_seconds', us)).toEqual([0, 0, 0, 0]);
    expect(
      sample(agentText, 'memmesh_http_requests_total', {
        route: '/v1/search',
        method: 'POST',
        status: '200',
      }),
    ).toEqual([2]);
    expect(
      sample(agentText, 'memmesh_http_requests_total', { route: '/v1/memories/*', status: '200' }),
    ).toEqual([1]);
    expect(sample(agentText, 'memmesh_cache_hits_total', { cache: 'result', backend: 'lru' })).toEqual([1]);
    expect(
      sample(agentText, 'memmesh_vector_store_writes_total', { backend: 'embedded' })[0],
    ).toBeGreaterThan(0);
    expect(sample(agentText, 'memmesh_publish_duration_seconds_count', us)).toEqual([1]);
    expect(agentText).not.toContain('traced-1');

    const gatewayText = await (await fetch(`${gatewayUrl}/metrics`)).text();
    expect(
      sample(gatewayText, 'memmesh_gateway_requests_total', {
        route: '/v1/search',
        status: '200',
        serving_region: 'us-east-1',
        region: 'global',
        service: 'gateway',
      }),
    ).toEqual([2]);
    expect(sample(gatewayText, 'memmesh_region_up', { target_region: 'us-east-1' })).toEqual([1]);
    expect(
      sample(gatewayText, 'memmesh_region_probe_rtt_seconds', { target_region: 'us-east-1' })[0],
    ).toBeLessThan(1);
  });
});
