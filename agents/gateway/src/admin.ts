/**
 * @module admin
 * The admin API of the gateway: read and change tenant placement policies. Changes are
 * conditional (`If-Match: <version>`, 0 to create), so that of two operators or gateways
 * changing the same policy from the same version, one wins and the other gets 409 and
 * re-reads. Placement and residency are checked by the routing table on every write.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { describeIssues, ErrorCode, MeshError, TenantSchema } from '@memmesh/core';
import { type RoutingTable, TenantPolicyInputSchema } from '@memmesh/routing';
import type { Context, Hono } from 'hono';

export function mountAdmin(app: Hono, routing: RoutingTable, adminKey: string | undefined): void {
  const digest = (value: string) => createHash('sha256').update(value).digest();
  const expected = adminKey === undefined ? undefined : digest(adminKey);
  const authorize = (c: Context) => {
    if (!expected) throw new MeshError(ErrorCode.NotFound, 'the admin API is not enabled on this gateway');
    const given = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')?.[1];
    // Compared as digests in constant time: the key never leaks through timing.
    if (!given || !timingSafeEqual(digest(given), expected))
      throw new MeshError(ErrorCode.Unauthorized, 'admin key required');
  };
  const tenantParam = (c: Context) => {
    const parsed = TenantSchema.safeParse(c.req.param('tenant'));
    if (!parsed.success)
      throw new MeshError(ErrorCode.BadRequest, 'bad tenant name', { details: describeIssues(parsed.error) });
    return parsed.data;
  };

  app.get('/v1/admin/tenants/:tenant', async (c) => {
    authorize(c);
    const policy = await routing.getTenant(tenantParam(c));
    if (!policy) throw new MeshError(ErrorCode.NotFound, 'no such tenant');
    return c.json(policy, 200, { etag: `"${policy.version}"` });
  });

  app.put('/v1/admin/tenants/:tenant', async (c) => {
    authorize(c);
    const tenant = tenantParam(c);
    const ifMatch = /^"?(\d+)"?$/.exec(c.req.header('if-match') ?? '');
    if (!ifMatch)
      throw new MeshError(ErrorCode.BadRequest, 'If-Match: <version> is required (0 to create the tenant)');
    let body: unknown;
    try {
      body = { ...(JSON.parse(await c.req.text()) as object), tenant };
    } catch {
      throw new MeshError(ErrorCode.BadRequest, 'request body is not a JSON object');
    }
    const parsed = TenantPolicyInputSchema.safeParse(body);
    if (!parsed.success)
      throw new MeshError(ErrorCode.BadRequest, 'bad policy', { details: describeIssues(parsed.error) });
    const policy = await routing.putTenant(parsed.data, { expectedVersion: Number(ifMatch[1]) });
    return c.json(policy, 200, { etag: `"${policy.version}"` });
  });
}
