/**
 * @module search
 * Search by scatter/gather over the shard views of the tenant's home region. Replica regions
 * answer from their copy; `minVersion` makes them wait (bounded) until the copy includes that
 * version, or answer 503 so that the gateway asks another region. Results are cached under
 * the tenant's token, which every applied event replaces.
 */
import { lastBySubject, nextBySubject, type ShardReply, versionOf } from '@memmesh/bus';
import { embeddingCacheKey, resultCacheKey, type TenantVersions } from '@memmesh/cache';
import {
  decodeVector,
  type EmbedderSpec,
  ErrorCode,
  encodeVector,
  isMeshError,
  LIMITS,
  MeshError,
  type SearchInput,
  type SearchResponse,
  shardNames,
  sleep,
  streamName,
  tenantFilter,
} from '@memmesh/core';
import type { TenantPolicy } from '@memmesh/routing';
import type { RegionHandles } from './handles.ts';
import { isShed } from './load.ts';
import { homeViews } from './reads.ts';
import { askShard } from './shard-asks.ts';

/** Embedding cache entries live long: the same text always embeds the same way. */
const EMBEDDING_CACHE_TTL_MS = 3_600_000;
/** How often a replica re-checks whether a version has arrived from its home region. */
const ARRIVAL_POLL_MS = 25;
/** How soon a client may ask again when a version has not reached this replica in time. */
const BEHIND_RETRY_AFTER_MS = 200;

export interface SearchContext {
  tenantVersions: TenantVersions;
  /** Longest wait for `minVersion`, already capped by the configured maximum. */
  waitMs: number;
}

export async function search(
  h: RegionHandles,
  policy: TenantPolicy,
  input: SearchInput,
  ctx: SearchContext,
): Promise<SearchResponse> {
  const started = performance.now();
  const { tenant } = policy;
  const topK = input.topK ?? LIMITS.topKDefault;
  h.budgets.chargeSearch(tenant, input.query, homeViews(h, policy).shardCount, topK);
  const key = await resultKey(h, policy, input, topK, ctx.tenantVersions);
  if (key) {
    const cached = await h.parts.cache.get(key).catch(() => undefined);
    if (cached) {
      h.budgets.chargeSearchResults(tenant, cached.length);
      return { ...(JSON.parse(cached) as SearchResponse), tookMs: performance.now() - started };
    }
  }
  let response: SearchResponse;
  try {
    response = await searchShards(h, policy, input, topK, ctx);
  } catch (err) {
    const stale = await staleAnswer(h, policy, input, topK, err);
    if (stale === undefined) throw err;
    h.budgets.chargeSearchResults(tenant, resultBytesOf(stale.results));
    return { ...stale, tookMs: performance.now() - started };
  }
  response.tookMs = performance.now() - started;
  const ttlMs = cacheTtlMs(response.results, h.config.resultCacheTtlMs);
  if (key && ttlMs > 0) {
    await h.parts.cache.set(key, JSON.stringify(response), ttlMs).catch(() => undefined);
  }
  await keepForStale(h, policy, input, topK, response);
  return response;
}

/** Asks the shards (unless the search is shed first), merges their hits and charges their bytes. */
async function searchShards(
  h: RegionHandles,
  policy: TenantPolicy,
  input: SearchInput,
  topK: number,
  ctx: SearchContext,
): Promise<SearchResponse> {
  const { tenant } = policy;
  if (input.minVersion !== undefined && policy.home !== h.config.region) {
    await ensureArrived(h, policy.home, tenant, input.minVersion, ctx.waitMs);
  }
  const replies = await scatter(h, policy, input, topK, ctx.waitMs);
  const results = replies
    .flatMap((reply) => reply.hits)
    .sort((a, b) => b.score - a.score)
    .slice(0, topK)
    .map(({ id, score, text, metadata, scope, version, expiresAt }) => ({
      id,
      score,
      text,
      metadata,
      scope,
      version,
      ...(expiresAt === undefined ? {} : { expiresAt }),
    }));
  h.budgets.chargeSearchResults(tenant, resultBytesOf(results));
  // A shard that had to drop hits to fit its reply may have dropped some of the top k.
  const truncated = replies.some((reply) => reply.truncated);
  return { results, region: h.config.region, tookMs: 0, ...(truncated ? { truncated } : {}) };
}

