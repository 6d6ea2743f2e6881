/**
 * The admin API on the demo tenants (an in-memory routing table seeded from regions/, the
 * gateway's app in process): a residency is removed only explicitly, so a PUT that leaves it
 * out of a residency-bound tenant's policy cannot let the tenant be replicated out of its zone.
 */
import { openSeededRoutingTable, type RoutingTable } from '@memmesh/routing';
import { silentLogger } from '@memmesh/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, resolveGatewayConfig, startGateway } from '../src/index.ts';

const REGIONS_DIR = new URL('../../../regions', import.meta.url).pathname;
const ADMIN = 'admin-test-key-0123';

let routing: RoutingTable;
let gateway: Gateway;

beforeAll(async () => {
  ({ routing } = await openSeededRoutingTable(REGIONS_DIR));
  // No region is probed: the admin API needs only the routing table.
  const config = resolveGatewayConfig({ adminKey: ADMIN, probeIntervalMs: 60_000 });
  gateway = await startGateway(config, silentLogger, routing);
});

afterAll(async () => {
  await gateway?.close();
  await routing?.close();
});

const put = (tenant: string, version: number, body: unknown) =>
  gateway.app.request(`/v1/admin/tenants/${tenant}`, {
    method: 'PUT',
    headers: {
      authorization: `Bearer ${ADMIN}`,
      'content-type': 'application/json',
      'if-match': `"${version}"`,
    },
    body: JSON.stringify(body),
  });

describe('admin', () => {
  it('admin - a PUT that leaves out a tenant’s residency is refused; keeping or removing it must be said', async () => {
    const before = await routing.getTenant('globex');
    expect(before?.residency).toBe('eu');
    const dropped = await put('globex', before?.version ?? 0, { home: 'eu-central-1', replicas: [] });
    expect(dropped.status).toBe(400);
    expect(((await dropped.json()) as { error: { message: string } }).error.message).toContain('residency');
    expect((await routing.getTenant('globex'))?.residency).toBe('eu');

    const kept = await put('globex', before?.version ?? 0, {
      home: 'eu-central-1',
      replicas: [],
      residency: 'eu',
    });
    expect(kept.status).toBe(200);
    const removed = await put('globex', (before?.version ?? 0) + 1, {
      home: 'eu-central-1',
      replicas: [],
      residency: null,
    });
    expect(removed.status).toBe(200);
    expect((await routing.getTenant('globex'))?.residency).toBeUndefined();
  });

  it('admin - a PUT is the whole policy: one without replicas is refused rather than dropping them', async () => {
    const acme = await routing.getTenant('acme');
    const res = await put('acme', acme?.version ?? 0, { home: 'us-east-1' });
    expect(res.status).toBe(400);
    expect((await routing.getTenant('acme'))?.replicas).toEqual(acme?.replicas);
  });

  it('admin - a tenant without a residency may leave it out', async () => {
    const acme = await routing.getTenant('acme');
    const res = await put('acme', acme?.version ?? 0, { home: 'us-east-1', replicas: ['eu-central-1'] });
    expect(res.status).toBe(200);
  });
});
