/**
 * @module shard-query
 * The shard query protocol: what a region agent asks one shard view over
 * `q.<region>.<origin>.<shard>.<tenant>`, and what the view answers. Both ends validate against the
 * same zod schemas, because nothing on the bus is trusted because it arrived (DESIGN §12):
 * a forged query could otherwise ask one shard for thousands of a tenant's memories, and a
 * wrong responder could otherwise crash the caller that merges its hits.
 *
 * On the wire: a query is UTF-8 JSON of `ShardQuery`; a reply is UTF-8 JSON of `ShardReply`,
 * or `{error: {code, message, retryAfterMs?}}` (the error half lives in `queries`). The
 * shapes are those the region agent has sent since before this module, so replicas running
 * the old and the new code answer each other during a rolling upgrade.
 *
 * A second kind of query, `{kind: "list"}` (`ShardListQuery`), asks for a page of the
 * tenant's memories, newest first, on the same tenant-scoped subjects and with the same
 * tenant check; its reply is `ShardListReply`. A shard of the previous release refuses it as
 * malformed (its query schema is strict), which a list in a mixed region answers as 400
 * until the upgrade is through: lists are new, so nothing that worked before stops working.
 */
import {
  describeIssues,
  ErrorCode,
  FilterSchema,
  LIMITS,
  MemorySchema,
  MeshError,
  querySubject,
  SearchHitSchema,
  TenantSchema,
  tenantQuerySubject,
} from '@memmesh/core';
import { SpanKind, type Tracer, tracerOf, withSpan } from '@memmesh/telemetry';
import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import {
  DEFAULT_QUERY_IN_FLIGHT_MAX,
  decodeReply,
  QUERY_OVERLOAD_RETRY_AFTER_MS,
  requestBytes,
  serveQueries,
} from './queries.ts';

/**
 * The longest a query may ask a shard to wait for `minVersion` to be applied. It bounds how
 * long a forged or careless query can hold one of the shard's in-flight slots.
 */
export const SHARD_QUERY_WAIT_MS_MAX = 60_000;

/** Base64 of `LIMITS.dimensionsMax` float32s, the longest vector an index accepts. */
const VECTOR_BASE64_LENGTH_MAX = Math.ceil((LIMITS.dimensionsMax * 4) / 3) * 4;
/**
 * Padded standard base64, as `encodeVector` writes it, together with a length that is a
 * multiple of 4 (checked beside it). One character class and the padding: linear, where the
 * grouped form `(?:[…]{4})*(?:…==|…=)?` backtracked over every query's 2 kB vector and was
 * a visible share of a busy agent's time.
 */
const BASE64_PATTERN = /^[A-Za-z0-9+/]*={0,2}$/;

/** Bytes that a padded base64 string decodes to. */
const base64Bytes = (value: string): number =>
  (value.length / 4) * 3 - (value.endsWith('==') ? 2 : value.endsWith('=') ? 1 : 0);

const SequenceSchema = z.number().int().min(0).max(Number.MAX_SAFE_INTEGER);

/**
 * The vector's dimension is checked by the handler, which knows its index's; the schema
 * checks what holds for every index: base64 of whole float32s, no longer than the largest.
 */
const VectorSchema = z
  .string()
  .min(1)
  .max(VECTOR_BASE64_LENGTH_MAX)
  .regex(BASE64_PATTERN, 'vector must be padded base64')
  .refine((v) => v.length % 4 === 0, { message: 'vector must be padded base64' })
  .refine((v) => base64Bytes(v) % 4 === 0, { message: 'vector must be whole little-endian float32s' });

/** Strict: a field this version does not know could change what the handler would do. */
export const ShardQuerySchema = z.strictObject({
  tenant: TenantSchema,
  /** Little-endian float32 query embedding, base64. */
  vector: VectorSchema,
  topK: z.number().int().min(1).max(LIMITS.topKMax),
  filter: FilterSchema.optional(),
  /** Read-your-writes: answer only once the shard has applied this home version. */
  minVersion: SequenceSchema.optional(),
  /** How long the shard may wait for `minVersion` before answering `unavailable`. */
  waitMs: z.number().int().min(0).max(SHARD_QUERY_WAIT_MS_MAX),
  /**
   * The model key (`modelKeyOf`) of the query vector: the shard answers from its view of that
   * model, so that one query never mixes models while a region changes its model. Omitted
   * by agents of regions that were never re-indexed (and by earlier releases): the view the
   * shard serves.
   */
  model: z
    .string()
    .regex(/^[0-9a-f]{16}$/)
    .optional(),
});
export type ShardQuery = z.infer<typeof ShardQuerySchema>;

