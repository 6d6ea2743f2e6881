/**
 * @module api
 * The memmesh HTTP API, every operation of both services, as one route table (DESIGN §6, §11).
 * To add an endpoint: add its row here (and a named schema if its bodies are new), then a
 * handler in the region agent's `http/handlers.ts` and/or the gateway's app; the type of each
 * service's handler map makes a missing handler a compile error, the gateway proxies every
 * tenant route that agents serve, and /openapi.json documents it with no further edit.
 */
import {
  BatchInputSchema,
  BatchResultSchema,
  DOC_ID_PATTERN,
  EmbedderSpecSchema,
  ERASURE_ID_PATTERN,
  ErasureAcceptedSchema,
  ErasureReceiptSchema,
  ErrorBodySchema,
  LIMITS,
  MemoryHistorySchema,
  MemoryInputSchema,
  MemoryListSchema,
  MemorySchema,
  REINDEX_ID_PATTERN,
  ReindexJobSchema,
  ReindexRequestSchema,
  SearchInputSchema,
  SearchResponseSchema,
  TENANT_PATTERN,
  TenantSchema,
  WriteResultSchema,
} from '@memmesh/core';
// The modules of the schemas, not @memmesh/routing's index: the route table's types are the
// client's too (lib/client), and the index's DynamoDB backend would bring the AWS SDK's
// declarations into the client's published types.
import {
  API_KEY_ID_PATTERN,
  API_KEY_SCOPES,
  ApiKeyRecordSchema,
  ApiKeyScopeSchema,
} from '@memmesh/routing/api-keys';
import {
  RegionIdSchema,
  RegionStatusSchema,
  ResidencySchema,
  TenantPolicyInputSchema,
  TenantPolicySchema,
} from '@memmesh/routing/schemas';
import { z } from 'zod';
import type { HeaderSpec, ParamSpec, ResponseSpec, RouteSpec, RouteTable } from './route-table.ts';

/** Headers of the API, by their wire names (lower case, as Headers gives them back). */
export const HEADERS = {
  retryAfter: 'retry-after',
  region: 'x-memmesh-region',
  clientRegion: 'x-client-region',
  waitMs: 'x-memmesh-wait-ms',
  allow: 'allow',
  wwwAuthenticate: 'www-authenticate',
  etag: 'etag',
  /** A search's `Cache-Control: max-stale=<s>`: a stale answer is acceptable when the search is shed. */
  cacheControl: 'cache-control',
  /** `true` on a stale answer (with `Age`, its age in seconds). */
  stale: 'x-memmesh-stale',
  age: 'age',
} as const;

/**
 * The caller's tenant in each shard. Stream positions are left out: they move with every
 * tenant's writes, so they would show one tenant how busy the others are.
 */
export const StatsResponseSchema = z.strictObject({
  region: z.string(),
  ready: z.boolean(),
  shards: z.array(
    z.strictObject({
      origin: z.string(),
      shard: z.string(),
      caughtUp: z.boolean(),
      docs: z.number().int().min(0),
      chunks: z.number().int().min(0),
    }),
  ),
  /**
   * The embedding models of the views the tenant's data is in, per origin region: the one
   * queries are embedded with here, and during a re-index the one being built.
   */
  models: z
    .array(
      z.strictObject({
        origin: z.string(),
        serving: EmbedderSpecSchema,
        target: EmbedderSpecSchema.optional(),
        previous: EmbedderSpecSchema.optional(),
      }),
    )
    .optional(),
});
export type StatsResponse = z.infer<typeof StatsResponseSchema>;

/** The operator's view of one agent's load (agents/region/src/ops/load.ts); figures over `windowSeconds`. */
export const LoadResponseSchema = z.strictObject({
  region: z.string(),
  agentId: z.string(),
  windowSeconds: z.number().int().min(1),
  shards: z.array(
    z.strictObject({
      origin: z.string(),
      shard: z.string(),
      queriesPerSecond: z.number().min(0),
      appliesPerSecond: z.number().min(0),
      inFlight: z.number().int().min(0),
      p99Ms: z.number().min(0),
      shed: z.number().int().min(0),
      hot: z.boolean(),
      reasons: z.array(z.string()),
    }),
  ),
  tenants: z.array(
    z.strictObject({
      tenant: z.string(),
      queriesPerSecond: z.number().min(0),
      appliesPerSecond: z.number().min(0),
      inFlight: z.number().int().min(0),
      shed: z.number().int().min(0),
      hot: z.boolean(),
      reasons: z.array(z.string()),
    }),
  ),
});
export type LoadResponse = z.infer<typeof LoadResponseSchema>;

