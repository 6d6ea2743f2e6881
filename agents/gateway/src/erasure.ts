/**
 * @module erasure
 * The erasure routes the gateway serves itself (the tenant routes are proxied like any
 * other): erasing a whole tenant, sent to the tenant's home once the caller is found to
 * manage it (the operator, or the tenant's own admin key; 403 for any other key), and an
 * operator's look at any receipt, sent to the home region its id names.
 */
import { ErrorCode, erasureRegionOf, MeshError } from '@memmesh/core';
import type { RouteHandler } from '@memmesh/http';
import type { Context } from 'hono';
import { tenantParam } from './admin.ts';
import type { TenantLookups } from './tenants.ts';

export interface ErasureHandlers {
  eraseTenant: RouteHandler<undefined>;
  getErasureAdmin: RouteHandler<undefined>;
}

/** Sends the request to `region`'s agents (a write when `write`) and relays their answer. */
export type SendErasure = (c: Context, region: string, write: boolean) => Promise<Response>;

export function erasureHandlers(lookups: TenantLookups, send: SendErasure): ErasureHandlers {
  return {
    async eraseTenant(c) {
      const tenant = tenantParam(c);
      await lookups.keyManagerOf(c, tenant);
      const policy = await lookups.policyOf(tenant);
      return send(c, policy.home, true);
    },
    async getErasureAdmin(c) {
      const region = erasureRegionOf(c.req.param('id') ?? '');
      if (!region) throw new MeshError(ErrorCode.BadRequest, 'not an erasure id');
      return send(c, region, false);
    },
  };
}
