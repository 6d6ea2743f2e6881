/**
 * @module reads
 * Reads: a memory by id straight from the region's stream (the newest event on its
 * subject), and search by scatter/gather over the shard views of the tenant's home region.
 * Replica regions answer from their copy; `minVersion` makes them wait (bounded) until the
 * copy includes that version, or answer 503 so that the gateway asks another region.
 */
import { decodeEvent, sourcedSequence, toMeshError } from '@memmesh/bus';
import { embeddingCacheKey, resultCacheKey, type TenantVersions } from '@memmesh/cache';
import {
  decodeVector,
  docKeyOf,
  docSubject,
  ErrorCode,
  encodeVector,
  LIMITS,
  type Memory,
  type MemoryEvent,
  MeshError,
  type SearchInput,
  type SearchResponse,
  shardNames,
  shardOf,
  sleep,
  streamName,
  tenantFilter,
} from '@memmesh/core';
import { JetStreamApiCodes, JetStreamApiError, type StoredMsg } from '@nats-io/jetstream';
import { type Context, requireReadable } from './context.ts';
import { queryShard } from './shard-host.ts';

/** Embedding cache entries live long: the same text always embeds the same way. */
const EMBEDDING_CACHE_TTL_MS = 3_600_000;
/** How often a replica re-checks whether a version has arrived from its home region. */
const ARRIVAL_POLL_MS = 25;

export interface LastEvent {
  shard: string;
  subject: string;
  /** Home version of the newest event (0 when there is none). */
  version: number;
  event: MemoryEvent | undefined;
}

/** Reads one message from a stream; a missing message is null, anything else a MeshError. */
async function getStored(ctx: Context, stream: string, query: object): Promise<StoredMsg | null> {
  try {
    // The stream API answers from the stream leader: a read right after a write sees it.
    return await ctx.jsm.streams.getMessage(stream, query as never);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound) return null;
    throw toMeshError(err, 'read');
  }
}

const versionOf = (stored: StoredMsg): number => sourcedSequence(stored.header) ?? stored.seq;

export async function lastEvent(
  ctx: Context,
  origin: string,
  originShardCount: number,
  tenant: string,
  id: string,
): Promise<LastEvent> {
  const shard = shardOf(tenant, id, originShardCount);
  const subject = docSubject(origin, shard, tenant, docKeyOf(tenant, id));
  const stored = await getStored(ctx, ctx.stream, { last_by_subj: subject });
  if (!stored) return { shard, subject, version: 0, event: undefined };
  // Same checks as the shard consumer: a message that the view dead-lettered (malformed, or
  // claiming another tenant) is not a version of this document for readers either.
  const decoded = decodeEvent(stored.data, stored.subject);
  if (!decoded.ok) {
    throw new MeshError(
      ErrorCode.NotFound,
      `memory ${id} not found: its newest event is invalid (${decoded.reason})`,
    );
  }
  return { shard, subject, version: versionOf(stored), event: decoded.event };
}

function originOf(ctx: Context, home: string) {
  const view = ctx.views.get(home);
  if (!view) {
    throw new MeshError(
      ErrorCode.Unavailable,
      `views of ${home} are not started yet in ${ctx.config.region}`,
      {
        retryAfterMs: 1_000,
      },
    );
  }
  return view;
}

export async function getMemory(ctx: Context, tenant: string, id: string): Promise<Memory> {
  const policy = await requireReadable(ctx, tenant);
  const view = originOf(ctx, policy.home);
  const { shard, version, event } = await lastEvent(ctx, policy.home, view.shardCount, tenant, id);
  if (!event || event.type === 'delete' || event.tenant !== tenant) {
    throw new MeshError(ErrorCode.NotFound, `memory ${id} not found`);
  }
  const { text, metadata, scope } = event;
  return { id, text, metadata, scope, version, region: ctx.config.region, shard };
}

