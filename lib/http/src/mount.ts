/**
 * @module mount
 * Mounts a service's routes from the route table on a Hono app: one handler per operation the
 * service serves (the handler map's type makes a missing one a compile error), a guard run
 * before each handler (authentication, rate limits), request bodies read within the route's
 * byte limit, and `405 Method Not Allowed` with `Allow` for a known path asked with a method it
 * does not have.
 */
import { ErrorCode, MeshError } from '@memmesh/core';
import type { Context, Env, Hono } from 'hono';
import { parseJsonBody, readBody } from './body.ts';
import {
  allowedMethods,
  type BodyOf,
  honoPath,
  type RouteSpec,
  type RouteTable,
  routesOf,
  type Service,
} from './route-table.ts';

/** What a handler gets besides Hono's context: its route, and its body on demand. */
export interface RouteRequest<B> {
  readonly id: string;
  readonly route: RouteSpec;
  /** The JSON body validated by the route's schema (400 when it does not match, 413 when too large). */
  body(): Promise<B>;
  /** The body's bytes within the route's limit (413 above it), undefined when empty. */
  bytes(): Promise<Uint8Array | undefined>;
}

// biome-ignore lint/suspicious/noExplicitAny: each service types its own Hono variables.
export type RouteHandler<B> = (c: Context<any>, request: RouteRequest<B>) => Response | Promise<Response>;

/** The operation ids of `table` that `service` serves. */
export type ServedIds<T extends RouteTable, S extends Service> = {
  [K in keyof T['routes']]: S extends T['routes'][K]['servedBy'][number] ? K : never;
}[keyof T['routes']];

/** One handler for every operation `service` serves. */
export type Handlers<T extends RouteTable, S extends Service> = {
  [K in ServedIds<T, S>]: RouteHandler<BodyOf<T, K>>;
};

export interface MountOptions<T extends RouteTable, S extends Service> {
  table: T;
  service: S;
  handlers: Handlers<T, S>;
  /** Runs before every handler: authentication and rate limits, by the route's `auth` and `kind`. */
  // biome-ignore lint/suspicious/noExplicitAny: each service types its own Hono variables.
  guard?: (c: Context<any>, route: RouteSpec, id: string) => void | Promise<void>;
}

/** A body of a route that declared none is still read within this limit (then ignored or forwarded). */
export const UNDECLARED_BODY_BYTES_MAX = 1024;

export function mountRoutes<E extends Env, T extends RouteTable, S extends Service>(
  app: Hono<E>,
  options: MountOptions<T, S>,
) {
  const { table, service, guard } = options;
  const served = routesOf(table, service);
  for (const [id, route] of served) {
    const handler = (options.handlers as Record<string, RouteHandler<unknown>>)[id];
    if (!handler) throw new Error(`no handler for ${service} route ${id}`);
    const bytesMax = route.bodyBytesMax ?? UNDECLARED_BODY_BYTES_MAX;
    const schema = route.body === undefined ? undefined : table.schemas[route.body];
    app.on(route.method.toUpperCase(), honoPath(route), async (c) => {
      await guard?.(c, route, id);
      const request: RouteRequest<unknown> = {
        id,
        route,
        body: () => {
          if (!schema) throw new Error(`route ${id} declares no body`);
          return parseJsonBody(c, schema, bytesMax);
        },
        bytes: () => readBody(c, bytesMax),
      };
      return handler(c, request);
    });
  }
  // After every method route, so that these only catch the methods a path does not have.
  for (const path of new Set(served.map(([, route]) => honoPath(route)))) {
    app.all(path, (c) => {
      const allow = allowedMethods(table, service, c.req.path);
      throw new MeshError(ErrorCode.MethodNotAllowed, `${c.req.method} is not allowed on ${c.req.path}`, {
        details: { allow },
      });
    });
  }
}
