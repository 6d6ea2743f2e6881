/**
 * @module admin
 * The admin API of the gateway: read and change tenant placement policies, with the admin
 * key (tenant keys do not open it, whatever their scopes; a tenant's own API keys are keys.ts). Changes are conditional (`If-Match: <version>`, 0 to
 * create), so that of two operators or gateways changing the same policy from the same
 * version, one wins and the other gets 409 and re-reads. Placement and residency are checked
 * by the routing table on every write. Every change is an audit event (audit.ts).
 */
import { describeIssues, ErrorCode, MeshError, secretsEqual, TenantSchema } from '@memmesh/core';
import {
  type AuthThrottle,
  bearerKeyOf,
  type RouteHandler,
  sourceAddressOf,
  type TenantPolicyBodySchema,
} from '@memmesh/http';
import { type RoutingTable, TenantPolicyInputSchema } from '@memmesh/routing';
import type { Context } from 'hono';
import type { z } from 'zod';
import type { AdminAudit, AuditActor } from './audit.ts';

export interface AdminHandlers {
  getTenantPolicy: RouteHandler<undefined>;
  putTenantPolicy: RouteHandler<z.infer<typeof TenantPolicyBodySchema>>;
}

export interface AdminGuardOptions {
  adminKey: string | undefined;
  /** Wrong admin keys count as failed authentications, like wrong tenant keys. */
  throttle: AuthThrottle;
  trustedProxyHops: number;
}

/** Throws unless the request carries the admin key; the admin API is off without one. */
export function adminGuard(options: AdminGuardOptions): (c: Context) => Promise<void> {
  const { adminKey, throttle, trustedProxyHops } = options;
  return async (c) => {
    if (adminKey === undefined) {
      throw new MeshError(ErrorCode.NotFound, 'the admin API is not enabled on this gateway');
    }
    const given = bearerKeyOf(c.req.header('authorization'));
    await throttle.attempt(sourceAddressOf(c, trustedProxyHops), given, async () => {
      // Compared in constant time: the key never leaks through timing.
      if (given === undefined || !secretsEqual(given, adminKey)) {
        throw new MeshError(ErrorCode.Unauthorized, 'admin key required');
      }
    });
  };
}

export function tenantParam(c: Context): string {
  const parsed = TenantSchema.safeParse(c.req.param('tenant'));
  if (!parsed.success) {
    throw new MeshError(ErrorCode.BadRequest, 'bad tenant name', { details: describeIssues(parsed.error) });
  }
  return parsed.data;
}

/** Who made an admin change, for its audit event. */
export function actorOf(
  c: Context,
  trustedProxyHops: number,
  manager: { operator: true } | { operator: false; key: { keyId: string } },
): AuditActor {
  const source = sourceAddressOf(c, trustedProxyHops);
  return manager.operator
    ? { kind: 'operator', source }
    : { kind: 'tenant_key', keyId: manager.key.keyId, source };
}

export interface AdminHandlerOptions {
  routing: RoutingTable;
  audit: AdminAudit;
  trustedProxyHops: number;
}

export function adminHandlers(options: AdminHandlerOptions): AdminHandlers {
  const { routing, audit, trustedProxyHops } = options;
  return {
    async getTenantPolicy(c) {
      const policy = await routing.getTenant(tenantParam(c));
      if (!policy) throw new MeshError(ErrorCode.NotFound, 'no such tenant');
      return c.json(policy, 200, { etag: `"${policy.version}"` });
    },
    async putTenantPolicy(c, request) {
      const tenant = tenantParam(c);
      const ifMatch = /^"?(\d+)"?$/.exec(c.req.header('if-match') ?? '');
      if (!ifMatch) {
        throw new MeshError(ErrorCode.BadRequest, 'If-Match: <version> is required (0 to create the tenant)');
      }
      const { residency, ...rest } = await request.body();
      const current = await routing.getTenant(tenant);
      if (current?.residency !== undefined && residency === undefined) {
        throw new MeshError(
          ErrorCode.BadRequest,
          `tenant ${tenant} has residency ${current.residency}: send it again to keep it, or residency: null to remove it`,
        );
      }
      const parsed = TenantPolicyInputSchema.safeParse({
        ...rest,
        ...(residency ? { residency } : {}),
        tenant,
      });
      if (!parsed.success) {
        throw new MeshError(ErrorCode.BadRequest, 'bad policy', { details: describeIssues(parsed.error) });
      }
      audit.ensureReady('a policy change');
      const policy = await routing.putTenant(parsed.data, { expectedVersion: Number(ifMatch[1]) });
      await audit.record({
        action: 'tenant_policy.put',
        tenant,
        actor: actorOf(c, trustedProxyHops, { operator: true }),
        before: current ?? null,
        after: policy,
      });
      return c.json(policy, 200, { etag: `"${policy.version}"` });
    },
  };
}
