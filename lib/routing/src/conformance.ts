/**
 * @module conformance
 * The conformance suite every RoutingTable implementation passes, against a real instance
 * (in memory; DynamoDB Local). Names are unique per run, so the suite can share a table.
 */
import { randomBytes } from 'node:crypto';
import { ErrorCode, isMeshError } from '@memmesh/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RegionConfig } from './schemas.ts';
import type { RoutingTable } from './types.ts';

const region = (
  id: string,
  residency: string,
  embedder: RegionConfig['backends']['embedder'] = 'local',
): RegionConfig => ({
  id,
  location: { latitude: 1, longitude: 2 },
  residency,
  nats: { cluster: id, servers: 1 },
  shardCount: 4,
  streamReplicas: 1,
  backends: { index: 'embedded', cache: 'lru', embedder },
});

const isCode = (code: string) => (err: unknown) => isMeshError(err) && err.code === code;

export function describeRoutingTableConformance(name: string, make: () => Promise<RoutingTable>): void {
  describe(`routing table conformance (${name})`, () => {
    let table: RoutingTable;
    const run = randomBytes(4).toString('hex');
    const us = `us-t${run}`;
    const eu = `eu-t${run}`;
    const eu2 = `eu-u${run}`;
    const euOpenAi = `eu-o${run}`;
    const tenant = (label: string) => `${label}-${run}`;

    beforeAll(async () => {
      table = await make();
      await table.putRegion(region(us, 'us'));
      await table.putRegion(region(eu, 'eu'));
      await table.putRegion(region(eu2, 'eu'));
      await table.putRegion(region(euOpenAi, 'eu', 'openai'));
    });

    afterAll(async () => {
      await table?.close();
    });

    it('regions - round trip, status and endpoint', async () => {
      expect((await table.getRegion(us))?.config).toEqual(region(us, 'us'));
      expect((await table.listRegions()).map((r) => r.config.id)).toEqual(
        expect.arrayContaining([us, eu, eu2]),
      );
      const down = await table.setRegionStatus(eu, 'down', 'http://127.0.0.1:9999');
      expect(down).toMatchObject({ status: 'down', endpoint: 'http://127.0.0.1:9999' });
      // Re-putting the configuration keeps status and endpoint.
      expect(await table.putRegion(region(eu, 'eu'))).toMatchObject({
        status: 'down',
        endpoint: 'http://127.0.0.1:9999',
      });
      await table.setRegionStatus(eu, 'up');
      expect(await table.getRegion(`nowhere-${run}`)).toBeUndefined();
      await expect(table.setRegionStatus(`nowhere-${run}`, 'up')).rejects.toSatisfy(
        isCode(ErrorCode.NotFound),
      );
    });

    it('tenants - versions start at 1 and bump on every write', async () => {
      const t = tenant('ver');
      const v1 = await table.putTenant({ tenant: t, home: us, replicas: [eu] }, { expectedVersion: 0 });
      expect(v1).toMatchObject({ tenant: t, home: us, replicas: [eu], version: 1 });
      const v2 = await table.putTenant({ tenant: t, home: us, replicas: [] }, { expectedVersion: 1 });
      expect(v2.version).toBe(2);
      expect(await table.getTenant(t)).toMatchObject({ replicas: [], version: 2 });
      expect((await table.listTenants()).map((p) => p.tenant)).toContain(t);
      expect(await table.getTenant(tenant('none'))).toBeUndefined();
    });

    it('tenants - a stale or missing expected version is a conflict', async () => {
      const t = tenant('occ');
      await table.putTenant({ tenant: t, home: us }, { expectedVersion: 0 });
      await expect(table.putTenant({ tenant: t, home: eu }, { expectedVersion: 0 })).rejects.toSatisfy(
        isCode(ErrorCode.VersionConflict),
      );
      await expect(table.putTenant({ tenant: t, home: eu }, { expectedVersion: 7 })).rejects.toSatisfy(
        isCode(ErrorCode.VersionConflict),
      );
      expect((await table.getTenant(t))?.home).toBe(us);
    });

    it('tenants - two writers racing on one version: one wins, one gets a conflict', async () => {
      const t = tenant('race');
      await table.putTenant({ tenant: t, home: us }, { expectedVersion: 0 });
      const results = await Promise.allSettled([
        table.putTenant({ tenant: t, home: us, replicas: [eu] }, { expectedVersion: 1 }),
        table.putTenant({ tenant: t, home: us, replicas: [eu2] }, { expectedVersion: 1 }),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(1);
      expect(isCode(ErrorCode.VersionConflict)((lost[0] as PromiseRejectedResult).reason)).toBe(true);
      expect((await table.getTenant(t))?.version).toBe(2);
    });

    it('tenants - placement outside the residency zone or on unknown regions is refused', async () => {
      const t = tenant('eu');
      await expect(
        table.putTenant({ tenant: t, home: eu, replicas: [us], residency: 'eu' }),
      ).rejects.toSatisfy(isCode(ErrorCode.BadRequest));
      await expect(table.putTenant({ tenant: t, home: us, residency: 'eu' })).rejects.toSatisfy(
        isCode(ErrorCode.BadRequest),
      );
      await expect(table.putTenant({ tenant: t, home: `nowhere-${run}` })).rejects.toSatisfy(
        isCode(ErrorCode.BadRequest),
      );
      await expect(table.putTenant({ tenant: t, home: eu, replicas: [eu] })).rejects.toSatisfy(
        isCode(ErrorCode.BadRequest),
      );
      // A replica embedding with another model could not search the home's vectors.
      await expect(table.putTenant({ tenant: t, home: eu, replicas: [euOpenAi] })).rejects.toThrow(
        /embeds with openai/,
      );
      expect(await table.getTenant(t)).toBeUndefined();
      const ok = await table.putTenant({ tenant: t, home: eu, replicas: [eu2], residency: 'eu' });
      expect(ok).toMatchObject({ home: eu, replicas: [eu2], residency: 'eu' });
    });

    it('api keys - map to tenants and can be revoked', async () => {
      const key = `key-${run}-${randomBytes(8).toString('hex')}`;
      expect(await table.tenantOfApiKey(key)).toBeUndefined();
      await table.putApiKey(key, tenant('keys'));
      expect(await table.tenantOfApiKey(key)).toBe(tenant('keys'));
      await table.deleteApiKey(key);
      expect(await table.tenantOfApiKey(key)).toBeUndefined();
    });

    it('control rows - versioned, conditional', async () => {
      const name = `reindex-${run}`;
      expect(await table.getControl(name)).toBeUndefined();
      expect(await table.putControl(name, { model: 'a' }, 0)).toEqual({
        name,
        value: { model: 'a' },
        version: 1,
      });
      await expect(table.putControl(name, { model: 'b' }, 0)).rejects.toSatisfy(
        isCode(ErrorCode.VersionConflict),
      );
      expect((await table.putControl(name, { model: 'b' }, 1)).version).toBe(2);
      expect((await table.getControl(name))?.value).toEqual({ model: 'b' });
    });
  });
}