export const RegionsResponseSchema = z.object({
  regions: z.array(
    z.object({
      region: z.string(),
      status: RegionStatusSchema,
      rttMs: z.number(),
      healthy: z.boolean(),
      probed: z.boolean(),
    }),
  ),
});

/**
 * A policy as PUT by an operator: the whole policy (the tenant comes from the path), so the
 * replicas are required, not defaulted — a PUT that forgot them would drop every replica. A
 * residency is removed only by saying so (`residency: null`): a PUT that leaves it out of a
 * residency-bound tenant's policy is refused, since dropping it would let the tenant be
 * replicated out of its zone.
 */
export const TenantPolicyBodySchema = TenantPolicyInputSchema.omit({
  tenant: true,
  replicas: true,
  residency: true,
}).extend({
  tenant: TenantSchema.optional(),
  replicas: z.array(RegionIdSchema).max(8),
  residency: ResidencySchema.nullable().optional(),
});

/**
 * A key to create for the tenant of the path: its scopes, and optionally when it expires
 * (ms since the epoch, in the future, at most ten years away; checked by the routing table).
 */
export const ApiKeyCreateBodySchema = z.strictObject({
  scopes: z.array(ApiKeyScopeSchema).min(1).max(API_KEY_SCOPES.length),
  expiresAtMs: z.number().int().min(0).optional(),
});
/** Bodies of the key routes are small: a few scopes and a number. */
const API_KEY_BODY_BYTES_MAX = 1024;

/** A created key: the key itself, shown this once (only its hash is stored), and its record. */
export const ApiKeyCreatedSchema = ApiKeyRecordSchema.extend({ key: z.string() });
/** A tenant's keys: ids, scopes and dates, never a key or its hash. */
export const ApiKeyListSchema = z.strictObject({ keys: z.array(ApiKeyRecordSchema) });

const HealthSchema = z.object({ status: z.literal('ok') });
/** Readiness, with what each service adds (the gateway counts the regions it can reach). */
const ReadinessSchema = z.looseObject({ status: z.enum(['ready', 'not ready']) });

const SCHEMAS = {
  MemoryInput: MemoryInputSchema,
  BatchInput: BatchInputSchema,
  SearchInput: SearchInputSchema,
  WriteResult: WriteResultSchema,
  BatchResult: BatchResultSchema,
  Memory: MemorySchema,
  MemoryHistory: MemoryHistorySchema,
  MemoryList: MemoryListSchema,
  SearchResponse: SearchResponseSchema,
  StatsResponse: StatsResponseSchema,
  LoadResponse: LoadResponseSchema,
  RegionsResponse: RegionsResponseSchema,
  TenantPolicy: TenantPolicySchema,
  TenantPolicyBody: TenantPolicyBodySchema,
  ApiKeyCreateBody: ApiKeyCreateBodySchema,
  ApiKeyCreated: ApiKeyCreatedSchema,
  ApiKeyList: ApiKeyListSchema,
  ReindexRequest: ReindexRequestSchema,
  ReindexJob: ReindexJobSchema,
  ErasureAccepted: ErasureAcceptedSchema,
  ErasureReceipt: ErasureReceiptSchema,
  Health: HealthSchema,
  Readiness: ReadinessSchema,
  Error: ErrorBodySchema,
};
type SchemaName = keyof typeof SCHEMAS;

const header = (name: string, description: string, schema: Record<string, unknown>): HeaderSpec => ({
  name,
  description,
  schema,
});
const RETRY_AFTER = header('Retry-After', 'Seconds to wait before retrying.', {
  type: 'integer',
  minimum: 1,
});
const SERVING_REGION = header('X-Memmesh-Region', 'The region that answered.', { type: 'string' });
const STALE = header('X-Memmesh-Stale', '`true` when the answer is an earlier one (see `staleSeconds`).', {
  type: 'string',
  enum: ['true'],
});
const AGE = header('Age', 'A stale answer’s age in seconds.', { type: 'integer', minimum: 0 });
const ALLOW = header('Allow', 'The methods this path has.', { type: 'string' });
const WWW_AUTHENTICATE = header('WWW-Authenticate', 'How to authenticate: Bearer.', { type: 'string' });
const ETAG = header('ETag', 'The policy version, for If-Match.', { type: 'string' });

