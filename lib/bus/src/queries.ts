/**
 * @module queries
 * Request-reply for shard queries: `q.<region>.<origin>.<shard>` with one queue group per
 * shard, so NATS spreads the queries of a shard over the replicas that host it. Requests
 * carry the caller's trace context (`traceparent` header) and each is answered in a server
 * span. This is the untyped layer (bytes in, bytes out) and the error half of the reply
 * protocol; `shard-query` builds the typed shard protocol on it.
 */
import { describeIssues, ErrorCode, isMeshError, MeshError } from '@memmesh/core';
import {
  extractTraceContext,
  injectTraceContext,
  SpanKind,
  type Tracer,
  tracerOf,
  withSpan,
} from '@memmesh/telemetry';
import { type NatsConnection, headers as natsHeaders, type Subscription } from '@nats-io/transport-node';
import { z } from 'zod';
import { toMeshError } from './errors.ts';

/** Answers one request; `subject` is the one it arrived on (a wildcard subscription's match). */
export type QueryHandler = (request: Uint8Array, subject: string) => Promise<Uint8Array>;

export interface ServeQueriesOptions {
  subject: string;
  queue: string;
  /** Queries handled at once by this subscriber; more are answered `unavailable`. */
  inFlightMax?: number | undefined;
  /** Makes the `query` spans; the global tracer (a no-op unless registered) when omitted. */
  tracer?: Tracer | undefined;
}

export const DEFAULT_QUERY_IN_FLIGHT_MAX = 256;
/** What an overloaded subscriber asks callers to wait: a query's typical time, not a reconnect. */
export const QUERY_OVERLOAD_RETRY_AFTER_MS = 100;
/**
 * The longest wait a reply may ask for. A responder asking for more is answering wrongly:
 * a retry hint is about a shard catching up or shedding load, which takes moments.
 */
export const QUERY_RETRY_AFTER_MS_MAX = 60_000;
/** An error reply's message, in characters: enough for a reason, too little to smuggle data. */
export const QUERY_ERROR_MESSAGE_LENGTH_MAX = 1_024;

/**
 * The error half of every reply. Unknown keys are stripped rather than refused, so that a
 * newer responder may add fields during a rolling upgrade without breaking older callers.
 */
const ErrorReplySchema = z.object({
  error: z.object({
    code: z.enum(ErrorCode),
    message: z.string().max(QUERY_ERROR_MESSAGE_LENGTH_MAX),
    retryAfterMs: z.number().int().min(0).max(QUERY_RETRY_AFTER_MS_MAX).optional(),
  }),
});

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** Replies carry the handler's bytes, or `{error: {code, message, retryAfterMs?}}`. */
export function serveQueries(
  nc: NatsConnection,
  options: ServeQueriesOptions,
  handler: QueryHandler,
): Subscription {
  const inFlightMax = options.inFlightMax ?? DEFAULT_QUERY_IN_FLIGHT_MAX;
  const tracer = options.tracer ?? tracerOf();
  const attributes = { 'messaging.system': 'nats', 'messaging.destination.name': options.subject };
  let inFlight = 0;
  return nc.subscribe(options.subject, {
    queue: options.queue,
    callback: (err, msg) => {
      if (err) return;
      if (inFlight >= inFlightMax) {
        const overloaded = new MeshError(ErrorCode.Unavailable, 'shard is overloaded', {
          retryAfterMs: QUERY_OVERLOAD_RETRY_AFTER_MS,
        });
        msg.respond(errorReply(overloaded));
        return;
      }
      inFlight++;
      const parent = extractTraceContext(msg.headers);
      withSpan(
        tracer,
        `query ${options.subject}`,
        { kind: SpanKind.SERVER, attributes },
        () => handler(msg.data, msg.subject),
        parent,
      )
        .then(
          (reply) => msg.respond(reply),
          (error: unknown) => msg.respond(errorReply(error)),
        )
        .finally(() => inFlight--);
    },
  });
}

function errorReply(err: unknown): Uint8Array {
  // Anything but a MeshError is a bug of the handler: its message stays out of the reply.
  const mesh = isMeshError(err)
    ? err
    : new MeshError(ErrorCode.Internal, 'shard query failed', { cause: err });
  const retryAfterMs =
    mesh.retryAfterMs === undefined ? undefined : Math.min(mesh.retryAfterMs, QUERY_RETRY_AFTER_MS_MAX);
  const error = {
    code: mesh.code,
    message: mesh.message.slice(0, QUERY_ERROR_MESSAGE_LENGTH_MAX),
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
  };
  return encoder.encode(JSON.stringify({ error }));
}

/** Sends a shard query; a reply that carries an error is rethrown as that MeshError. */
export async function requestQuery(
  nc: NatsConnection,
  subject: string,
  request: Uint8Array,
  timeoutMs: number,
): Promise<unknown> {
  return decodeReply(await requestBytes(nc, subject, request, timeoutMs), `query ${subject}`);
}

/** One request with the caller's trace context; NATS failures become MeshErrors. */
export async function requestBytes(
  nc: NatsConnection,
  subject: string,
  request: Uint8Array,
  timeoutMs: number,
): Promise<Uint8Array> {
  try {
    const headers = natsHeaders();
    injectTraceContext(headers);
    return (await nc.request(subject, request, { timeout: timeoutMs, headers })).data;
  } catch (err) {
    throw toMeshError(err, `query ${subject}`);
  }
}

/**
 * Parses a reply as JSON and rethrows an error reply as its MeshError (code, message and
 * retry hint). Bytes that are not JSON, or an error reply of the wrong shape, mean that the
 * responder answered wrongly: `upstream`, never a crash of the caller.
 */
export function decodeReply(data: Uint8Array, what: string): unknown {
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(data));
  } catch (err) {
    throw new MeshError(ErrorCode.Upstream, `${what}: the reply is not UTF-8 JSON`, { cause: err });
  }
  if (typeof json !== 'object' || json === null || !('error' in json)) return json;
  const parsed = ErrorReplySchema.safeParse(json);
  if (!parsed.success) {
    throw new MeshError(ErrorCode.Upstream, `${what}: the error reply does not match the protocol`, {
      details: describeIssues(parsed.error),
    });
  }
  const { code, message, retryAfterMs } = parsed.data.error;
  throw new MeshError(code, message, retryAfterMs === undefined ? {} : { retryAfterMs });
}
