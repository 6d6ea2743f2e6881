/**
 * @module placement
 * The placement rules of a tenant policy. They are checked whenever a policy is written, by
 * every RoutingTable implementation, so that no path can place a tenant's data in a region
 * its residency forbids.
 */
import { ErrorCode, MeshError } from '@memmesh/core';
import type { RegionConfig, TenantPolicyInput } from './schemas.ts';

export function checkPlacement(policy: TenantPolicyInput, regions: ReadonlyMap<string, RegionConfig>): void {
  const replicas = policy.replicas ?? [];
  const placed = [policy.home, ...replicas];
  const problems: string[] = [];
  if (new Set(placed).size !== placed.length) problems.push('home and replicas must be distinct regions');
  for (const id of placed) {
    const region = regions.get(id);
    if (!region) {
      problems.push(`unknown region ${id}`);
    } else if (policy.residency !== undefined && region.residency !== policy.residency) {
      problems.push(
        `region ${id} is in residency zone ${region.residency}, outside the tenant's zone ${policy.residency}`,
      );
    }
  }
  // Each region embeds its queries with its own embedder, and replicas index the vectors the
  // home computed: a replica with another embedder would compare vectors of two spaces.
  const home = regions.get(policy.home);
  for (const id of replicas) {
    const replica = regions.get(id);
    if (home && replica && replica.backends.embedder !== home.backends.embedder) {
      problems.push(
        `region ${id} embeds with ${replica.backends.embedder}, the home ${policy.home} with ${home.backends.embedder}`,
      );
    }
  }
  if (problems.length > 0) {
    throw new MeshError(
      ErrorCode.BadRequest,
      `policy for tenant ${policy.tenant} is refused: ${problems.join('; ')}`,
      {
        details: problems,
      },
    );
  }
}

/** Regions that may serve reads for the tenant, home first. */
export function readRegionsOf(policy: TenantPolicyInput): string[] {
  return [policy.home, ...(policy.replicas ?? [])];
}
