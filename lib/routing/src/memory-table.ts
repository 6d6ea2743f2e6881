/**
 * @module memory-table
 * The embedded routing table: plain maps in the process, seeded from `regions/`. Every
 * process of the local mesh seeds the same files, so they agree; policy changes made at run
 * time, API keys created through the admin API included, stay in the process that made them
 * (production shares one DynamoDB table).
 */
import { ErrorCode, MeshError } from '@memmesh/core';
import {
  type ApiKeyRecord,
  apiKeyHashOf,
  isApiKeyActive,
  newApiKeyRecord,
  seededApiKeyRecord,
  unknownKeyId,
} from './api-keys.ts';
import { checkPlacement } from './placement.ts';
import {
  type RegionConfig,
  type RegionRecord,
  type RegionStatus,
  type TenantPolicy,
  type TenantPolicyInput,
  TenantPolicyInputSchema,
} from './schemas.ts';
import type { ControlRow, PutTenantOptions, RoutingTable } from './types.ts';

export interface MemoryRoutingTableOptions {
  now?: () => number;
}

export function createMemoryRoutingTable(options: MemoryRoutingTableOptions = {}): RoutingTable {
  const now = options.now ?? Date.now;
  const regions = new Map<string, RegionRecord>();
  const tenants = new Map<string, TenantPolicy>();
  const controls = new Map<string, ControlRow>();
  // Callers get copies, so that mutating a result never edits the table.
  const copy = <T>(value: T): T => structuredClone(value);

  return {
    kind: 'memory',
    async getRegion(id) {
      const found = regions.get(id);
      return found && copy(found);
    },
    async listRegions() {
      return [...regions.values()].map(copy);
    },
    async putRegion(config) {
      const existing = regions.get(config.id);
      const record: RegionRecord = {
        config: copy(config),
        status: existing?.status ?? 'up',
        updatedAtMs: now(),
        ...(existing?.endpoint ? { endpoint: existing.endpoint } : {}),
      };
      regions.set(config.id, record);
      return copy(record);
    },
    async setRegionStatus(id, status: RegionStatus, endpoint) {
      const existing = regions.get(id);
      if (!existing) throw new MeshError(ErrorCode.NotFound, `unknown region ${id}`);
      const record = { ...existing, status, updatedAtMs: now(), ...(endpoint ? { endpoint } : {}) };
      regions.set(id, record);
      return copy(record);
    },
    async getTenant(tenant) {
      const found = tenants.get(tenant);
      return found && copy(found);
    },
    async listTenants() {
      return [...tenants.values()].map(copy);
    },
    async putTenant(input: TenantPolicyInput, putOptions: PutTenantOptions = {}) {
      const policy = TenantPolicyInputSchema.parse(input);
      checkPlacement(policy, configsOf(regions));
      const current = tenants.get(policy.tenant);
      expectVersion(policy.tenant, current?.version ?? 0, putOptions.expectedVersion);
      const next: TenantPolicy = { ...policy, version: (current?.version ?? 0) + 1, updatedAtMs: now() };
      tenants.set(policy.tenant, next);
      return copy(next);
    },
    ...memoryKeys((tenant) => tenants.has(tenant), now),
    async getControl(name) {
      const found = controls.get(name);
      return found && copy(found);
    },
    async putControl(name, value, expectedVersion) {
      const current = controls.get(name);
      expectVersion(`control ${name}`, current?.version ?? 0, expectedVersion);
      const row = { name, value: copy(value), version: (current?.version ?? 0) + 1 };
      controls.set(name, row);
      return copy(row);
    },
    async close() {},
  };
}

type KeyMethods = Pick<
  RoutingTable,
  | 'putApiKey'
  | 'deleteApiKey'
  | 'tenantOfApiKey'
  | 'apiKeyOf'
  | 'createApiKey'
  | 'listApiKeys'
  | 'revokeApiKey'
>;

/** API key records by hash, and each tenant's key ids (for listing and revoking by id). */
function memoryKeys(tenantExists: (tenant: string) => boolean, now: () => number): KeyMethods {
  const byHash = new Map<string, ApiKeyRecord>();
  const byTenant = new Map<string, Map<string, string>>();
  const copy = (record: ApiKeyRecord): ApiKeyRecord => structuredClone(record);
  const ofTenant = (tenant: string) =>
    [...(byTenant.get(tenant)?.values() ?? [])]
      .map((hash) => byHash.get(hash) as ApiKeyRecord)
      .sort((a, b) => a.createdAtMs - b.createdAtMs);
  const store = (hash: string, record: ApiKeyRecord) => {
    remove(hash);
    byHash.set(hash, record);
    byTenant.set(record.tenant, (byTenant.get(record.tenant) ?? new Map()).set(record.keyId, hash));
  };
  const remove = (hash: string) => {
    const record = byHash.get(hash);
    byHash.delete(hash);
    if (record) byTenant.get(record.tenant)?.delete(record.keyId);
  };
  return {
    async putApiKey(apiKey, tenant, keyOptions = {}) {
      const hash = apiKeyHashOf(apiKey);
      store(hash, seededApiKeyRecord(hash, tenant, keyOptions, byHash.get(hash)?.createdAtMs ?? now()));
    },
    async deleteApiKey(apiKey) {
      remove(apiKeyHashOf(apiKey));
    },
    async tenantOfApiKey(apiKey) {
      const record = byHash.get(apiKeyHashOf(apiKey));
      return record && isApiKeyActive(record, now()) ? record.tenant : undefined;
    },
    async apiKeyOf(apiKey) {
      const found = byHash.get(apiKeyHashOf(apiKey));
      return found && copy(found);
    },
    async createApiKey(input) {
      if (!tenantExists(input.tenant))
        throw new MeshError(ErrorCode.NotFound, `unknown tenant ${input.tenant}`);
      const { key, hash, record } = newApiKeyRecord(input, ofTenant(input.tenant), now());
      store(hash, record);
      return { key, record: copy(record) };
    },
    async listApiKeys(tenant) {
      return ofTenant(tenant).map(copy);
    },
    async revokeApiKey(tenant, keyId) {
      const hash = byTenant.get(tenant)?.get(keyId);
      const record = hash === undefined ? undefined : byHash.get(hash);
      if (hash === undefined || !record) throw unknownKeyId(tenant, keyId);
      remove(hash);
      return copy(record);
    },
  };
}

function configsOf(regions: ReadonlyMap<string, RegionRecord>): Map<string, RegionConfig> {
  return new Map([...regions].map(([id, record]) => [id, record.config]));
}

export function expectVersion(what: string, current: number, expected: number | undefined): void {
  if (expected === undefined || expected === current) return;
  throw new MeshError(ErrorCode.VersionConflict, `${what} is at version ${current}, not ${expected}`);
}