/** An error answer of `status`; retryable ones always say when to come back. */
function failure(description: string, status: number): ResponseSpec<SchemaName> {
  const retryable = status === 429 || status === 503 || status === 504;
  const always = [...(retryable ? [RETRY_AFTER] : []), ...(status === 401 ? [WWW_AUTHENTICATE] : [])];
  return { description, body: 'Error', headers: [...always, SERVING_REGION], requiredHeaders: always };
}

const ERRORS = {
  400: failure('Bad input: the body, a parameter or the id does not match the schema.', 400),
  401: failure('Missing, unknown, revoked or expired API key (the message says which).', 401),
  403: failure('The key is valid, but its scopes do not allow this route (a read-only key writing).', 403),
  404: failure('Not found.', 404),
  409: failure('Version conflict: `ifVersion` or `If-Match` is not the current version.', 409),
  413: failure('The request body is larger than the route allows.', 413),
  421: failure('This region does not hold the tenant, or is not its home (writes).', 421),
  429: failure(
    'Over the tenant’s rate limit, or too many failed authentications from this address or with this key; see Retry-After.',
    429,
  ),
  502: failure('A dependency (the embedder) answered wrongly.', 502),
  503: failure('A dependency is down or a replica is behind `minVersion`; see Retry-After.', 503),
  504: failure('No region answered in time; a write may or may not be stored.', 504),
} as const;
type ErrorStatus = keyof typeof ERRORS;
const errors = (...statuses: ErrorStatus[]) => Object.fromEntries(statuses.map((s) => [s, ERRORS[s]]));

const ok = (description: string, body: SchemaName, headers: HeaderSpec[] = []): ResponseSpec<SchemaName> => ({
  description,
  body,
  headers: [...headers, SERVING_REGION],
});

/** Errors every tenant route may give, through the gateway or from an agent. */
const TENANT_ERRORS: ErrorStatus[] = [401, 403, 421, 429, 503, 504];

const MEMORY_ID: ParamSpec = {
  name: 'id',
  in: 'path',
  required: true,
  rest: true,
  description: 'The memory id, percent-encoded; it may contain `/`.',
  schema: { type: 'string', pattern: DOC_ID_PATTERN.source, maxLength: LIMITS.idLengthMax },
};
const WAIT: ParamSpec = {
  name: 'wait',
  in: 'query',
  required: false,
  description: 'true: answer after the home index applied the write (bounded by the agent’s wait maximum).',
  schema: { type: 'string', enum: ['true', 'false', '1', '0', ''] },
};
const CLIENT_REGION: ParamSpec = {
  name: 'X-Client-Region',
  in: 'header',
  required: false,
  description: 'The gateway asks this region first when it holds the tenant and is healthy.',
  schema: { type: 'string' },
};
const TENANT: ParamSpec = {
  name: 'tenant',
  in: 'path',
  required: true,
  description: 'The tenant.',
  schema: { type: 'string', pattern: TENANT_PATTERN.source },
};

const KEY_ID: ParamSpec = {
  name: 'keyId',
  in: 'path',
  required: true,
  description: 'The key’s public id (as created or listed).',
  schema: { type: 'string', pattern: API_KEY_ID_PATTERN.source },
};

const BOTH = ['agent', 'gateway'] as const;
const GATEWAY = ['gateway'] as const;

/** A route of tenants' data, served by the agents and proxied by the gateway. */
function tenantRoute<const R extends Omit<RouteSpec<SchemaName>, 'auth' | 'servedBy'>>(route: R) {
  return { auth: 'tenant', servedBy: BOTH, ...route } as const;
}

/**
 * A tenant's own API keys, on the gateway: the operator's admin key manages any tenant's, a
 * tenant key with the `admin` scope its own tenant's (and may grant only scopes it holds).
 * At most two keys are active at once, so that a tenant can rotate: create, move, revoke.
 */
