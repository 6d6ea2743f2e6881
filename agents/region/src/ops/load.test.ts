import { isMeshError } from '@memmesh/core';
import { describe, expect, it } from 'vitest';
import { isShed, type LoadConfig, LoadTracker } from './load.ts';

const CONFIG: LoadConfig = {
  tenantSearchesInFlightMax: 2,
  shardQueriesInFlightMax: 3,
  shardQueryWaitBudgetMs: 100,
  hotShardQueriesPerSecond: 1,
  hotShardAppliesPerSecond: 1,
  hotTenantQueriesPerSecond: 1,
  hotTenantAppliesPerSecond: 1,
  hotShardP99Ms: 50,
};
const SHARDS = ['s0', 's1'];

function tracker(config: Partial<LoadConfig> = {}) {
  let now = 1_000_000;
  const events: string[] = [];
  const load = new LoadTracker(
    { ...CONFIG, ...config },
    {
      shardQuery: (origin, shard) => events.push(`query ${origin}/${shard}`),
      shed: (reason) => events.push(`shed ${reason}`),
      stale: () => events.push('stale'),
    },
    () => now,
  );
  return {
    load,
    events,
    advance(ms: number) {
      now += ms;
    },
  };
}

function shedError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('expected the search to be shed');
}

describe('load tracker', () => {
  it('load - a tenant with its searches in flight is shed with a 503 and a Retry-After, another tenant is not', () => {
    const { load, events } = tracker();
    const a = load.admitSearch('acme', 'r', SHARDS);
    load.admitSearch('acme', 'r', SHARDS);
    const err = shedError(() => load.admitSearch('acme', 'r', SHARDS));
    expect(isShed(err)).toBe(true);
    expect(isMeshError(err) && err.code).toBe('unavailable');
    expect(isMeshError(err) && err.retryAfterMs).toBeGreaterThan(0);
    expect(events).toContain('shed tenant');
    // Another tenant's search on the same shards goes ahead (2 in flight, the bound is 3).
    const g = load.admitSearch('globex', 'r', SHARDS);
    // Ending a search frees its tenant's slot.
    a.end();
    load.admitSearch('acme', 'r', SHARDS).end();
    g.end();
    const report = load.report();
    expect(report.tenants.find((t) => t.tenant === 'acme')).toMatchObject({ inFlight: 1, shed: 1 });
    expect(report.tenants.find((t) => t.tenant === 'globex')).toMatchObject({ inFlight: 0, shed: 0 });
  });

  it('load - a shard with too many queries in flight sheds every tenant’s new searches, until they are answered', () => {
    const { load } = tracker({ tenantSearchesInFlightMax: 10 });
    const held = ['t1', 't2', 't3'].map((t) => load.admitSearch(t, 'r', SHARDS));
    expect(isShed(shedError(() => load.admitSearch('t4', 'r', SHARDS)))).toBe(true);
    // Answers of one shard free that shard only; the other is still saturated.
    for (const h of held) h.shardDone('s0', 1);
    expect(isShed(shedError(() => load.admitSearch('t4', 'r', ['s1'])))).toBe(true);
    load.admitSearch('t4', 'r', ['s0']).end();
    for (const h of held) h.end();
    load.admitSearch('t4', 'r', SHARDS).end();
    expect(load.report().shards.every((s) => s.inFlight === 0)).toBe(true);
  });

  it('load - a shard slower than its budget sheds only while queries queue for it', () => {
    const { load, events } = tracker({ tenantSearchesInFlightMax: 10, shardQueriesInFlightMax: 100 });
    const slow = load.admitSearch('acme', 'r', ['s0']);
    slow.shardDone('s0', 500);
    slow.end();
    // Slow, but nothing queued: a slow query is not saturation.
    const first = load.admitSearch('acme', 'r', ['s0']);
    // Now one is in flight and the p99 is over the budget: the next is shed.
    expect(isShed(shedError(() => load.admitSearch('globex', 'r', ['s0'])))).toBe(true);
    first.end();
    expect(events.filter((e) => e === 'shed shard')).toHaveLength(1);
    expect(events).toContain('query r/s0');
  });

  it('load - the p99 and rates are over the last window only: old figures age out', () => {
    const { load, advance } = tracker({ tenantSearchesInFlightMax: 10, shardQueriesInFlightMax: 100 });
    const slow = load.admitSearch('acme', 'r', ['s0']);
    slow.shardDone('s0', 500);
    slow.end();
    for (let i = 0; i < 30; i++) load.applied('r', 's0', 'acme');
    let report = load.report();
    expect(report.shards[0]).toMatchObject({ hot: true, p99Ms: 500, appliesPerSecond: 3 });
    expect(report.shards[0]?.reasons.join(' ')).toMatch(/p99 500 ms.*|applies\/s 3/);
    expect(report.tenants[0]).toMatchObject({ tenant: 'acme', hot: true });
    advance(11_000);
    report = load.report();
    expect(report.shards[0]).toMatchObject({
      hot: false,
      p99Ms: 0,
      appliesPerSecond: 0,
      queriesPerSecond: 0,
    });
    expect(report.tenants[0]).toMatchObject({ hot: false });
    // And a slow shard from before no longer sheds.
    const a = load.admitSearch('acme', 'r', ['s0']);
    load.admitSearch('acme', 'r', ['s0']).end();
    a.end();
  });

  it('load - end() and shardDone() are idempotent: a search never frees a slot twice', () => {
    const { load } = tracker({ tenantSearchesInFlightMax: 10 });
    const a = load.admitSearch('acme', 'r', SHARDS);
    a.shardDone('s0', 1);
    a.shardDone('s0', 1);
    a.end();
    a.end();
    const b = load.admitSearch('acme', 'r', SHARDS);
    expect(load.report().shards.map((s) => s.inFlight)).toEqual([1, 1]);
    expect(load.report().tenants[0]?.inFlight).toBe(1);
    b.end();
  });

  it('load - the report lists hot tenants first, then by rate', () => {
    const { load } = tracker({
      tenantSearchesInFlightMax: 100,
      shardQueriesInFlightMax: 1_000,
      hotTenantQueriesPerSecond: 2,
    });
    for (let i = 0; i < 5; i++) load.admitSearch('quiet', 'r', SHARDS).end();
    for (let i = 0; i < 30; i++) load.admitSearch('busy', 'r', SHARDS).end();
    const tenants = load.report().tenants;
    expect(tenants.map((t) => [t.tenant, t.hot])).toEqual([
      ['busy', true],
      ['quiet', false],
    ]);
    expect(tenants[0]?.queriesPerSecond).toBe(3);
  });
});
