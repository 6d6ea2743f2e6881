/**
 * @module keys
 * The API key routes of the gateway's admin API: create a key for a tenant (the key is in
 * that answer only; the table keeps its hash), list a tenant's keys (ids, scopes, dates),
 * revoke one by id. The operator's admin key manages every tenant's keys; a tenant key with
 * the `admin` scope manages its own tenant's and grants only scopes it holds itself, so that
 * no key can make a stronger one. Two active keys per tenant at most (409 past them), so a
 * tenant rotates by creating the new key, moving its clients, and revoking the old one.
 */
import { describeIssues, ErrorCode, MeshError } from '@memmesh/core';
import type { ApiKeyCreateBodySchema, RouteHandler } from '@memmesh/http';
import { ApiKeyIdSchema, type RoutingTable } from '@memmesh/routing';
import type { Context } from 'hono';
import type { z } from 'zod';
import { actorOf, tenantParam } from './admin.ts';
import type { AdminAudit } from './audit.ts';
import type { TenantLookups } from './tenants.ts';

export interface KeyHandlers {
  createApiKey: RouteHandler<z.infer<typeof ApiKeyCreateBodySchema>>;
  listApiKeys: RouteHandler<undefined>;
  revokeApiKey: RouteHandler<undefined>;
}

function keyIdParam(c: Context): string {
  const parsed = ApiKeyIdSchema.safeParse(c.req.param('keyId'));
  if (!parsed.success) {
    throw new MeshError(ErrorCode.BadRequest, 'bad key id', { details: describeIssues(parsed.error) });
  }
  return parsed.data;
}

export interface KeyHandlerOptions {
  routing: RoutingTable;
  lookups: TenantLookups;
  audit: AdminAudit;
  trustedProxyHops: number;
}

export function keyHandlers(options: KeyHandlerOptions): KeyHandlers {
  const { routing, lookups, audit, trustedProxyHops } = options;
  return {
    async createApiKey(c, request) {
      const tenant = tenantParam(c);
      const manager = await lookups.keyManagerOf(c, tenant);
      const body = await request.body();
      if (!manager.operator) {
        const beyond = body.scopes.filter((s) => !manager.key.scopes.includes(s));
        if (beyond.length > 0) {
          throw new MeshError(
            ErrorCode.Forbidden,
            `API key ${manager.key.keyId} cannot grant scopes it does not hold: ${beyond.join(', ')}`,
          );
        }
      }
      audit.ensureReady('a key change');
      const { key, record } = await routing.createApiKey({ tenant, ...body });
      // The record names the key by its id; the key itself is in this answer only.
      const actor = actorOf(c, trustedProxyHops, manager);
      await audit.record({ action: 'api_key.create', tenant, actor, before: null, after: record });
      return c.json({ ...record, key }, 201);
    },
    async listApiKeys(c) {
      const tenant = tenantParam(c);
      await lookups.keyManagerOf(c, tenant);
      if (!(await routing.getTenant(tenant)))
        throw new MeshError(ErrorCode.NotFound, `unknown tenant ${tenant}`);
      return c.json({ keys: await routing.listApiKeys(tenant) });
    },
    async revokeApiKey(c) {
      const tenant = tenantParam(c);
      const keyId = keyIdParam(c);
      const manager = await lookups.keyManagerOf(c, tenant);
      audit.ensureReady('a key change');
      const revoked = await routing.revokeApiKey(tenant, keyId);
      const actor = actorOf(c, trustedProxyHops, manager);
      await audit.record({ action: 'api_key.revoke', tenant, actor, before: revoked, after: null });
      return c.body(null, 204);
    },
  };
}