const KEY_ERRORS: ErrorStatus[] = [400, 401, 403, 404, 429, 503];
const API_KEY_ROUTES = {
  createApiKey: {
    method: 'post',
    path: '/v1/admin/tenants/{tenant}/keys',
    kind: 'admin',
    auth: 'tenant',
    servedBy: GATEWAY,
    summary: 'Create an API key for the tenant; the key is in this answer only.',
    body: 'ApiKeyCreateBody',
    bodyBytesMax: API_KEY_BODY_BYTES_MAX,
    params: [TENANT],
    responses: {
      201: ok('The key, once, and its record.', 'ApiKeyCreated'),
      409: failure('The tenant already has two active keys: revoke one first.', 409),
      ...errors(413, ...KEY_ERRORS),
    },
  },
  listApiKeys: {
    method: 'get',
    path: '/v1/admin/tenants/{tenant}/keys',
    kind: 'admin',
    auth: 'tenant',
    servedBy: GATEWAY,
    summary: 'The tenant’s API keys, expired ones included: ids, scopes and dates, never the keys.',
    params: [TENANT],
    responses: { 200: ok('The keys.', 'ApiKeyList'), ...errors(...KEY_ERRORS) },
  },
  revokeApiKey: {
    method: 'delete',
    path: '/v1/admin/tenants/{tenant}/keys/{keyId}',
    kind: 'admin',
    auth: 'tenant',
    servedBy: GATEWAY,
    summary: 'Revoke an API key; every service refuses it within its routing cache TTL.',
    params: [TENANT, KEY_ID],
    responses: {
      204: { description: 'Revoked.', headers: [SERVING_REGION] },
      ...errors(...KEY_ERRORS),
    },
  },
} as const satisfies Record<string, RouteSpec<SchemaName>>;

const REINDEX_ID: ParamSpec = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'The job id, as the request answered it (`rx-<region>-<hex>`).',
  schema: { type: 'string', pattern: REINDEX_ID_PATTERN.source },
};
const REINDEX_ERRORS: ErrorStatus[] = [400, 401, 404, 421, 429, 503, 504];

/**
 * Re-indexing a region to another embedding model (admin key): served by the region's
 * agents, where the job's control row and runner are; the gateway sends each request to
 * the region the body or the job id names.
 */
const REINDEX_ROUTES = {
  requestReindex: {
    method: 'post',
    path: '/v1/admin/reindex',
    kind: 'admin',
    auth: 'admin',
    servedBy: BOTH,
    summary:
      'Re-embed every memory of a region (and its tenants’ replicas) with another model, beside the serving index, and switch when complete. The same request again answers the same job.',
    body: 'ReindexRequest',
    bodyBytesMax: LIMITS.bodyBytesMax,
    responses: {
      202: ok('The job.', 'ReindexJob'),
      409: failure('Another re-index of the region is running (or inside its rollback window).', 409),
      ...errors(413, ...REINDEX_ERRORS),
    },
  },
  getReindex: {
    method: 'get',
    path: '/v1/admin/reindex/{id}',
    kind: 'admin',
    auth: 'admin',
    servedBy: BOTH,
    summary: 'A re-index job: its state, progress and models.',
    params: [REINDEX_ID],
    responses: { 200: ok('The job.', 'ReindexJob'), ...errors(...REINDEX_ERRORS) },
  },
  abortReindex: {
    method: 'post',
    path: '/v1/admin/reindex/{id}/abort',
    kind: 'admin',
    auth: 'admin',
    servedBy: BOTH,
    summary:
      'Stop a re-index that has not switched yet: the region stays on its model, the new views are removed.',
    params: [REINDEX_ID],
    responses: {
      200: ok('The job, aborted.', 'ReindexJob'),
      409: failure('The job is no longer building.', 409),
      ...errors(...REINDEX_ERRORS),
    },
  },
  rollbackReindex: {
    method: 'post',
    path: '/v1/admin/reindex/{id}/rollback',
    kind: 'admin',
    auth: 'admin',
    servedBy: BOTH,
    summary: 'Switch a re-indexed region back to its old model at once (inside the rollback window).',
    params: [REINDEX_ID],
    responses: {
      200: ok('The job, rolled back (state aborted).', 'ReindexJob'),
      409: failure('The job is not active, or its rollback window has passed.', 409),
      ...errors(...REINDEX_ERRORS),
    },
  },
} as const satisfies Record<string, RouteSpec<SchemaName>>;
const scopeParam = (name: string): ParamSpec => ({
  name,
  in: 'query',
  required: false,
  description: `Only memories whose scope has this ${name}.`,
  schema: { type: 'string', minLength: 1, maxLength: LIMITS.labelLengthMax },
});
const LIST_PARAMS: ParamSpec[] = [
  scopeParam('userId'),
  scopeParam('agentId'),
  scopeParam('sessionId'),
  {
    name: 'metadata',
    in: 'query',
    required: false,
    description:
      'Sent as `metadata.<key>=<value>`, one per key: only memories whose metadata has every one. A value that reads as JSON (a number, true/false, a quoted string) is that typed value, any other the string as sent: `metadata.n=1` is the number, `metadata.n="1"` the string.',
    schema: { type: 'object', additionalProperties: { type: 'string' } },
  },
  {
    name: 'cursor',
    in: 'query',
    required: false,
    description: 'The previous page’s `nextCursor`, with the same filters; opaque.',
    schema: { type: 'string', maxLength: 64 },
  },
  {
    name: 'limit',
    in: 'query',
    required: false,
    description: `Memories in the page, 1 to ${LIMITS.listLimitMax}; ${LIMITS.listLimitDefault} when absent.`,
    schema: { type: 'integer', minimum: 1, maximum: LIMITS.listLimitMax },
  },
];

