/**
 * @module policy
 * Where a tenant may be served: writes only in its home region (the one log that orders
 * them), reads in its home and its replica regions. Checked once per operation, at the
 * region's facade, and the policy is passed down.
 */
import { ErrorCode, MeshError } from '@memmesh/core';
import type { RoutingTable, TenantPolicy } from '@memmesh/routing';

/** The tenant's policy, or `wrong_region` when the tenant has none. */
async function policyOf(routing: RoutingTable, tenant: string): Promise<TenantPolicy> {
  const policy = await routing.getTenant(tenant);
  if (!policy) throw new MeshError(ErrorCode.WrongRegion, `tenant ${tenant} has no placement policy`);
  return policy;
}

export async function requireHome(
  routing: RoutingTable,
  region: string,
  tenant: string,
): Promise<TenantPolicy> {
  const policy = await policyOf(routing, tenant);
  if (policy.home !== region) {
    throw new MeshError(
      ErrorCode.WrongRegion,
      `writes for tenant ${tenant} go to its home region ${policy.home}, not ${region}`,
    );
  }
  return policy;
}

export async function requireReadable(
  routing: RoutingTable,
  region: string,
  tenant: string,
): Promise<TenantPolicy> {
  const policy = await policyOf(routing, tenant);
  if (policy.home !== region && !policy.replicas.includes(region)) {
    throw new MeshError(ErrorCode.WrongRegion, `tenant ${tenant} is not placed in region ${region}`);
  }
  return policy;
}
