/**
 * @module tenants
 * Who is asking and where their data lives: API key → tenant, tenant → placement policy,
 * both through the routing table's read cache. The gateway checks keys itself, so that bad
 * keys never reach a region. A lookup that fails (the table is down and the entry is not
 * cached) is the table's failure, not the client's: 503, never 500.
 */
import { ErrorCode, isMeshError, MeshError } from '@memmesh/core';
import type { RoutingTable, TenantPolicy } from '@memmesh/routing';
import type { Logger } from '@memmesh/telemetry';
import { unavailable } from './dispatch.ts';

export interface TenantLookups {
  /** The tenant of an `Authorization: Bearer <key>` header, or `unauthorized`. */
  tenantOf(authorization: string | undefined): Promise<string>;
  /** The tenant's placement, or `wrong_region` when no region holds it. */
  policyOf(tenant: string): Promise<TenantPolicy>;
}

export function createTenantLookups(routing: RoutingTable, log: Logger): TenantLookups {
  const lookup = async <T>(read: () => Promise<T>): Promise<T> => {
    try {
      return await read();
    } catch (err) {
      if (isMeshError(err) && err.code !== ErrorCode.Internal) throw err;
      log.warn('routing table lookup failed', { err });
      throw unavailable('the routing table cannot be read; retry later');
    }
  };
  return {
    async tenantOf(authorization) {
      const key = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
      if (!key) throw new MeshError(ErrorCode.Unauthorized, 'send Authorization: Bearer <api key>');
      const tenant = await lookup(() => routing.tenantOfApiKey(key));
      if (!tenant) throw new MeshError(ErrorCode.Unauthorized, 'unknown API key');
      return tenant;
    },
    async policyOf(tenant) {
      const policy = await lookup(() => routing.getTenant(tenant));
      if (!policy) throw new MeshError(ErrorCode.WrongRegion, `tenant ${tenant} has no placement policy`);
      return policy;
    },
  };
}
