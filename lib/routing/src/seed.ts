/**
 * @module seed
 * Loads the region files (`regions/<id>/region.json`) and the demo tenants file
 * (`regions/tenants.json`), validates them, and seeds a routing table with them. A bad file
 * stops start-up with a message that names the file and the field.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { ErrorCode, MeshError, parseConfig } from '@memmesh/core';
import { createMemoryRoutingTable } from './memory-table.ts';
import { checkPlacement } from './placement.ts';
import { type RegionConfig, RegionConfigSchema, type TenantsFile, TenantsFileSchema } from './schemas.ts';
import type { RoutingTable } from './types.ts';

export interface Topology {
  regions: RegionConfig[];
  tenants: TenantsFile['tenants'];
}

/**
 * The region folders of `regionsDir`, sorted: folders and links to folders (a Kubernetes
 * ConfigMap or Secret volume shows its content through links), skipping names that start
 * with a dot (the volume's own `..data` and timestamped folders, editors' and VCS folders).
 */
async function regionFolders(regionsDir: string): Promise<string[]> {
  const names: string[] = [];
  for (const entry of await readdir(regionsDir, { withFileTypes: true })) {
    if (entry.name.startsWith('.')) continue;
    const isFolder = entry.isSymbolicLink()
      ? await stat(join(regionsDir, entry.name)).then(
          (s) => s.isDirectory(),
          () => false,
        )
      : entry.isDirectory();
    if (isFolder) names.push(entry.name);
  }
  return names.sort((a, b) => a.localeCompare(b));
}

export async function loadTopology(regionsDir: string): Promise<Topology> {
  const regions: RegionConfig[] = [];
  for (const name of await regionFolders(regionsDir)) {
    const file = join(regionsDir, name, 'region.json');
    const region = await parseFile(file, RegionConfigSchema);
    if (region.id !== name) {
      throw new MeshError(ErrorCode.Config, `${file}: id ${region.id} does not match its folder ${name}`);
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

/**
 * The embedded routing table of a deployment described by files: an in-memory table seeded
 * from `regionsDir`, and the topology it was seeded with.
 */
export async function openSeededRoutingTable(
  regionsDir: string,
): Promise<{ routing: RoutingTable; topology: Topology }> {
  const topology = await loadTopology(regionsDir);
  const routing = createMemoryRoutingTable();
  await seedRoutingTable(routing, topology);
  return { routing, topology };
}
