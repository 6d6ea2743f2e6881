/**
 * @module admin
 * The agent's admin routes (re-indexing its region), behind the operator's admin key
 * (`MEMMESH_ADMIN_KEY`, the gateway's own): compared in constant time, failed attempts
 * throttled like tenant keys. Without a key the admin routes answer 404.
 */
import { ErrorCode, MeshError, secretsEqual } from '@memmesh/core';
import { type AuthThrottle, bearerKeyOf, type LoadResponse, type RouteHandler } from '@memmesh/http';
import type { Context } from 'hono';
import type { Region } from '../ops/region.ts';

export interface ReindexHandlers {
  requestReindex: RouteHandler<unknown>;
  getReindex: RouteHandler<undefined>;
  abortReindex: RouteHandler<undefined>;
  rollbackReindex: RouteHandler<undefined>;
}

export function reindexHandlers(region: Region): ReindexHandlers {
  const id = (c: Context) => c.req.param('id') ?? '';
  return {
    async requestReindex(c, request) {
      return c.json(await region.reindex.request(await request.body()), 202);
    },
    async getReindex(c) {
      return c.json(await region.reindex.get(id(c)));
    },
    async abortReindex(c) {
      return c.json(await region.reindex.abort(id(c)));
    },
    async rollbackReindex(c) {
      return c.json(await region.reindex.rollback(id(c)));
    },
  };
}

export interface LoadHandlers {
  getLoad: RouteHandler<undefined>;
}

/** The operator's view of this agent's load; a `region` other than this one is the wrong region. */
export function loadHandlers(region: Region): LoadHandlers {
  return {
    getLoad(c) {
      const asked = c.req.query('region');
      if (asked !== undefined && asked !== region.region) {
        throw new MeshError(ErrorCode.WrongRegion, `this agent serves ${region.region}, not ${asked}`);
      }
      return c.json(region.load() satisfies LoadResponse);
    },
  };
}

export async function checkAdminKey(
  adminKey: string | undefined,
  throttle: AuthThrottle,
  request: { authorization: string | undefined; source: string },
): Promise<void> {
  if (adminKey === undefined)
    throw new MeshError(ErrorCode.NotFound, 'the admin API is not enabled on this agent');
  const given = bearerKeyOf(request.authorization);
  await throttle.attempt(request.source, given, async () => {
    if (given === undefined || !secretsEqual(given, adminKey)) {
      throw new MeshError(ErrorCode.Unauthorized, 'admin key required');
    }
  });
}

/** Whether the request carries the operator's admin key (compared in constant time). */
export function isAdminKey(adminKey: string | undefined, authorization: string | undefined): boolean {
  const given = bearerKeyOf(authorization);
  return adminKey !== undefined && given !== undefined && secretsEqual(given, adminKey);
}