/**
 * A cached answer must not outlive its first memory to expire: the sweep that removes it
 * from the views bumps the tenant's token, but only moments after the expiry, and the answer
 * must change at the instant itself.
 */
function cacheTtlMs(results: SearchResponse['results'], ttlMs: number): number {
  let until = Number.POSITIVE_INFINITY;
  for (const r of results) if (r.expiresAt !== undefined) until = Math.min(until, Date.parse(r.expiresAt));
  return Math.min(ttlMs, Math.floor(until - Date.now()));
}

/** minVersion answers depend on waiting for the log, so they are never served from cache. */
async function resultKey(
  h: RegionHandles,
  policy: TenantPolicy,
  input: SearchInput,
  topK: number,
  tenantVersions: TenantVersions,
): Promise<string | undefined> {
  if (input.minVersion !== undefined || h.config.resultCacheTtlMs <= 0) return undefined;
  const { tenant } = policy;
  const tenantVersion = await tenantVersions.token(tenant);
  // No token (the cache cannot be reached to read or replace it): answer uncached.
  if (tenantVersion === undefined) return undefined;
  // Answers of one model are not answers of another: after a switch, old entries miss.
  const model = h.models.queryModelKey(homeViews(h, policy).origin);
  return resultCacheKey({
    tenant,
    tenantVersion,
    query: input.query,
    topK,
    filter: input.filter ?? {},
    model,
  });
}

/** One shard query to every shard of the tenant's home hosted here, in parallel. */
async function scatter(
  h: RegionHandles,
  policy: TenantPolicy,
  input: SearchInput,
  topK: number,
  waitMs: number,
): Promise<ShardReply[]> {
  const view = homeViews(h, policy);
  const shards = shardNames(view.shardCount);
  // Shed here, before the query is embedded or any shard asked: a saturated shard, or a
  // tenant with too many searches in flight, is answered 503 at once instead of queueing.
  const held = h.load.admitSearch(policy.tenant, view.origin, shards);
  try {
    // The query is embedded with the model this agent serves the home's views with, and
    // names it, so every shard answers from its view of that same model.
    const spec = h.models.servingSpec(view.origin);
    const model = h.models.queryModelKey(view.origin);
    const vector = encodeVector(await embedQuery(h, policy.tenant, input.query, spec));
    const query = {
      tenant: policy.tenant,
      vector,
      topK,
      filter: input.filter,
      minVersion: input.minVersion,
      waitMs,
      ...(model ? { model } : {}),
    };
    // A minVersion query may wait for its shard to catch up; others get the plain timeout.
    const timeoutMs = h.config.shardQueryTimeoutMs + (input.minVersion === undefined ? 0 : waitMs);
    const ask = async (shard: string) => {
      const asked = performance.now();
      const reply = await askShard(h, view, shard, query, timeoutMs);
      held.shardDone(shard, performance.now() - asked);
      return reply;
    };
    return await Promise.all(shards.map(ask));
  } finally {
    held.end();
  }
}

/**
 * The stale copy of an answer: the last answer to the same search, whatever the tenant's
 * token, under `r:<tenant>:stale:…` (so an erasure's sweep of the tenant's result entries
 * removes it too), with the time it was made.
 */
function staleKey(h: RegionHandles, policy: TenantPolicy, input: SearchInput, topK: number): string {
  const model = h.models.queryModelKey(homeViews(h, policy).origin);
  const filter = input.filter ?? {};
  return resultCacheKey({
    tenant: policy.tenant,
    tenantVersion: 'stale',
    query: input.query,
    topK,
    filter,
    model,
  });
}

interface StaleEntry {
  madeAtMs: number;
  response: SearchResponse;
}

