/**
 * @module route-table
 * What a route of the API is, as data: method, path template, kind, who serves it, how it is
 * authenticated, its request body (schema and byte limit), parameters, and the answer of each
 * status it can give with that answer's body and headers. The API's table (`api.ts`) is written
 * once in these terms; the region agent mounts its handlers from it, the gateway its proxy, and
 * `/openapi.json` is generated from it, so the three cannot drift apart.
 */
import type { z } from 'zod';

export type HttpMethod = 'get' | 'post' | 'put' | 'delete';

/**
 * - `read`: a tenant reads; any region holding the tenant may answer (the gateway fails over).
 * - `write`: a tenant writes; only the tenant's home region answers.
 * - `admin`: administration: with `auth: 'admin'` the operator's admin key only (placement
 *   policies); with `auth: 'tenant'` also a tenant key with the `admin` scope, for its own
 *   tenant (its API keys).
 * - `ops`: the service itself (health, readiness, metrics, this document); no key.
 *
 * A tenant route needs a key whose scopes include the route's kind (`read`, `write`, `admin`):
 * a key without it is refused with 403.
 */
export type RouteKind = 'read' | 'write' | 'admin' | 'ops';

/** The two services; a route lists those that serve it. */
export type Service = 'agent' | 'gateway';

/**
 * `tenant`: an API key that maps to a tenant and holds the scope of the route's kind (on admin
 * routes the operator's admin key too); `admin`: the operator's admin key; `none`: open.
 */
export type RouteAuth = 'tenant' | 'admin' | 'none';

/** A documented header, request or response. */
export interface HeaderSpec {
  /** The name as sent (`Retry-After`); matching is case-insensitive. */
  name: string;
  description: string;
  schema: Record<string, unknown>;
}

export interface ParamSpec {
  name: string;
  in: 'path' | 'query' | 'header';
  description: string;
  required: boolean;
  /** JSON Schema of the value (documentation; handlers parse their parameters). */
  schema: Record<string, unknown>;
  /** A path parameter that takes the rest of the path, slashes included (document ids). */
  rest?: boolean;
}

export interface ResponseSpec<N extends string = string> {
  description: string;
  /** The body: a named schema (JSON), or a content type for a body that is not JSON. */
  body?: N | { contentType: string };
  /** Response headers that this answer may carry. */
  headers?: readonly HeaderSpec[];
  /** Headers that this answer always carries (a subset of `headers`). */
  requiredHeaders?: readonly HeaderSpec[];
}

export interface RouteSpec<N extends string = string> {
  method: HttpMethod;
  /** OpenAPI path template: `/v1/memories/{id}`. */
  path: string;
  kind: RouteKind;
  auth: RouteAuth;
  servedBy: readonly Service[];
  summary: string;
  /** The JSON request body's named schema. */
  body?: N;
  /** Largest request body in bytes; required with `body`. */
  bodyBytesMax?: number;
  params?: readonly ParamSpec[];
  responses: Readonly<Record<number, ResponseSpec<N>>>;
}

/** A table of routes by operation id, and the named schemas its bodies use. */
export interface RouteTable<N extends string = string, Id extends string = string> {
  schemas: Readonly<Record<N, z.ZodType>>;
  routes: Readonly<Record<Id, RouteSpec<N>>>;
}

/** The request body type of a route, from its named schema. */
export type BodyOf<T extends RouteTable, Id extends keyof T['routes']> = T['routes'][Id] extends {
  body: infer N extends keyof T['schemas'];
}
  ? z.infer<T['schemas'][N]>
  : undefined;

/** Hono's form of a path template: `{id}` → `:id`, a rest parameter → `*`. */
export function honoPath(route: RouteSpec): string {
  return route.path.replace(/\{([^}]+)\}/g, (_all, name: string) => {
    const param = route.params?.find((p) => p.in === 'path' && p.name === name);
    return param?.rest ? '*' : `:${name}`;
  });
}

/** Whether a concrete path (`/v1/memories/a/b`) is an instance of the route's template. */
export function matchesPath(route: RouteSpec, path: string): boolean {
  const pattern = honoPath(route)
    .split('/')
    .map((segment) => {
      if (segment === '*') return '.+';
      if (segment.startsWith(':')) return '[^/]+';
      return segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
    })
    .join('/');
  return new RegExp(`^${pattern}$`).test(path);
}

/** The routes of the table that `service` serves, with their operation ids. */
export function routesOf<N extends string, Id extends string>(
  table: RouteTable<N, Id>,
  service: Service,
): [Id, RouteSpec<N>][] {
  return (Object.entries(table.routes) as [Id, RouteSpec<N>][]).filter(([, r]) =>
    r.servedBy.includes(service),
  );
}

/** The methods (upper-case) that `service` serves on a concrete path; empty for an unknown path. */
export function allowedMethods(table: RouteTable, service: Service, path: string): string[] {
  const methods = new Set<string>();
  for (const [, route] of routesOf(table, service)) {
    if (!matchesPath(route, path)) continue;
    methods.add(route.method.toUpperCase());
    // Hono answers HEAD with the GET route, without the body.
    if (route.method === 'get') methods.add('HEAD');
  }
  return [...methods].sort();
}
