/**
 * @module replication
 * Which tenants this region replicates, and so which stream sources it needs and which home
 * regions' shard views it hosts, from the routing table.
 */
import type { ReplicationSource } from '@memmesh/bus';
import { checkPlacement, type RoutingTable } from '@memmesh/routing';
import type { Logger } from '@memmesh/telemetry';

/**
 * The tenants this region replicates (their home is elsewhere and their policy lists this
 * region as a replica) and the origins whose views it must host. Placement is checked again
 * here, so that even a bad row in the routing table cannot pull a tenant's events into a
 * region outside its residency zone.
 */
export async function replicationPlan(
  routing: RoutingTable,
  region: string,
  logger: Logger,
): Promise<{ sources: ReplicationSource[]; origins: Map<string, number> }> {
  const regions = new Map((await routing.listRegions()).map((r) => [r.config.id, r.config]));
  const sources: ReplicationSource[] = [];
  const origins = new Map<string, number>();
  for (const policy of await routing.listTenants()) {
    if (policy.home === region || !policy.replicas.includes(region)) continue;
    try {
      checkPlacement(policy, regions);
    } catch (err) {
      logger.error('refusing to replicate a tenant against its placement rules', {
        tenant: policy.tenant,
        err,
      });
      continue;
    }
    const home = regions.get(policy.home);
    if (!home) continue;
    sources.push({ homeRegion: policy.home, tenant: policy.tenant });
    origins.set(policy.home, home.shardCount);
  }
  sources.sort((a, b) => `${a.homeRegion}/${a.tenant}`.localeCompare(`${b.homeRegion}/${b.tenant}`));
  return { sources, origins };
}