async function keepForStale(
  h: RegionHandles,
  policy: TenantPolicy,
  input: SearchInput,
  topK: number,
  response: SearchResponse,
): Promise<void> {
  if (h.config.staleCacheTtlMs <= 0 || input.minVersion !== undefined) return;
  const entry: StaleEntry = { madeAtMs: Date.now(), response };
  const key = staleKey(h, policy, input, topK);
  await h.parts.cache.set(key, JSON.stringify(entry), h.config.staleCacheTtlMs).catch(() => undefined);
}

/**
 * When the search was shed or its shards could not answer (503, 504), and the client allows
 * it: the last answer to the same search, if it is at most `maxStaleSeconds` old, without the
 * memories that expired since. Anything else (a 400, a 429: the tenant's own limits) stands.
 */
async function staleAnswer(
  h: RegionHandles,
  policy: TenantPolicy,
  input: SearchInput,
  topK: number,
  err: unknown,
): Promise<SearchResponse | undefined> {
  const allowed = input.maxStaleSeconds;
  if (allowed === undefined || input.minVersion !== undefined || h.config.staleCacheTtlMs <= 0)
    return undefined;
  if (
    !(
      isShed(err) ||
      (isMeshError(err) && (err.code === ErrorCode.Unavailable || err.code === ErrorCode.Timeout))
    )
  ) {
    return undefined;
  }
  const raw = await h.parts.cache.get(staleKey(h, policy, input, topK)).catch(() => undefined);
  if (raw === undefined) return undefined;
  const entry = JSON.parse(raw) as StaleEntry;
  const ageSeconds = Math.max(0, Math.floor((Date.now() - entry.madeAtMs) / 1_000));
  if (ageSeconds > allowed) return undefined;
  const now = Date.now();
  const results = entry.response.results.filter(
    (r) => r.expiresAt === undefined || Date.parse(r.expiresAt) > now,
  );
  h.load.servedStale();
  return { ...entry.response, results, region: h.config.region, staleSeconds: ageSeconds };
}

async function embedQuery(
  h: RegionHandles,
  tenant: string,
  query: string,
  spec: EmbedderSpec,
): Promise<Float32Array> {
  const embedQueue = await h.models.queue(spec);
  const { cache } = h.parts;
  const key = embeddingCacheKey(tenant, embedQueue.modelId, query);
  const cached = await cache.get(key).catch(() => undefined);
  const decoded = cached ? decodeVector(cached, embedQueue.dimensions) : undefined;
  if (decoded) return decoded;
  const [vector] = await embedQueue.embed(tenant, [query], 'query');
  await cache.set(key, encodeVector(vector as Float32Array), EMBEDDING_CACHE_TTL_MS).catch(() => undefined);
  return vector as Float32Array;
}

/**
 * On a replica: waits until every event of the tenant up to `minVersion` has arrived from
 * the home stream. When the newest arrived event is older, the home stream is asked whether
 * anything of the tenant lies between it and `minVersion`; if the home cannot be asked, the
 * replica cannot prove it is current and answers 503.
 */
async function ensureArrived(
  h: RegionHandles,
  home: string,
  tenant: string,
  minVersion: number,
  waitMs: number,
) {
  const deadline = Date.now() + waitMs;
  const subject = tenantFilter(home, tenant);
  // Bounded by the deadline: each round sleeps ARRIVAL_POLL_MS.
  for (;;) {
    const last = await lastBySubject(h.jsm, h.stream, subject);
    const arrived = last ? versionOf(last) : 0;
    if (arrived >= minVersion) return;
    const pending = await nextBySubject(h.jsm, streamName(home), { seq: arrived + 1, subject });
    if (!pending || pending.seq > minVersion) return;
    if (Date.now() >= deadline) {
      throw new MeshError(
        ErrorCode.Unavailable,
        `version ${minVersion} has not reached ${h.config.region} yet`,
        {
          retryAfterMs: BEHIND_RETRY_AFTER_MS,
        },
      );
    }
    await sleep(ARRIVAL_POLL_MS);
  }
}

/** About what the results weigh on the wire: their texts, and their metadata and scope as JSON. */
function resultBytesOf(results: SearchResponse['results']): number {
  let bytes = 0;
  for (const r of results)
    bytes += r.text.length + JSON.stringify(r.metadata).length + JSON.stringify(r.scope).length;
  return bytes;
}
