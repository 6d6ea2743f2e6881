/**
 * @module removal
 * One region's part of an erasure, once its stream holds the sealed marker (so every
 * tombstone of the erasure): wait until its views applied the tombstones, purge each erased
 * subject up to its tombstone (history and re-embeddings included), write fresh snapshots
 * (which deletes the older snapshot directories that still held the texts), remove the cache
 * entries that hold or are keyed by the erased texts, delete the subjects' dead letters; then
 * check all of it again and count what is left. Every step is idempotent: a resumed region
 * redoes them and removes nothing twice.
 */
import type { Cache } from '@memmesh/cache';
import { type EraseScope, type ErasureRegionReceipt, ErrorCode, MeshError, sleep } from '@memmesh/core';
import type { Logger } from '@memmesh/telemetry';
import { DeliverPolicy, type JetStreamClient, type JetStreamManager, type JsMsg } from '@nats-io/jetstream';
import type { Views } from '../shards/views.ts';
import { type SubjectSummary, type WalkSummary, walkTenant } from './walk.ts';

export interface RemovalContext {
  region: string;
  js: JetStreamClient;
  jsm: JetStreamManager;
  stream: string;
  deadLetterStream: string;
  views: Views;
  cache: Cache;
  logger: Logger;
  idleMsMax: number;
  /** Longest wait for the views to apply the tombstones. */
  waitAppliedMsMax: number;
  /** Cache keys looked at per prefix. */
  cacheKeysMax: number;
  /** Dead letters read per erasure. */
  deadLettersMax: number;
  /** The agent is stopping: waits give up (the step is redone after the restart). */
  stopped?: () => boolean;
}

export interface RemovalJob {
  origin: string;
  tenant: string;
  scope: EraseScope;
  cutVersion: number;
}

export interface RemovalResult {
  receipt: ErasureRegionReceipt;
  /** Documents in scope written after the cut (the home's receipt lists them). */
  kept: { id: string; version: number }[];
  documents: number;
}

export async function removeInRegion(ctx: RemovalContext, job: RemovalJob): Promise<RemovalResult> {
  const walk = await walkTenant(ctx.js, { ...job, stream: ctx.stream, idleMsMax: ctx.idleMsMax });
  const erased = [...walk.subjects.values()].filter((s) => s.erased);
  await waitApplied(ctx, job.origin, erased);
  const { streamMessages, embeddingMessages } = await purgeSubjects(ctx, erased);
  const viewDocs = await viewDocsGone(ctx, job, erased);
  const snapshots = await snapshotViews(ctx, job.origin);
  const hashes = new Set(erased.flatMap((s) => [...s.textHashes]));
  const cacheEntries = await removeCacheEntries(ctx, job.tenant, hashes, true);
  const subjects = new Set(erased.map((s) => s.subject));
  const deadLetters = await deadLettersOf(ctx, subjects, true);
  const verification = await verify(ctx, job, subjects, hashes);
  return {
    receipt: {
      state: verification.ok ? 'done' : 'failed',
      streamMessages,
      embeddingMessages,
      viewDocs,
      snapshots,
      cacheEntries,
      deadLetters,
      finishedAt: new Date().toISOString(),
      verification,
      ...(verification.ok ? {} : { error: 'the verification found erased data left (see its counts)' }),
    },
    kept: keptAfterCut(walk, job.cutVersion),
    documents: erased.length,
  };
}

/**
 * What another agent of the region does for its own copies once the region's removal is under
 * way: its views are its own (embedded indexes, snapshot files) and so may be its cache (an
 * in-process LRU). It waits until its views applied the erasure's tombstones (found in the
 * log, which keeps them), snapshots them, and empties its own cache of the tenant's entries.
 */
export async function removeLocally(ctx: RemovalContext, job: RemovalJob): Promise<void> {
  const walk = await walkTenant(ctx.js, { ...job, stream: ctx.stream, idleMsMax: ctx.idleMsMax });
  const tombstoned = [...walk.subjects.values()].filter(
    (s) => s.erased || (s.lastType === 'delete' && s.lastVersion > job.cutVersion),
  );
  await waitApplied(ctx, job.origin, tombstoned);
  await snapshotViews(ctx, job.origin);
  if (ctx.cache.kind !== 'lru') return;
  for (const prefix of [`r:${job.tenant}:`, `e:${job.tenant}:`]) {
    for (const key of await ctx.cache.keys(prefix, ctx.cacheKeysMax)) await ctx.cache.delete(key);
  }
}

function keptAfterCut(walk: WalkSummary, cutVersion: number): { id: string; version: number }[] {
  return [...walk.subjects.values()]
    .filter((s) => s.lastType === 'upsert' && s.lastInScope && s.lastVersion > cutVersion)
    .map((s) => ({ id: s.id, version: s.lastVersion }));
}

/** Every view of the origin (each model's) has applied each erased subject's newest message. */
async function waitApplied(ctx: RemovalContext, origin: string, erased: SubjectSummary[]): Promise<void> {
  const needed = new Map<string, number>();
  for (const s of erased) needed.set(s.shard, Math.max(needed.get(s.shard) ?? 0, s.lastSeq));
  const deadline = Date.now() + ctx.waitAppliedMsMax;
  const hosts = () => ctx.views.all().filter((h) => h.origin === origin);
  // Bounded: until the deadline, 50 ms apart.
  while (hosts().some((h) => h.consumer.appliedSeq < (needed.get(h.shard) ?? 0))) {
    if (Date.now() > deadline || ctx.stopped?.()) {
      throw new MeshError(ErrorCode.Unavailable, 'the views have not applied the erasure tombstones yet', {
        retryAfterMs: 1_000,
      });
    }
    await sleep(50);
  }
}