/** A shard's hit is a search hit: the merge of all shards' hits is the search response. */
export const ShardHitSchema = SearchHitSchema;
export type ShardHit = z.infer<typeof ShardHitSchema>;

/** Not strict: a newer responder may add fields; they are stripped, never passed on. */
export const ShardReplySchema = z.object({
  /** Best first; at most the query's topK. */
  hits: z.array(ShardHitSchema).max(LIMITS.topKMax),
  /** The shard's position in its stream when it searched. */
  appliedSeq: SequenceSchema,
  /** True when lower-ranked hits were left out to keep the reply under the byte maximum. */
  truncated: z.boolean(),
});
export type ShardReply = z.infer<typeof ShardReplySchema>;

/** A page of the tenant's memories in one shard: newest (highest version) first. */
export const ShardListQuerySchema = z.strictObject({
  kind: z.literal('list'),
  tenant: TenantSchema,
  limit: z.number().int().min(1).max(LIMITS.listLimitMax),
  /** Only versions below this one: the page's cursor. */
  beforeVersion: SequenceSchema.optional(),
  filter: FilterSchema.optional(),
});
export type ShardListQuery = z.infer<typeof ShardListQuerySchema>;

/** A listed memory: a memory without the region and shard, which the caller knows. */
export const ShardListedSchema = MemorySchema.omit({ region: true, shard: true });
export type ShardListed = z.infer<typeof ShardListedSchema>;

export const ShardListReplySchema = z.object({
  /** Newest first; at most the query's limit. */
  docs: z.array(ShardListedSchema).max(LIMITS.listLimitMax),
  appliedSeq: SequenceSchema,
  /**
   * True when older memories of the page were left out to stay under the byte maximum: the
   * caller must not page past the oldest one it got from this shard.
   */
  truncated: z.boolean(),
});
export type ShardListReply = z.infer<typeof ShardListReplySchema>;

export interface ShardListAnswer {
  docs: ShardListed[];
  appliedSeq: number;
}

export type ShardListHandler = (query: ShardListQuery) => Promise<ShardListAnswer>;

/** What a handler answers; `serveShard` validates, ranks, cuts and encodes it. */
export interface ShardAnswer {
  hits: ShardHit[];
  appliedSeq: number;
}

export type ShardQueryHandler = (query: ShardQuery) => Promise<ShardAnswer>;

export interface ServeShardOptions {
  region: string;
  /** Home region of the events this view materialises (= region for its own shards). */
  origin: string;
  shard: string;
  /** Makes the `query` spans; the global tracer when omitted. */
  tracer?: Tracer | undefined;
  /** Queries answered at once; more are answered `unavailable` (DEFAULT_QUERY_IN_FLIGHT_MAX). */
  inFlightMax?: number | undefined;
}

export interface ShardServer {
  readonly subject: string;
  /**
   * Answers a query of this process without NATS: the query checked as one sent over NATS is,
   * the same handler, ranking and byte budget (so an answer does not depend on which way it
   * came), in a span of the same name. `unavailable` once stopped or past `inFlightMax`.
   */
  ask(query: ShardQuery): Promise<ShardReply>;
  /** As `ask`, for a page of the tenant's memories (`bad_request` without a list handler). */
  askList(query: ShardListQuery): Promise<ShardListReply>;
  /**
   * Stops taking queries, then resolves once those being answered have been handled, so
   * that the caller may close the index afterwards. A handler waiting for `minVersion` may
   * hold this up to SHARD_QUERY_WAIT_MS_MAX.
   */
  stop(): Promise<void>;
}

export interface RequestShardListOptions {
  region: string;
  origin: string;
  shard: string;
  query: ShardListQuery;
  timeoutMs: number;
}

