/**
 * The alerts and the dashboard query only metrics that memmesh exports: every name they use
 * is scraped from a live agent and gateway (spawned as the chart runs them) after a write
 * and a search have gone through.
 */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { byKind, render } from './helm.ts';
import { type LiveMesh, startLiveMesh } from './live.ts';
import { exportedMetricNames, metricNamesUsed } from './metric-names.ts';

let mesh: LiveMesh;

beforeAll(async () => {
  mesh = await startLiveMesh();
}, 60_000);

afterAll(async () => {
  await mesh?.stop();
});

async function scrape(url: string): Promise<Set<string>> {
  const res = await fetch(`${url}/metrics`, { signal: AbortSignal.timeout(5_000) });
  expect(res.status).toBe(200);
  return exportedMetricNames(await res.text()).names;
}

describe('metrics - names', () => {
  test('metrics - alerts and dashboard use only metric names that a live agent or gateway exports', async () => {
    const headers = { authorization: 'Bearer acme-dev-key', 'content-type': 'application/json' };
    const write = await fetch(`${mesh.gatewayUrl}/v1/memories?wait=true`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ id: 'live-1', text: 'A memory written so that every metric has a series.' }),
      signal: AbortSignal.timeout(10_000),
    });
    expect(write.status).toBe(202);
    const search = await fetch(`${mesh.gatewayUrl}/v1/search`, {
      method: 'POST',
      headers,
      body: JSON.stringify({ query: 'a memory written' }),
      signal: AbortSignal.timeout(10_000),
    });
    expect(search.status).toBe(200);
    const exported = new Set([...(await scrape(mesh.agentUrl)), ...(await scrape(mesh.gatewayUrl))]);
    expect(exported.size).toBeGreaterThan(20);
    const used = metricNamesUsed(await render('us-east-1'));
    expect(used.filter((name) => !exported.has(name))).toEqual([]);
    // The alerts the issue asks for are there, on the metrics it names.
    for (const name of [
      'memmesh_consumer_lag_seconds',
      'memmesh_vector_store_write_errors_total',
      'memmesh_vector_store_writes_total',
      'memmesh_cache_hits_total',
      'memmesh_cache_misses_total',
      'memmesh_dead_letters_total',
      'memmesh_region_up',
    ]) {
      expect(used).toContain(name);
    }
  });

  test('metrics - the dashboard shows lag, latency, errors and cache ratio per region and shard', async () => {
    const manifests = await render('us-east-1');
    const [rule] = byKind(manifests, 'PrometheusRule');
    const alerts = rule?.spec.groups.flatMap((g: any) => g.rules.map((r: any) => r.alert));
    expect(alerts.sort()).toEqual([
      'MemmeshCacheHitRatioLow',
      'MemmeshConsumerLagHigh',
      'MemmeshDeadLettersIncreasing',
      'MemmeshHot',
      'MemmeshRegionUnreachable',
      'MemmeshSearchesShed',
      'MemmeshVectorStoreWriteErrors',
    ]);
    const rules = rule?.spec.groups.flatMap((g: any) => g.rules);
    expect(rules.find((r: any) => r.alert === 'MemmeshHot').expr).toBe(
      'max by (region, kind, id) (memmesh_hot) == 1',
    );
    expect(rules.find((r: any) => r.alert === 'MemmeshSearchesShed').expr).toMatch(
      /memmesh_searches_shed_total/,
    );
    const lag = rule?.spec.groups[0].rules.find((r: any) => r.alert === 'MemmeshConsumerLagHigh');
    expect(lag.expr).toMatch(/memmesh_consumer_lag_seconds\) > 30$/);
    expect(lag.for).toBe('2m');

    const dashboard = manifests.find((m) => m.metadata.labels?.grafana_dashboard === '1');
    const json = JSON.parse(dashboard?.data?.['memmesh.json'] ?? '{}');
    const exprs: string[] = json.panels.flatMap((p: any) => (p.targets ?? []).map((t: any) => t.expr));
    expect(exprs.some((e) => /memmesh_consumer_lag_seconds/.test(e) && /shard/.test(e))).toBe(true);
    expect(exprs.some((e) => /histogram_quantile\(0\.99, .*_duration_seconds_bucket/.test(e))).toBe(true);
    expect(exprs.some((e) => /status=~"5\.\."/.test(e))).toBe(true);
    expect(exprs.some((e) => /memmesh_cache_hits_total.*memmesh_cache_misses_total/.test(e))).toBe(true);
    expect(exprs.every((e) => e.includes('region=~"$region"'))).toBe(true);
  });

  test('metrics - every alert links to a runbook section that exists', async () => {
    const readme = await readFile(new URL('../../README.md', import.meta.url), 'utf8');
    // GitHub's anchors: headings lower-cased, spaces to dashes.
    const anchors = new Set(
      [...readme.matchAll(/^#+ (.+)$/gm)].map((m) => (m[1] as string).toLowerCase().replaceAll(' ', '-')),
    );
    const [rule] = byKind(await render('us-east-1'), 'PrometheusRule');
    for (const alert of rule?.spec.groups.flatMap((g: any) => g.rules) ?? []) {
      const anchor = String(alert.annotations.runbook_url).split('#')[1];
      expect(anchors, `${alert.alert} → #${anchor}`).toContain(anchor);
    }
  });
});
