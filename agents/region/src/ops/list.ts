/**
 * @module list
 * `GET /v1/memories`: a page of the tenant's memories, newest first, from the views.
 *
 * Why the views and not the log: the views already hold every live memory's current version
 * with its metadata and scope, and filter them with the same code as search does
 * (../filter.ts, or its Milvus twin), so a list and a search agree on what a filter selects;
 * the log would have to be read a subject at a time and every event decoded to filter it.
 *
 * The order is the version (the home stream's sequence), unique across the tenant's shards,
 * so a page is the merge of every shard's newest `limit` below the cursor, cut to `limit`,
 * and the cursor is the last version given. A write made while paging gets a version above
 * every cursor already handed out, so it never shifts a later page: no memory is given
 * twice and none is skipped (a memory updated meanwhile moves above the cursor, and shows up
 * on a new listing, not this one).
 */
import type { ShardListReply } from '@memmesh/bus';
import {
  ErrorCode,
  type Filter,
  LIMITS,
  type MemoryList,
  MeshError,
  sha256Hex,
  shardNames,
} from '@memmesh/core';
import type { TenantPolicy } from '@memmesh/routing';
import type { RegionHandles } from './handles.ts';
import { homeViews } from './reads.ts';
import { askShardList } from './shard-asks.ts';

export interface ListInput {
  filter: Filter;
  /** 1 to LIMITS.listLimitMax; LIMITS.listLimitDefault when absent. */
  limit?: number | undefined;
  /** The previous page's nextCursor. */
  cursor?: string | undefined;
}

/** A cursor is small: a version and a filter hash, base64url. Longer is garbage, refused unread. */
const CURSOR_LENGTH_MAX = 64;
const CURSOR_PATTERN = /^m1\.([1-9]\d{0,15})\.([0-9a-f]{12})$/;

export async function listMemories(
  h: RegionHandles,
  policy: TenantPolicy,
  input: ListInput,
): Promise<MemoryList> {
  const { tenant } = policy;
  const limit = input.limit ?? LIMITS.listLimitDefault;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > LIMITS.listLimitMax) {
    throw new MeshError(ErrorCode.BadRequest, `limit must be 1 to ${LIMITS.listLimitMax}, got ${limit}`);
  }
  const filterHash = hashOf(input.filter);
  const beforeVersion = input.cursor === undefined ? undefined : decodeCursor(input.cursor, filterHash);
  const view = homeViews(h, policy);
  const query = { kind: 'list' as const, tenant, limit, beforeVersion, filter: input.filter };
  const replies = await Promise.all(
    shardNames(view.shardCount).map(async (shard) => ({
      shard,
      reply: await askShardList(h, view, shard, query, h.config.shardQueryTimeoutMs),
    })),
  );
  const { page, more } = mergePages(replies, limit);
  const memories = page.map(({ shard, doc }) => ({ ...doc, region: h.config.region, shard }));
  const last = memories.at(-1);
  return {
    memories,
    region: h.config.region,
    ...(more && last !== undefined ? { nextCursor: encodeCursor(last.version, filterHash) } : {}),
  };
}

type ShardPage = { shard: string; reply: ShardListReply };
type Listed = { shard: string; doc: ShardListReply['docs'][number] };

/**
 * The newest `limit` of all shards' pages. A shard that truncated its page (to fit the reply)
 * has older memories than its last one given, unseen: the page stops at that memory, so the
 * next page, below it, picks them up.
 */
function mergePages(replies: ShardPage[], limit: number): { page: Listed[]; more: boolean } {
  let floor = 0;
  let more = false;
  for (const { reply } of replies) {
    const oldest = reply.docs.at(-1);
    if (reply.truncated && oldest !== undefined) floor = Math.max(floor, oldest.version);
    // A full page may have more behind it; the next page says, possibly with none.
    if (reply.truncated || reply.docs.length >= limit) more = true;
  }
  const all = replies
    .flatMap(({ shard, reply }) => reply.docs.map((doc) => ({ shard, doc })))
    .filter(({ doc }) => doc.version >= floor)
    .sort((a, b) => b.doc.version - a.doc.version);
  if (all.length > limit) more = true;
  return { page: all.slice(0, limit), more };
}

/** The filter, canonically: a cursor is only good for the listing it came from. */
function hashOf(filter: Filter): string {
  const sorted = (record: Record<string, unknown> | undefined) =>
    Object.entries(record ?? {})
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return sha256Hex(JSON.stringify([sorted(filter.metadata), sorted(filter.scope)])).slice(0, 12);
}

function encodeCursor(version: number, filterHash: string): string {
  return Buffer.from(`m1.${version}.${filterHash}`, 'utf8').toString('base64url');
}

function decodeCursor(cursor: string, filterHash: string): number {
  const garbled = () => new MeshError(ErrorCode.BadRequest, 'cursor is not one this API gave out');
  if (cursor.length === 0 || cursor.length > CURSOR_LENGTH_MAX || !/^[A-Za-z0-9_-]+$/.test(cursor)) {
    throw garbled();
  }
  const match = CURSOR_PATTERN.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  const version = Number(match?.[1]);
  if (match === null || !Number.isSafeInteger(version)) throw garbled();
  if (match[2] !== filterHash) {
    throw new MeshError(ErrorCode.BadRequest, 'cursor belongs to a listing with other filters');
  }
  return version;
}