export interface RequestShardOptions {
  region: string;
  origin: string;
  shard: string;
  query: ShardQuery;
  /** How long to wait for the reply; a minVersion query should add its waitMs. */
  timeoutMs: number;
}

const encoder = new TextEncoder();
// Built once: a zod schema made per call is built (and its parser compiled) per call, about
// three times the cost of the check itself, for every shard reply.
const ShardHitsSchema = z.array(ShardHitSchema);
const ShardListedDocsSchema = z.array(ShardListedSchema);
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Answers the queries of one shard view in the shard's queue group. Every query is validated
 * first: a malformed one is answered `bad_request` and never reaches the handler. List
 * queries go to `listHandler`; without one they are answered `bad_request`, as by a shard of
 * the previous release.
 */
export function serveShard(
  nc: NatsConnection,
  options: ServeShardOptions,
  handler: ShardQueryHandler,
  listHandler?: ShardListHandler,
): ShardServer {
  const subject = querySubject(options.region, options.origin, options.shard);
  const answering = new Set<Promise<unknown>>();
  const track = <T>(answered: Promise<T>): Promise<T> => {
    answering.add(answered);
    const forget = () => answering.delete(answered);
    answered.then(forget, forget);
    return answered;
  };
  const answer = async (data: Uint8Array, arrivedOn: string) => {
    const query = decodeAnyQuery(data, listHandler !== undefined);
    // On the tenant's subject, the subject and the query must name the same tenant.
    const subjectTenant = arrivedOn === subject ? undefined : arrivedOn.slice(subject.length + 1);
    if (subjectTenant !== undefined && subjectTenant !== query.tenant) {
      throw new MeshError(
        ErrorCode.BadRequest,
        `shard query for tenant ${query.tenant} sent on tenant ${subjectTenant}'s subject`,
      );
    }
    if ('kind' in query) {
      const { docs, appliedSeq } = await track((listHandler as ShardListHandler)(query));
      return encodeShardListReply(query, docs, appliedSeq);
    }
    const { hits, appliedSeq } = await track(handler(query));
    return encodeShardReply(query, hits, appliedSeq);
  };
  const serve = (on: string) =>
    serveQueries(
      nc,
      { subject: on, queue: subject, tracer: options.tracer, inFlightMax: options.inFlightMax },
      answer,
    );
  // Queries come on the tenant's subject; the bare one is still served for agents of the
  // previous release during a rolling upgrade (they sent every tenant's queries there).
  const subscriptions = [serve(`${subject}.*`), serve(subject)];
  const tracer = options.tracer ?? tracerOf();
  const inFlightMax = options.inFlightMax ?? DEFAULT_QUERY_IN_FLIGHT_MAX;
  const spanName = `query ${subject}.*`;
  let stopped = false;
  let localInFlight = 0;
  /** A query of this process: refused when stopped or past the in-flight maximum, else answered in a span. */
  const inProcess = async <R>(answerIt: () => Promise<R>): Promise<R> => {
    if (stopped) throw new MeshError(ErrorCode.Unavailable, `shard ${options.shard} is stopping`);
    if (localInFlight >= inFlightMax) {
      throw new MeshError(ErrorCode.Unavailable, 'shard is overloaded', {
        retryAfterMs: QUERY_OVERLOAD_RETRY_AFTER_MS,
      });
    }
    localInFlight++;
    try {
      return await withSpan(tracer, spanName, { kind: SpanKind.INTERNAL }, answerIt);
    } finally {
      localInFlight--;
    }
  };
  return {
    subject,
    async ask(asked) {
      const query = checkedQuery(ShardQuerySchema, asked, `query ${subject}`);
      return inProcess(async () => {
        const { hits, appliedSeq } = await track(handler(query));
        const { kept, truncated } = fitHits(query, hits, appliedSeq);
        return { hits: kept, appliedSeq, truncated };
      });
    },
    async askList(asked) {
      const query = checkedQuery(ShardListQuerySchema, asked, `list ${subject}`);
      if (!listHandler) throw new MeshError(ErrorCode.BadRequest, `shard ${options.shard} answers no lists`);
      return inProcess(async () => {
        const { docs, appliedSeq } = await track(listHandler(query));
        const { kept, truncated } = fitDocs(query, docs, appliedSeq);
        return { docs: kept, appliedSeq, truncated };
      });
    },
    async stop() {
      stopped = true;
      for (const subscription of subscriptions) subscription.unsubscribe();
      await Promise.allSettled([...answering]);
    },
  };
}

