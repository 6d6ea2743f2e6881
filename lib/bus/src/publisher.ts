/**
 * @module publisher
 * Publishes events to JetStream with deduplication, optimistic concurrency, a bounded
 * in-flight window and retries.
 *
 * Deduplication has a trap that this module closes: the Nats-Msg-Id is a hash of the
 * content, so writing A, then B, then A again inside the duplicate window would make the
 * server drop the second A as a "duplicate" of the first, and the document would stay B.
 * When the server reports a duplicate, the publisher therefore compares it with the
 * subject's current last message: if that message is not the same content, the write is
 * new after all and is published again under a msg id qualified by the current version.
 */
import { ErrorCode, MeshError, type RetryPolicy, withRetry } from '@memmesh/core';
import type { JetStreamClient, JetStreamManager, PubAck } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/transport-node';
import { isTransientNatsError, toMeshError, UNAVAILABLE_RETRY_AFTER_MS } from './errors.ts';

export interface PublishRequest {
  subject: string;
  data: Uint8Array;
  /** Content hash: retries of the same content inside the duplicate window are dropped. */
  msgId: string;
  /** Optimistic concurrency: the subject's last sequence must equal this (0: no message yet). */
  expectLastSubjectSeq?: number | undefined;
  headers?: Record<string, string>;
}

export interface PublishResult {
  /** Stream sequence: the version of the document. */
  seq: number;
  /** True when the server had this exact write already (a retry). */
  duplicate: boolean;
}

export interface PublisherOptions {
  stream: string;
  /** Publishes awaiting their ack at once; more wait for a slot. */
  inFlightMax?: number;
  /** Publishes waiting for a slot; more are refused with 503 instead of queuing without bound. */
  waitingMax?: number;
  ackTimeoutMs?: number;
  retry?: RetryPolicy;
}

export const DEFAULT_PUBLISHER_OPTIONS = {
  inFlightMax: 512,
  waitingMax: 4_096,
  ackTimeoutMs: 5_000,
  retry: { attemptsMax: 4, initialDelayMs: 50, delayMsMax: 1_000, multiplier: 2 },
} as const satisfies Omit<PublisherOptions, 'stream'>;

export interface Publisher {
  publish(request: PublishRequest): Promise<PublishResult>;
  readonly inFlight: number;
}

export function createPublisher(
  js: JetStreamClient,
  jsm: JetStreamManager,
  options: PublisherOptions,
): Publisher {
  const config = { ...DEFAULT_PUBLISHER_OPTIONS, ...options };
  const slots = createSemaphore(config.inFlightMax, config.waitingMax);

  const publishOnce = async (request: PublishRequest, msgId: string): Promise<PubAck> => {
    const h = natsHeaders();
    for (const [k, v] of Object.entries(request.headers ?? {})) h.set(k, v);
    return withRetry(
      () =>
        js.publish(request.subject, request.data, {
          msgID: msgId,
          timeout: config.ackTimeoutMs,
          headers: h,
          ...(request.expectLastSubjectSeq !== undefined
            ? { expect: { lastSubjectSequence: request.expectLastSubjectSeq } }
            : {}),
        }),
      { policy: config.retry, isRetryable: isTransientNatsError },
    );
  };

  const lastOnSubject = async (subject: string): Promise<{ seq: number; msgId: string } | undefined> => {
    const stored = await jsm.streams.getMessage(config.stream, { last_by_subj: subject });
    if (!stored) return undefined;
    return { seq: stored.seq, msgId: stored.header?.get('Nats-Msg-Id') ?? '' };
  };

  const publish = async (request: PublishRequest): Promise<PublishResult> => {
    const ack = await publishOnce(request, request.msgId);
    if (!ack.duplicate) return { seq: ack.seq, duplicate: false };
    const last = await lastOnSubject(request.subject);
    const sameContent = last && (last.msgId === request.msgId || last.msgId.startsWith(`${request.msgId}.`));
    if (!last || sameContent) return { seq: last?.seq ?? ack.seq, duplicate: true };
    // The msg id matched an older version (A → B → A): this write is new relative to `last`.
    if (request.expectLastSubjectSeq !== undefined && request.expectLastSubjectSeq !== last.seq) {
      throw new MeshError(
        ErrorCode.VersionConflict,
        `expected version ${request.expectLastSubjectSeq}, current is ${last.seq}`,
      );
    }
    const again = await publishOnce(request, `${request.msgId}.${last.seq}`);
    return { seq: again.seq, duplicate: again.duplicate };
  };

  return {
    get inFlight() {
      return slots.held;
    },
    async publish(request) {
      await slots.acquire();
      try {
        return await publish(request);
      } catch (err) {
        throw toMeshError(err, 'publish');
      } finally {
        slots.release();
      }
    },
  };
}

interface Semaphore {
  readonly held: number;
  acquire(): Promise<void>;
  release(): void;
}

/** A counting semaphore with a bounded wait queue, so overload is refused, not buffered. */
function createSemaphore(permits: number, waitingMax: number): Semaphore {
  let held = 0;
  const waiting: (() => void)[] = [];
  return {
    get held() {
      return held;
    },
    acquire() {
      if (held < permits) {
        held++;
        return Promise.resolve();
      }
      if (waiting.length >= waitingMax) {
        return Promise.reject(
          new MeshError(ErrorCode.Unavailable, 'too many writes in flight', {
            retryAfterMs: UNAVAILABLE_RETRY_AFTER_MS,
          }),
        );
      }
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    release() {
      const next = waiting.shift();
      if (next) next();
      else held--;
    },
  };
}