const ERASURE_ID: ParamSpec = {
  name: 'id',
  in: 'path',
  required: true,
  description: 'The erasure id, as the erase request answered it (`er-<home region>-<hex>`).',
  schema: { type: 'string', pattern: ERASURE_ID_PATTERN.source },
};
const ERASURE_CONFLICT = failure(
  'Another erasure of the tenant (another scope) is still running: one runs at a time.',
  409,
);

/**
 * Erasure by scope (DESIGN §10): the tenant's home region tombstones the memories in scope,
 * then every region holding the tenant purges them (history and re-embeddings included) from
 * its stream, views, snapshot files, caches and dead letters, and checks that nothing is left.
 */
const ERASURE_ROUTES = {
  eraseMemories: tenantRoute({
    method: 'delete',
    path: '/v1/memories',
    kind: 'write',
    summary:
      'Erase every memory of the tenant whose scope has all the given ids (at least one of userId, agentId, sessionId), with its history, from every region and store. Answers at once; the receipt tells when it is done and what was removed. The same scope again answers the same erasure.',
    params: [scopeParam('userId'), scopeParam('agentId'), scopeParam('sessionId')],
    responses: {
      202: ok('The erasure: its id and state.', 'ErasureAccepted'),
      409: ERASURE_CONFLICT,
      ...errors(400, ...TENANT_ERRORS),
    },
  }),
  getErasure: tenantRoute({
    method: 'get',
    path: '/v1/erasures/{id}',
    kind: 'read',
    summary:
      'An erasure’s receipt: its scope and cut, documents erased, per region and store what was removed, the service’s own verification, and the writes after the cut that were kept. Counts and ids only, never content.',
    params: [ERASURE_ID, CLIENT_REGION],
    responses: { 200: ok('The receipt.', 'ErasureReceipt'), ...errors(400, 404, ...TENANT_ERRORS) },
  }),
  eraseTenant: {
    method: 'delete',
    path: '/v1/admin/tenants/{tenant}/memories',
    kind: 'admin',
    auth: 'tenant',
    servedBy: BOTH,
    summary:
      'Erase every memory of a tenant, as `DELETE /v1/memories` does for a scope: the operator’s admin key, or the tenant’s own key with the admin scope (403 for any other key).',
    params: [TENANT],
    responses: {
      202: ok('The erasure: its id and state.', 'ErasureAccepted'),
      409: ERASURE_CONFLICT,
      ...errors(400, 401, 403, 404, 421, 429, 503, 504),
    },
  },
  getErasureAdmin: {
    method: 'get',
    path: '/v1/admin/erasures/{id}',
    kind: 'admin',
    auth: 'admin',
    servedBy: BOTH,
    summary: 'Any tenant’s erasure receipt (admin key), from the home region the id names.',
    params: [ERASURE_ID],
    responses: { 200: ok('The receipt.', 'ErasureReceipt'), ...errors(400, 401, 404, 429, 503, 504) },
  },
} as const satisfies Record<string, RouteSpec<SchemaName>>;

