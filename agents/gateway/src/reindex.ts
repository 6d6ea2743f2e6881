/**
 * @module reindex
 * The re-index admin routes on the gateway: each request goes to the region it is about —
 * the body's `region` for a new job, the region named in a job's id otherwise — whose
 * agents hold the job's control row and run it. The admin key is checked here and again by
 * the agent.
 */
import { ErrorCode, MeshError, reindexRegionOf } from '@memmesh/core';
import type { RouteHandler } from '@memmesh/http';
import type { Context } from 'hono';

export interface ReindexHandlers {
  requestReindex: RouteHandler<unknown>;
  getReindex: RouteHandler<undefined>;
  abortReindex: RouteHandler<undefined>;
  rollbackReindex: RouteHandler<undefined>;
}

/** Sends the request, its body as read, to `region`'s agents and relays their answer. */
export type SendToRegion = (c: Context, region: string, body: Uint8Array | undefined) => Promise<Response>;

export function reindexHandlers(send: SendToRegion): ReindexHandlers {
  const byId: RouteHandler<undefined> = (c) => send(c, regionOfId(c), undefined);
  return {
    async requestReindex(c, request) {
      const body = (await request.body()) as { region?: unknown };
      if (typeof body.region !== 'string') throw new MeshError(ErrorCode.BadRequest, 'region is required');
      return send(c, body.region, new TextEncoder().encode(JSON.stringify(body)));
    },
    getReindex: byId,
    abortReindex: byId,
    rollbackReindex: byId,
  };
}

function regionOfId(c: Context): string {
  const region = reindexRegionOf(c.req.param('id') ?? '');
  if (!region) throw new MeshError(ErrorCode.BadRequest, 'not a re-index job id');
  return region;
}
