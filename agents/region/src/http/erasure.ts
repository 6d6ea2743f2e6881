/**
 * @module erasure
 * The erasure routes of the agent: erase by scope (a tenant key with the write scope), erase
 * a whole tenant (the operator's admin key, or the tenant's own admin key), and the receipts.
 * The scope comes from the query string: exactly the three scope ids, each at most once.
 */
import { ErrorCode, MeshError, TenantSchema } from '@memmesh/core';
import type { RouteHandler } from '@memmesh/http';
import type { Context } from 'hono';
import type { Region } from '../ops/region.ts';
import type { AgentEnv } from './handlers.ts';

type C = Context<AgentEnv>;

export interface ErasureHandlers {
  eraseMemories: RouteHandler<undefined>;
  eraseTenant: RouteHandler<undefined>;
  getErasure: RouteHandler<undefined>;
  getErasureAdmin: RouteHandler<undefined>;
}

const SCOPE_PARAMS = ['userId', 'agentId', 'sessionId'] as const;

/** `?userId=&agentId=&sessionId=`: unknown or repeated parameters are refused, not ignored. */
export function eraseScopeOf(url: string): Record<string, string> {
  const params = new URL(url).searchParams;
  const scope: Record<string, string> = {};
  for (const [name, value] of params) {
    if (!(SCOPE_PARAMS as readonly string[]).includes(name)) {
      throw new MeshError(
        ErrorCode.BadRequest,
        `unknown parameter ${name}: an erasure takes userId, agentId and sessionId`,
      );
    }
    if (name in scope) throw new MeshError(ErrorCode.BadRequest, `${name} is given twice`);
    scope[name] = value;
  }
  return scope;
}

export function erasureHandlers(region: Region, sourceOf: (c: C) => string): ErasureHandlers {
  const id = (c: C) => c.req.param('id') ?? '';
  return {
    async eraseMemories(c: C) {
      const scope = eraseScopeOf(c.req.url);
      const actor = { kind: 'tenant_key' as const, source: sourceOf(c) };
      return c.json(await region.erase(c.get('tenant'), scope, actor), 202);
    },
    async eraseTenant(c: C) {
      const parsed = TenantSchema.safeParse(c.req.param('tenant'));
      if (!parsed.success) throw new MeshError(ErrorCode.BadRequest, 'bad tenant name');
      const tenant = parsed.data;
      const operator = c.get('operator') === true;
      if (!operator && c.get('tenant') !== tenant) {
        throw new MeshError(ErrorCode.Forbidden, `this key may erase only tenant ${c.get('tenant')}`);
      }
      const actor = { kind: operator ? ('operator' as const) : ('tenant_key' as const), source: sourceOf(c) };
      return c.json(await region.erase(tenant, { all: true }, actor), 202);
    },
    async getErasure(c: C) {
      return c.json(await region.erasure(c.get('tenant'), id(c)));
    },
    async getErasureAdmin(c: C) {
      return c.json(await region.erasure(undefined, id(c)));
    },
  };
}