const ROUTES = {
  // Before deleteMemory, whose id takes the rest of the path: a bare /v1/memories is this route.
  ...ERASURE_ROUTES,
  listMemories: tenantRoute({
    method: 'get',
    path: '/v1/memories',
    kind: 'read',
    summary:
      'A page of the tenant’s memories, newest first (by version), with the filters of search; expired memories are left out. Writes made while paging land before the cursor, so later pages have no duplicate and no gap. Unknown or repeated parameters are 400.',
    params: [...LIST_PARAMS, CLIENT_REGION],
    responses: {
      200: ok('The page; nextCursor is absent on the last one.', 'MemoryList'),
      ...errors(400, ...TENANT_ERRORS),
    },
  }),
  writeMemory: tenantRoute({
    method: 'post',
    path: '/v1/memories',
    kind: 'write',
    summary: 'Store a memory (202: it is in the log; ?wait=true: also applied to the home index).',
    body: 'MemoryInput',
    bodyBytesMax: LIMITS.bodyBytesMax,
    params: [WAIT],
    responses: { 202: ok('Stored.', 'WriteResult'), ...errors(400, 409, 413, 502, ...TENANT_ERRORS) },
  }),
  writeBatch: tenantRoute({
    method: 'post',
    path: '/v1/memories/batch',
    kind: 'write',
    summary: `Store up to ${LIMITS.batchDocsMax} memories; each item gets its own result.`,
    body: 'BatchInput',
    bodyBytesMax: LIMITS.batchBodyBytesMax,
    params: [WAIT],
    responses: { 202: ok('Per-item results.', 'BatchResult'), ...errors(400, 413, 502, ...TENANT_ERRORS) },
  }),
  // Before getMemory: its id takes the rest of the path, and a raw trailing /history is this route.
  memoryHistory: tenantRoute({
    method: 'get',
    path: '/v1/memories/{id}/history',
    kind: 'read',
    summary:
      'The versions of a memory the log still holds, newest first. Here an id that contains `/` is sent percent-encoded (`%2F`): a raw `/v1/memories/a/b` names the memory `a/b`.',
    params: [MEMORY_ID, CLIENT_REGION],
    responses: { 200: ok('The versions.', 'MemoryHistory'), ...errors(400, 404, ...TENANT_ERRORS) },
  }),
  getMemory: tenantRoute({
    method: 'get',
    path: '/v1/memories/{id}',
    kind: 'read',
    summary: 'Read a memory: its newest version, from the log.',
    params: [MEMORY_ID, CLIENT_REGION],
    responses: { 200: ok('The memory.', 'Memory'), ...errors(400, 404, ...TENANT_ERRORS) },
  }),
  deleteMemory: tenantRoute({
    method: 'delete',
    path: '/v1/memories/{id}',
    kind: 'write',
    summary: 'Delete a memory (a tombstone in the log).',
    params: [
      MEMORY_ID,
      WAIT,
      {
        name: 'ifVersion',
        in: 'query',
        required: false,
        description: 'Delete only if this is the current version.',
        schema: { type: 'string', pattern: '^\\d+$' },
      },
    ],
    responses: { 202: ok('Deleted.', 'WriteResult'), ...errors(400, 404, 409, ...TENANT_ERRORS) },
  }),
  search: tenantRoute({
    method: 'post',
    path: '/v1/search',
    kind: 'read',
    summary: 'Search the tenant’s memories by meaning.',
    body: 'SearchInput',
    bodyBytesMax: LIMITS.bodyBytesMax,
    params: [
      CLIENT_REGION,
      {
        name: 'X-Memmesh-Wait-Ms',
        in: 'header',
        required: false,
        description: 'Longest wait for `minVersion` (the gateway sets it short for replicas, to fail over).',
        schema: { type: 'string', pattern: '^\\d+$' },
      },
      {
        name: 'Cache-Control',
        in: 'header',
        required: false,
        description:
          '`max-stale=<s>`: when the region sheds the search (saturated shards, too many of the tenant’s searches in flight) or cannot ask its shards, the last answer to the same search up to that old is acceptable (as the body’s `maxStaleSeconds`).',
        schema: { type: 'string' },
      },
    ],
    responses: {
      200: ok('Results; a stale answer (shed search, max-stale allowed) says so.', 'SearchResponse', [
        STALE,
        AGE,
      ]),
      ...errors(400, 413, 502, ...TENANT_ERRORS),
    },
  }),
  stats: tenantRoute({
    method: 'get',
    path: '/v1/stats',
    kind: 'read',
    summary: 'Per-shard document counts and positions for the tenant, in the region that answers.',
    params: [CLIENT_REGION],
    responses: { 200: ok('Stats.', 'StatsResponse'), ...errors(...TENANT_ERRORS) },
  }),
  listRegions: {
    method: 'get',
    path: '/v1/regions',
    kind: 'read',
    auth: 'tenant',
    servedBy: GATEWAY,
    summary: 'The regions as the gateway sees them: status, RTT and health (no internal addresses).',
    responses: { 200: ok('Regions.', 'RegionsResponse'), ...errors(401, 403, 429, 503) },
  },
  getTenantPolicy: {
    method: 'get',
    path: '/v1/admin/tenants/{tenant}',
    kind: 'admin',
    auth: 'admin',
    servedBy: GATEWAY,
    summary: 'A tenant’s placement policy (admin key).',
    params: [TENANT],
    responses: {
      200: ok('The policy; ETag is its version.', 'TenantPolicy', [ETAG]),
      ...errors(400, 401, 404, 429, 503),
    },
  },
  putTenantPolicy: {
    method: 'put',
    path: '/v1/admin/tenants/{tenant}',
    kind: 'admin',
    auth: 'admin',
    servedBy: GATEWAY,
    summary: 'Create or change a tenant’s placement policy (admin key; If-Match: <version>, 0 to create).',
    body: 'TenantPolicyBody',
    bodyBytesMax: LIMITS.bodyBytesMax,
    params: [
      TENANT,
      {
        name: 'If-Match',
        in: 'header',
        required: true,
        description: 'The version last read; 0 creates the tenant.',
        schema: { type: 'string' },
      },
    ],
    responses: {
      200: ok('The stored policy; ETag is its version.', 'TenantPolicy', [ETAG]),
      ...errors(400, 401, 404, 409, 413, 429, 503),
    },
  },
  ...API_KEY_ROUTES,
  ...REINDEX_ROUTES,
  getLoad: {
    method: 'get',
    path: '/v1/admin/load',
    kind: 'admin',
    auth: 'admin',
    servedBy: BOTH,
    summary:
      'The load on one agent of a region: per shard and per busiest tenant, searches and applies per second, queries in flight, p99, searches shed, and which are hot (admin key).',
    params: [
      {
        name: 'region',
        in: 'query',
        required: false,
        description: 'The region to ask (the gateway needs it; an agent answers for its own region only).',
        schema: { type: 'string', minLength: 1, maxLength: 64 },
      },
    ],
    responses: { 200: ok('The load.', 'LoadResponse'), ...errors(400, 401, 404, 421, 429, 503, 504) },
  },
  health: opsRoute('/healthz', 'Liveness: the process answers.', {
    200: { description: 'Alive.', body: 'Health' },
  }),
  ready: opsRoute('/readyz', 'Readiness: the service can answer (agent: NATS connected, shards caught up).', {
    200: { description: 'Ready.', body: 'Readiness' },
    503: { description: 'Not ready.', body: 'Readiness' },
  }),
  metrics: opsRoute('/metrics', 'Prometheus metrics (lib/telemetry/METRICS.md).', {
    200: { description: 'The text exposition format.', body: { contentType: 'text/plain' } },
  }),
  openapi: opsRoute('/openapi.json', 'This document.', {
    200: { description: 'OpenAPI 3.1.', body: { contentType: 'application/json' } },
  }),
} satisfies Record<string, RouteSpec<SchemaName>>;

function opsRoute(
  path: string,
  summary: string,
  responses: Record<number, ResponseSpec<SchemaName>>,
): RouteSpec<SchemaName> {
  return { method: 'get', path, kind: 'ops', auth: 'none', servedBy: BOTH, summary, responses };
}

/** The API's route table: every operation of both services. */
export const API = { schemas: SCHEMAS, routes: ROUTES } satisfies RouteTable<SchemaName, keyof typeof ROUTES>;
export type ApiTable = typeof API;
export type OperationId = keyof typeof ROUTES;

/** Headers used in request answers, for the conformance walker and relays. */
export const RESPONSE_HEADERS = [
  RETRY_AFTER,
  SERVING_REGION,
  ALLOW,
  WWW_AUTHENTICATE,
  ETAG,
  STALE,
  AGE,
] as const;