/** A query as the protocol allows it, else `bad_request` naming what is wrong. */
function checkedQuery<Q>(schema: z.ZodType<Q>, query: unknown, what: string): Q {
  const parsed = schema.safeParse(query);
  if (!parsed.success) {
    throw new MeshError(ErrorCode.BadRequest, `${what}: ${summarise(parsed.error)}`, {
      details: describeIssues(parsed.error),
    });
  }
  return parsed.data;
}

/**
 * Validates a shard request, sends it on the tenant's subject and validates the reply: a
 * request off the protocol is `bad_request` before anything is sent, an error reply is
 * rethrown as its MeshError, a reply off the protocol is `upstream`.
 */
async function ask<Q extends { tenant: string }, R>(
  nc: NatsConnection,
  options: { region: string; origin: string; shard: string; query: unknown; timeoutMs: number },
  kind: 'query' | 'list',
  querySchema: z.ZodType<Q>,
  replySchema: z.ZodType<R>,
): Promise<{ query: Q; reply: R; what: string }> {
  const shardSubject = querySubject(options.region, options.origin, options.shard);
  const query = checkedQuery(querySchema, options.query, `${kind} ${shardSubject}`);
  const subject = tenantQuerySubject(options.region, options.origin, options.shard, query.tenant);
  const what = `${kind} ${subject}`;
  const data = encoder.encode(JSON.stringify(query));
  const json = decodeReply(await requestBytes(nc, subject, data, options.timeoutMs), what);
  const reply = replySchema.safeParse(json);
  if (!reply.success) {
    throw new MeshError(ErrorCode.Upstream, `${what}: the reply does not match the protocol`, {
      details: describeIssues(reply.error),
    });
  }
  return { query, reply: reply.data, what };
}

/**
 * Asks one shard view. An error reply is rethrown as its MeshError (code and retry hint);
 * a reply that does not match the protocol is `upstream`: the responder answered wrongly.
 */
export async function requestShard(nc: NatsConnection, options: RequestShardOptions): Promise<ShardReply> {
  const { query, reply, what } = await ask(nc, options, 'query', ShardQuerySchema, ShardReplySchema);
  if (reply.hits.length > query.topK) {
    throw new MeshError(
      ErrorCode.Upstream,
      `${what}: the reply has ${reply.hits.length} hits for a topK of ${query.topK}`,
    );
  }
  return reply;
}

/**
 * Asks one shard view for a page of the tenant's memories. As `requestShard`: error replies
 * are rethrown, a reply off the protocol is `upstream`.
 */
export async function requestShardList(
  nc: NatsConnection,
  options: RequestShardListOptions,
): Promise<ShardListReply> {
  const { query, reply, what } = await ask(nc, options, 'list', ShardListQuerySchema, ShardListReplySchema);
  const { docs } = reply;
  const ordered = docs.every((d, i) => i === 0 || (docs[i - 1] as ShardListed).version > d.version);
  const below = docs.every((d) => query.beforeVersion === undefined || d.version < query.beforeVersion);
  if (docs.length > query.limit || !ordered || !below) {
    throw new MeshError(ErrorCode.Upstream, `${what}: the reply is not a page of the query`);
  }
  return reply;
}

function decodeAnyQuery(data: Uint8Array, listing: boolean): ShardQuery | ShardListQuery {
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(data));
  } catch {
    throw new MeshError(ErrorCode.BadRequest, 'malformed shard query: not UTF-8 JSON');
  }
  const isList = listing && typeof json === 'object' && json !== null && 'kind' in json;
  const parsed = (isList ? ShardListQuerySchema : ShardQuerySchema).safeParse(json);
  if (!parsed.success) {
    throw new MeshError(ErrorCode.BadRequest, `malformed shard query: ${summarise(parsed.error)}`, {
      details: describeIssues(parsed.error),
    });
  }
  return parsed.data;
}

