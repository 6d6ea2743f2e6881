/**
 * @module memory-table
 * The embedded routing table: plain maps in the process, seeded from `regions/`. Every
 * process of the local mesh seeds the same files, so they agree; policy changes made at run
 * time stay in the process that made them (production shares one DynamoDB table).
 */
import { ErrorCode, MeshError, sha256Hex } from '@memmesh/core';
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
  const keys = new Map<string, string>();
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
    async putApiKey(apiKey, tenant) {
      keys.set(sha256Hex(apiKey), tenant);
    },
    async deleteApiKey(apiKey) {
      keys.delete(sha256Hex(apiKey));
    },
    async tenantOfApiKey(apiKey) {
      return keys.get(sha256Hex(apiKey));
    },
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

function configsOf(regions: ReadonlyMap<string, RegionRecord>): Map<string, RegionConfig> {
  return new Map([...regions].map(([id, record]) => [id, record.config]));
}

export function expectVersion(what: string, current: number, expected: number | undefined): void {
  if (expected === undefined || expected === current) return;
  throw new MeshError(ErrorCode.VersionConflict, `${what} is at version ${current}, not ${expected}`);
}
