/**
 * @module handlers
 * The handlers of the tenant routes the agent serves, one per operation of the route table:
 * each takes its parameters and body (already bounded and validated) and calls the region.
 */

import type { BatchInput, MemoryInput, SearchInput } from '@memmesh/core';
import {
  booleanParam,
  HEADERS,
  integerParam,
  maxStaleParam,
  memoryIdParam,
  type RouteHandler,
  type StatsResponse,
} from '@memmesh/http';
import type { Context } from 'hono';
import type { Region } from '../ops/region.ts';
import { listInputOf } from './list-params.ts';

/**
 * The Hono variables of the agent's app: the tenant of the request's API key, or, on a tenant
 * admin route, whether the operator's admin key was used instead.
 */
export type AgentEnv = { Variables: { tenant: string; operator?: boolean } };

type C = Context<AgentEnv>;

const wait = (c: C) => booleanParam(c.req.query('wait'), 'wait');

/** The declared body size; undefined when absent or not a number (the body reader enforces the limit). */
function contentLengthOf(c: C): number | undefined {
  const value = Number(c.req.header('content-length'));
  return Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

export interface MemoryHandlers {
  writeMemory: RouteHandler<MemoryInput>;
  writeBatch: RouteHandler<BatchInput>;
  getMemory: RouteHandler<undefined>;
  listMemories: RouteHandler<undefined>;
  memoryHistory: RouteHandler<undefined>;
  deleteMemory: RouteHandler<undefined>;
  search: RouteHandler<SearchInput>;
  stats: RouteHandler<undefined>;
}

export function memoryHandlers(region: Region): MemoryHandlers {
  return {
    async writeMemory(c: C, request) {
      region.admitWrite(c.get('tenant'), contentLengthOf(c));
      const input = await request.body();
      return c.json(await region.write(c.get('tenant'), input, { wait: wait(c) }), 202);
    },
    async writeBatch(c: C, request) {
      region.admitWrite(c.get('tenant'), contentLengthOf(c));
      const { memories } = await request.body();
      const results = await region.writeBatch(c.get('tenant'), memories, { wait: wait(c) });
      return c.json({ results }, 202);
    },
    async getMemory(c: C) {
      return c.json(await region.get(c.get('tenant'), memoryIdParam(c)));
    },
    async listMemories(c: C) {
      return c.json(await region.list(c.get('tenant'), listInputOf(c.req.url)));
    },
    async memoryHistory(c: C) {
      return c.json(await region.history(c.get('tenant'), memoryIdParam(c, '/v1/memories/', '/history')));
    },
    async deleteMemory(c: C) {
      const ifVersion = integerParam(c.req.query('ifVersion'), 'ifVersion');
      const id = memoryIdParam(c);
      return c.json(await region.delete(c.get('tenant'), id, { wait: wait(c), ifVersion }), 202);
    },
    async search(c: C, request) {
      const input = await request.body();
      // A gateway asks replicas for a short minVersion wait, so that it can fail over quickly.
      const waitMs = integerParam(c.req.header(HEADERS.waitMs), 'X-Memmesh-Wait-Ms');
      // `Cache-Control: max-stale` says the same as the body's maxStaleSeconds; the body wins.
      const maxStale = input.maxStaleSeconds ?? maxStaleParam(c.req.header(HEADERS.cacheControl));
      const asked = maxStale === undefined ? input : { ...input, maxStaleSeconds: maxStale };
      const response = await region.search(c.get('tenant'), asked, { waitMs });
      if (response.staleSeconds !== undefined) {
        c.header(HEADERS.stale, 'true');
        c.header(HEADERS.age, String(response.staleSeconds));
      }
      return c.json(response);
    },
    async stats(c: C) {
      const { region: name, ready, shards, models } = region.status(c.get('tenant'));
      const own = shards.map(({ origin, shard, caughtUp, docs, chunks }) => ({
        origin,
        shard,
        caughtUp,
        docs,
        chunks,
      }));
      return c.json({ region: name, ready, shards: own, models } satisfies StatsResponse);
    },
  };
}
