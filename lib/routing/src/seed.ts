/**
 * @module seed
 * Loads the region files (`regions/<id>/region.json`) and the demo tenants file
 * (`regions/tenants.json`), validates them, and seeds a routing table with them. A bad file
 * stops start-up with a message that names the file and the field.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, MeshError, parseConfig } from '@memmesh/core';
import { checkPlacement } from './placement.ts';
import { type RegionConfig, RegionConfigSchema, type TenantsFile, TenantsFileSchema } from './schemas.ts';
import type { RoutingTable } from './types.ts';

export interface Topology {
  regions: RegionConfig[];
  tenants: TenantsFile['tenants'];
}

export async function loadTopology(regionsDir: string): Promise<Topology> {
  const entries = await readdir(regionsDir, { withFileTypes: true });
  const regions: RegionConfig[] = [];
  for (const entry of entries.filter((e) => e.isDirectory()).sort((a, b) => a.name.localeCompare(b.name))) {
    const file = join(regionsDir, entry.name, 'region.json');
    const region = await parseFile(file, RegionConfigSchema);
    if (region.id !== entry.name) {
      throw new MeshError(
        ErrorCode.Config,
        `${file}: id ${region.id} does not match its folder ${entry.name}`,
      );
    }
    regions.push(region);
  }
  const tenantsFile = join(regionsDir, 'tenants.json');
  const { tenants } = await parseFile(tenantsFile, TenantsFileSchema);
  const byId = new Map(regions.map((r) => [r.id, r]));
  for (const tenant of tenants) {
    try {
      checkPlacement(tenant, byId);
    } catch (err) {
      throw new MeshError(ErrorCode.Config, `${tenantsFile}: ${(err as Error).message}`);
    }
  }
  return { regions, tenants };
}

async function parseFile<S extends Parameters<typeof parseConfig>[0]>(file: string, schema: S) {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(file, 'utf8'));
  } catch (err) {
    throw new MeshError(ErrorCode.Config, `${file}: ${(err as Error).message}`);
  }
  try {
    return parseConfig(schema, json);
  } catch (err) {
    throw new MeshError(ErrorCode.Config, `${file}: ${(err as Error).message}`);
  }
}

/** Writes regions, tenant policies and API keys into the table (idempotent). */
export async function seedRoutingTable(table: RoutingTable, topology: Topology): Promise<void> {
  for (const region of topology.regions) await table.putRegion(region);
  for (const { apiKeys, ...policy } of topology.tenants) {
    const current = await table.getTenant(policy.tenant);
    await table.putTenant(policy, { expectedVersion: current?.version ?? 0 });
    for (const key of apiKeys) await table.putApiKey(key, policy.tenant);
  }
}