/**
 * On a replica: waits until every event of the tenant up to `minVersion` has arrived from
 * the home stream. When the newest arrived event is older, the home stream is asked whether
 * anything of the tenant lies between it and `minVersion`; if the home cannot be asked, the
 * replica cannot prove it is current and answers 503.
 */
async function ensureArrived(ctx: Context, home: string, tenant: string, minVersion: number, waitMs: number) {
  const deadline = Date.now() + waitMs;
  const filter = tenantFilter(home, tenant);
  for (;;) {
    const last = await getStored(ctx, ctx.stream, { last_by_subj: filter });
    const arrived = last ? versionOf(last) : 0;
    if (arrived >= minVersion) return;
    const pending = await getStored(ctx, streamName(home), { seq: arrived + 1, next_by_subj: filter });
    if (!pending || pending.seq > minVersion) return;
    if (Date.now() >= deadline) {
      throw new MeshError(
        ErrorCode.Unavailable,
        `version ${minVersion} has not reached ${ctx.config.region} yet`,
        {
          retryAfterMs: 200,
        },
      );
    }
    await sleep(ARRIVAL_POLL_MS);
  }
}

async function embedQuery(ctx: Context, query: string): Promise<Float32Array> {
  const { embedder, cache } = ctx.parts;
  const key = embeddingCacheKey(embedder.modelId, query);
  const cached = await cache.get(key).catch(() => undefined);
  const decoded = cached ? decodeVector(cached, embedder.dimensions) : undefined;
  if (decoded) return decoded;
  const [vector] = await embedder.embed([query]);
  await cache.set(key, encodeVector(vector as Float32Array), EMBEDDING_CACHE_TTL_MS).catch(() => undefined);
  return vector as Float32Array;
}

export async function search(
  ctx: Context,
  tenant: string,
  input: SearchInput,
  tenantVersions: TenantVersions,
  waitMs: number,
): Promise<SearchResponse> {
  const started = performance.now();
  const policy = await requireReadable(ctx, tenant);
  const view = originOf(ctx, policy.home);
  const topK = input.topK ?? LIMITS.topKDefault;
  const { cache } = ctx.parts;
  // minVersion answers depend on waiting for the log, so they are never served from cache.
  const tenantVersion =
    input.minVersion === undefined && ctx.config.resultCacheTtlMs > 0
      ? await tenantVersions.token(tenant)
      : undefined;
  const key =
    tenantVersion === undefined
      ? undefined
      : resultCacheKey({ tenant, tenantVersion, query: input.query, topK, filter: input.filter ?? {} });
  if (key) {
    const cached = await cache.get(key).catch(() => undefined);
    if (cached) return { ...(JSON.parse(cached) as SearchResponse), tookMs: performance.now() - started };
  }
  if (input.minVersion !== undefined && policy.home !== ctx.config.region) {
    await ensureArrived(ctx, policy.home, tenant, input.minVersion, waitMs);
  }
  const vector = encodeVector(await embedQuery(ctx, input.query));
  const query = { tenant, vector, topK, filter: input.filter, minVersion: input.minVersion, waitMs };
  // A minVersion query may wait for its shard to catch up; others get the plain timeout.
  const timeoutMs = ctx.config.shardQueryTimeoutMs + (input.minVersion === undefined ? 0 : waitMs);
  const perShard = await Promise.all(
    shardNames(view.shardCount).map((shard) =>
      queryShard(ctx.nc, ctx.config.region, view.origin, shard, query, timeoutMs),
    ),
  );
  const results = perShard
    .flat()
    .sort((a, b) => b.score - a.score)
    .slice(0, topK)
    .map(({ id, score, text, metadata, scope, version }) => ({ id, score, text, metadata, scope, version }));
  const response = { results, region: ctx.config.region, tookMs: performance.now() - started };
  if (key) {
    await cache.set(key, JSON.stringify(response), ctx.config.resultCacheTtlMs).catch(() => undefined);
  }
  return response;
}