/**
 * The list reply under LIMITS.shardReplyBytesMax: a page of a hundred memories at the text
 * limit is 1.6 MiB, over NATS's payload, so the oldest are left out as needed (`truncated`)
 * and the caller pages on from the oldest one it got.
 */
function encodeShardListReply(query: ShardListQuery, docs: ShardListed[], appliedSeq: number): Uint8Array {
  const { parts, truncated } = fitDocs(query, docs, appliedSeq);
  return encoder.encode(`{"docs":[${parts.join(',')}],"appliedSeq":${appliedSeq},"truncated":${truncated}}`);
}

/** The page's memories, newest first, that fit a reply under LIMITS.shardReplyBytesMax, and their JSON. */
function fitDocs(
  query: ShardListQuery,
  docs: ShardListed[],
  appliedSeq: number,
): { kept: ShardListed[]; parts: string[]; truncated: boolean } {
  const checked = ShardListedDocsSchema.safeParse(docs);
  if (!checked.success) {
    throw new MeshError(ErrorCode.Internal, 'the shard handler returned invalid memories', {
      details: describeIssues(checked.error),
    });
  }
  const below = query.beforeVersion ?? Number.POSITIVE_INFINITY;
  const page = checked.data
    .filter((d) => d.version < below)
    .toSorted((a, b) => b.version - a.version)
    .slice(0, query.limit);
  return fitReply(page, `{"docs":[],"appliedSeq":${appliedSeq},"truncated":false}`);
}

/**
 * The first of `items` (best first) whose JSON fits a reply under LIMITS.shardReplyBytesMax
 * beside `emptyReply` (the reply with none of them, and `false`: one byte longer than `true`,
 * so an upper bound), their JSON, and whether any was left out.
 */
function fitReply<T>(items: T[], emptyReply: string): { kept: T[]; parts: string[]; truncated: boolean } {
  const parts = items.map((item) => JSON.stringify(item));
  let bytes = Buffer.byteLength(emptyReply);
  let kept = 0;
  for (const part of parts) {
    const next = bytes + Buffer.byteLength(part) + (kept > 0 ? 1 : 0);
    if (next > LIMITS.shardReplyBytesMax) break;
    bytes = next;
    kept++;
  }
  return { kept: items.slice(0, kept), parts: parts.slice(0, kept), truncated: kept < parts.length };
}

/**
 * Encodes the reply under LIMITS.shardReplyBytesMax, so that it fits a default NATS
 * max_payload with room for headers. Only a topK of many long texts (or texts that JSON
 * escaping makes longer, such as quotes) comes close; then the lowest-ranked hits are left
 * out, as few as needed, and the reply says `truncated`.
 */
function encodeShardReply(query: ShardQuery, hits: ShardHit[], appliedSeq: number): Uint8Array {
  const { parts, truncated } = fitHits(query, hits, appliedSeq);
  return encoder.encode(`{"hits":[${parts.join(',')}],"appliedSeq":${appliedSeq},"truncated":${truncated}}`);
}

/** The best hits, at most topK, that fit a reply under LIMITS.shardReplyBytesMax, and their JSON. */
function fitHits(
  query: ShardQuery,
  hits: ShardHit[],
  appliedSeq: number,
): { kept: ShardHit[]; parts: string[]; truncated: boolean } {
  const checked = ShardHitsSchema.safeParse(hits);
  if (!checked.success) {
    // The handler is this process's own code: invalid hits are a bug, answered `internal`.
    throw new MeshError(ErrorCode.Internal, 'the shard handler returned invalid hits', {
      details: describeIssues(checked.error),
    });
  }
  // Rank order is score order; sorting here makes "lowest-ranked first" hold whatever order
  // the index returned, and the protocol promises at most topK hits.
  const ranked = checked.data.toSorted((a, b) => b.score - a.score).slice(0, query.topK);
  return fitReply(ranked, `{"hits":[],"appliedSeq":${appliedSeq},"truncated":false}`);
}

function summarise(error: z.ZodError): string {
  return describeIssues(error)
    .slice(0, 3)
    .map((issue) => `${issue.path}: ${issue.message}`)
    .join('; ');
}