/**
 * Keeps of each subject only its tombstone (or, when a write came after the cut, that newer
 * version): `purge` removes the filter's messages below `seq`. Re-embeddings go whole.
 */
async function purgeSubjects(
  ctx: RemovalContext,
  erased: SubjectSummary[],
): Promise<{ streamMessages: number; embeddingMessages: number }> {
  let streamMessages = 0;
  let embeddingMessages = 0;
  for (const s of erased) {
    // A tombstone, or a version out of scope (the memory moved to another scope), is kept.
    const below = s.lastType === 'upsert' && s.lastInScope ? s.seqAtCut + 1 : s.lastSeq;
    streamMessages += (await ctx.jsm.streams.purge(ctx.stream, { filter: s.subject, seq: below })).purged;
    embeddingMessages += (await ctx.jsm.streams.purge(ctx.stream, { filter: `${s.subject}.emb.>` })).purged;
  }
  return { streamMessages, embeddingMessages };
}

/** Erased documents that no view of the origin holds at an erased version. */
async function viewDocsGone(ctx: RemovalContext, job: RemovalJob, erased: SubjectSummary[]): Promise<number> {
  return (
    erased.length -
    (await viewHits(
      ctx,
      job,
      erased.map((s) => ({ id: s.id, shard: s.shard })),
    ))
  );
}

async function viewHits(
  ctx: RemovalContext,
  job: RemovalJob,
  docs: { id: string; shard: string }[],
): Promise<number> {
  let hits = 0;
  const hosts = ctx.views.all().filter((h) => h.origin === job.origin);
  for (const doc of docs) {
    for (const host of hosts.filter((h) => h.shard === doc.shard)) {
      const held = await host.index.get(job.tenant, doc.id);
      if (held && held.version <= job.cutVersion) hits++;
    }
  }
  return hits;
}

/** A fresh snapshot of every view of the origin; writing one deletes the older directories. */
async function snapshotViews(ctx: RemovalContext, origin: string): Promise<number> {
  const hosts = ctx.views.all().filter((h) => h.origin === origin);
  for (const host of hosts) await host.index.snapshot();
  return hosts.length;
}

/**
 * The tenant's cached results (any of them may hold an erased text; they are only a cache)
 * and the query embeddings keyed by an erased text's hash. Removes them when `remove`, and
 * answers how many there were.
 */
async function removeCacheEntries(
  ctx: RemovalContext,
  tenant: string,
  hashes: Set<string>,
  remove: boolean,
): Promise<number> {
  const results = await ctx.cache.keys(`r:${tenant}:`, ctx.cacheKeysMax);
  const embeddings = (await ctx.cache.keys(`e:${tenant}:`, ctx.cacheKeysMax)).filter((k) =>
    hashes.has(k.slice(k.lastIndexOf(':') + 1)),
  );
  if (remove) for (const key of [...results, ...embeddings]) await ctx.cache.delete(key);
  return results.length + embeddings.length;
}

/** Dead letters whose original subject is erased: deleted when `remove`; how many there were. */
async function deadLettersOf(ctx: RemovalContext, subjects: Set<string>, remove: boolean): Promise<number> {
  const consumer = await ctx.js.consumers.get(ctx.deadLetterStream, { deliver_policy: DeliverPolicy.All });
  const pending = Math.min((await consumer.info(true)).num_pending, ctx.deadLettersMax);
  let found = 0;
  let read = 0;
  // Bounded: at most deadLettersMax letters, each within idleMsMax.
  while (read < pending) {
    const batch = await consumer.fetch({
      max_messages: Math.min(256, pending - read),
      expires: ctx.idleMsMax,
    });
    let got = 0;
    for await (const msg of batch as AsyncIterable<JsMsg>) {
      got++;
      read++;
      const original = msg.headers?.get('Memmesh-Original-Subject');
      if (!original || !subjects.has(original.replace(/\.emb\.[^.]+$/, ''))) continue;
      found++;
      if (remove) await ctx.jsm.streams.deleteMessage(ctx.deadLetterStream, msg.seq, false);
    }
    if (got === 0) break;
  }
  return found;
}

async function verify(
  ctx: RemovalContext,
  job: RemovalJob,
  subjects: Set<string>,
  hashes: Set<string>,
): Promise<NonNullable<ErasureRegionReceipt['verification']>> {
  const again = await walkTenant(ctx.js, { ...job, stream: ctx.stream, idleMsMax: ctx.idleMsMax });
  let streamMessagesLeft = 0;
  const docs: { id: string; shard: string }[] = [];
  for (const subject of subjects) {
    const s = again.subjects.get(subject);
    if (!s) continue;
    // The current version, when it is out of scope, is not erased content.
    const current = s.lastType === 'upsert' && !s.lastInScope && s.lastVersion <= job.cutVersion ? 1 : 0;
    streamMessagesLeft += s.contentAtCut - current;
    docs.push({ id: s.id, shard: s.shard });
  }
  const viewHitsLeft = await viewHits(ctx, job, docs);
  const cacheEntriesLeft = await removeCacheEntries(ctx, job.tenant, hashes, false);
  const deadLettersLeft = await deadLettersOf(ctx, subjects, false);
  const ok = streamMessagesLeft + viewHitsLeft + cacheEntriesLeft + deadLettersLeft === 0;
  return { ok, streamMessagesLeft, viewHitsLeft, cacheEntriesLeft, deadLettersLeft };
}
