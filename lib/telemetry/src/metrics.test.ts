import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { AGENT_METRIC_NAMES, createMetrics, GATEWAY_METRIC_NAMES, METRIC_NAMES } from './metrics.ts';
import { parseMetricNames } from './scrape.ts';

const CATALOGUE = new URL('../METRICS.md', import.meta.url).pathname;

/** Metric names of the catalogue's tables: the first cell of rows that name a memmesh metric. */
function catalogueNames(markdown: string): string[] {
  return [...markdown.matchAll(/^\| (memmesh_[a-z0-9_]+) \|/gm)].map((m) => m[1] as string);
}

describe('metrics', () => {
  it('metrics - an agent registry exports every agent metric of the catalogue and no gateway one', async () => {
    const metrics = createMetrics({ region: 'us-east-1', service: 'region-agent' });
    const names = parseMetricNames(await metrics.registry.metrics());
    for (const name of AGENT_METRIC_NAMES) expect(names, name).toContain(name);
    for (const name of GATEWAY_METRIC_NAMES) expect(names, name).not.toContain(name);
    expect(names).toContain('process_cpu_seconds_total');
  });

  it('metrics - a gateway registry exports every gateway metric of the catalogue', async () => {
    const metrics = createMetrics({ region: 'global', service: 'gateway', defaultMetrics: false });
    const names = parseMetricNames(await metrics.registry.metrics());
    expect([...names].sort()).toEqual([...GATEWAY_METRIC_NAMES].sort());
  });

  it('metrics - region and service are default labels, and two registries do not share values', async () => {
    const a = createMetrics({ region: 'us-east-1', service: 'region-agent', defaultMetrics: false });
    const b = createMetrics({ region: 'eu-central-1', service: 'region-agent', defaultMetrics: false });
    a.publishErrors.inc({ code: 'unavailable' });
    const text = await a.registry.metrics();
    expect(text).toContain(
      'memmesh_publish_errors_total{code="unavailable",region="us-east-1",service="region-agent"} 1',
    );
    expect(await b.registry.metrics()).not.toContain('code="unavailable"');
  });

  it('metrics - scrape hooks run once per scrape, and a failing hook does not fail the scrape', async () => {
    const metrics = createMetrics({ region: 'us-east-1', service: 'region-agent', defaultMetrics: false });
    let runs = 0;
    metrics.onScrape(() => {
      runs++;
      metrics.consumerLagMessages.set({ origin: 'us-east-1', shard: 's00' }, 7);
    });
    const remove = metrics.onScrape(() => {
      throw new Error('down');
    });
    const text = await metrics.registry.metrics();
    expect(runs).toBe(1);
    expect(text).toMatch(/memmesh_consumer_lag_messages\{origin="us-east-1",shard="s00",[^}]*\} 7/);
    remove();
    await metrics.registry.metrics();
    expect(runs).toBe(2);
  });

  it('metrics - METRIC_NAMES and the catalogue list the same names', () => {
    const listed = catalogueNames(readFileSync(CATALOGUE, 'utf8'));
    expect([...listed].sort()).toEqual([...METRIC_NAMES].sort());
  });
});
