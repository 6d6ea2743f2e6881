/**
 * @module queries
 * Request-reply for shard queries: `q.<region>.<shard>` with one queue group per shard, so
 * NATS spreads the queries of a shard over the replicas that host it. Requests carry the
 * caller's trace context (`traceparent` header) and each is answered in a server span.
 */
import { ErrorCode, isMeshError, MeshError } from '@memmesh/core';
import {
  extractTraceContext,
  injectTraceContext,
  SpanKind,
  type Tracer,
  tracerOf,
  withSpan,
} from '@memmesh/telemetry';
import { type NatsConnection, headers as natsHeaders, type Subscription } from '@nats-io/transport-node';
import { toMeshError } from './errors.ts';

export type QueryHandler = (request: Uint8Array) => Promise<Uint8Array>;

export interface ServeQueriesOptions {
  subject: string;
  queue: string;
  /** Queries handled at once by this subscriber; more are answered `unavailable`. */
  inFlightMax?: number;
  /** Makes the `query` spans; the global tracer (a no-op unless registered) when omitted. */
  tracer?: Tracer;
}

export const DEFAULT_QUERY_IN_FLIGHT_MAX = 256;

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Replies carry either `{ok: ...}` bytes from the handler or `{error: {code, message}}`. */
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
        msg.respond(
          errorReply(new MeshError(ErrorCode.Unavailable, 'shard is overloaded', { retryAfterMs: 100 })),
        );
        return;
      }
      inFlight++;
      const parent = extractTraceContext(msg.headers);
      withSpan(
        tracer,
        `query ${options.subject}`,
        { kind: SpanKind.SERVER, attributes },
        () => handler(msg.data),
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
  const mesh = isMeshError(err)
    ? err
    : new MeshError(ErrorCode.Internal, 'shard query failed', { cause: err });
  return encoder.encode(JSON.stringify({ error: { code: mesh.code, message: mesh.message } }));
}

/** Sends a shard query; a reply that carries an error is rethrown as that MeshError. */
export async function requestQuery(
  nc: NatsConnection,
  subject: string,
  request: Uint8Array,
  timeoutMs: number,
): Promise<unknown> {
  let data: Uint8Array;
  try {
    const headers = natsHeaders();
    injectTraceContext(headers);
    data = (await nc.request(subject, request, { timeout: timeoutMs, headers })).data;
  } catch (err) {
    throw toMeshError(err, `query ${subject}`);
  }
  const reply = JSON.parse(decoder.decode(data)) as { error?: { code: ErrorCode; message: string } };
  if (reply.error) throw new MeshError(reply.error.code, reply.error.message);
  return reply;
}
