/**
 * @module conformance
 * The conformance suite every RoutingTable implementation passes, against a real instance
 * (in memory; DynamoDB Local). Names are unique per run, so the suite can share a table.
 */
import { randomBytes } from 'node:crypto';
import { ErrorCode, isMeshError } from '@memmesh/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiKeyInput, apiKeyHashOf, apiKeyIdOf } from './api-keys.ts';
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
const sleepMs = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

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

    describeApiKeyCases(() => table, { us, tenant });

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

interface KeyCaseContext {
  us: string;
  tenant: (label: string) => string;
}

/** Scoped keys, rotation, expiry and revocation: what the admin API and both services rely on. */
function describeApiKeyCases(tableOf: () => RoutingTable, { us, tenant }: KeyCaseContext): void {
  const withTenant = async (label: string) => {
    const t = tenant(label);
    await tableOf().putTenant({ tenant: t, home: us });
    return t;
  };

  it('api keys - a created key is answered once, looked up by its hash, listed without secrets', async () => {
    const table = tableOf();
    const t = await withTenant('scoped');
    const { key, record } = await table.createApiKey({ tenant: t, scopes: ['write', 'read', 'read'] });
    expect(key).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(record).toMatchObject({ tenant: t, scopes: ['read', 'write'] });
    expect(record.keyId).toBe(apiKeyIdOf(apiKeyHashOf(key)));
    expect(await table.apiKeyOf(key)).toEqual(record);
    expect(await table.tenantOfApiKey(key)).toBe(t);
    const listed = await table.listApiKeys(t);
    expect(listed).toEqual([record]);
    const text = JSON.stringify(listed);
    expect(text).not.toContain(key);
    expect(text).not.toContain(apiKeyHashOf(key));
    expect(await table.apiKeyOf(`${key}x`)).toBeUndefined();
  });

  it('api keys - at most two active keys per tenant; revoking one makes room (rotation)', async () => {
    const table = tableOf();
    const t = await withTenant('rotate');
    const old = await table.createApiKey({ tenant: t, scopes: ['read', 'write'] });
    const next = await table.createApiKey({ tenant: t, scopes: ['read', 'write'] });
    expect(await table.tenantOfApiKey(old.key)).toBe(t);
    expect(await table.tenantOfApiKey(next.key)).toBe(t);
    await expect(table.createApiKey({ tenant: t, scopes: ['read'] })).rejects.toSatisfy(
      (err: unknown) => isCode(ErrorCode.Conflict)(err) && /at most 2/.test((err as Error).message),
    );
    expect(await table.revokeApiKey(t, old.record.keyId)).toEqual(old.record);
    expect(await table.apiKeyOf(old.key)).toBeUndefined();
    expect(await table.tenantOfApiKey(old.key)).toBeUndefined();
    expect((await table.listApiKeys(t)).map((r) => r.keyId)).toEqual([next.record.keyId]);
    await expect(table.createApiKey({ tenant: t, scopes: ['read'] })).resolves.toBeDefined();
  });

  it('api keys - two creates racing for the last slot: one wins, one gets a conflict', async () => {
    const table = tableOf();
    const t = await withTenant('keyrace');
    await table.createApiKey({ tenant: t, scopes: ['read'] });
    const results = await Promise.allSettled([
      table.createApiKey({ tenant: t, scopes: ['read'] }),
      table.createApiKey({ tenant: t, scopes: ['write'] }),
    ]);
    expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
    const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(isCode(ErrorCode.Conflict)(lost.reason)).toBe(true);
    expect(await table.listApiKeys(t)).toHaveLength(2);
  });

  it('api keys - an expired key stays listed, no longer counts as active, and maps to no tenant', async () => {
    const table = tableOf();
    const t = await withTenant('expiry');
    const soon = await table.createApiKey({ tenant: t, scopes: ['read'], expiresAtMs: Date.now() + 300 });
    await table.createApiKey({ tenant: t, scopes: ['read'] });
    await sleepMs(400);
    expect(await table.tenantOfApiKey(soon.key)).toBeUndefined();
    // The record is still found, so that a service can say the key expired rather than unknown.
    expect((await table.apiKeyOf(soon.key))?.expiresAtMs).toBe(soon.record.expiresAtMs);
    await expect(table.createApiKey({ tenant: t, scopes: ['read'] })).resolves.toBeDefined();
    expect(await table.listApiKeys(t)).toHaveLength(3);
  });

  it('api keys - seeded keys may read and write, and seeding again changes nothing', async () => {
    const table = tableOf();
    const t = await withTenant('seeded');
    const key = `seeded-${randomBytes(12).toString('hex')}`;
    await table.putApiKey(key, t);
    const first = await table.apiKeyOf(key);
    expect(first).toMatchObject({ tenant: t, scopes: ['read', 'write'] });
    await table.putApiKey(key, t);
    expect(await table.listApiKeys(t)).toEqual([first]);
    await table.putApiKey(`${key}-ro`, t, { scopes: ['read'] });
    expect((await table.apiKeyOf(`${key}-ro`))?.scopes).toEqual(['read']);
  });

  it('api keys - unknown tenants and ids are not_found, bad scopes and expiries bad_request', async () => {
    const table = tableOf();
    const t = await withTenant('badkeys');
    await expect(table.createApiKey({ tenant: tenant('nobody'), scopes: ['read'] })).rejects.toSatisfy(
      isCode(ErrorCode.NotFound),
    );
    await expect(table.revokeApiKey(t, '0123456789abcdef')).rejects.toSatisfy(isCode(ErrorCode.NotFound));
    for (const bad of [
      { tenant: t, scopes: [] },
      { tenant: t, scopes: ['root'] },
      { tenant: t, scopes: ['read'], expiresAtMs: Date.now() - 1 },
      { tenant: t, scopes: ['read'], expiresAtMs: Date.now() + 20 * 365 * 24 * 3600 * 1000 },
    ]) {
      await expect(table.createApiKey(bad as ApiKeyInput)).rejects.toSatisfy(isCode(ErrorCode.BadRequest));
    }
    expect(await table.listApiKeys(t)).toEqual([]);
  });
}
