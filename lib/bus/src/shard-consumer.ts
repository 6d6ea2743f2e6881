/**
 * @module shard-consumer
 * The loop that materialises one shard: a durable pull consumer filtered to
 * `mem.<region>.<shard>.>`, applying events strictly in stream order.
 *
 * Position: the view stores the last applied sequence with its own state (a snapshot, or
 * the external index). At start the consumer is recreated to begin right after that
 * position, so acknowledgements never decide what a view contains — a view restored from
 * an older snapshot replays what it lacks, and idempotent apply makes replays harmless.
 *
 * Failures: an event that fails validation goes to the dead-letter stream at once. An
 * apply that fails with a retryable error (a backend that is down) is retried in place for
 * as long as it takes — the shard waits, the log keeps the events, nothing is dropped. Any
 * other apply failure is retried `applyAttemptsMax` times with backoff and then
 * dead-lettered, so one poison event cannot block a shard.
 *
 * Traces: each event is applied in an `apply` span whose parent is the context its publisher
 * put in the message headers (`traceparent`), so one trace shows request → publish → apply.
 *
 * Why the server's MaxDeliver is unlimited: a server-side limit would silently stop
 * redelivering messages that timed out while the shard waited on a down backend, and the
 * view would skip them. Poison detection is therefore done here, by counting attempts.
 */
import { backoffDelayMs, isMeshError, type MemoryEvent, type RetryPolicy, sleep } from '@memmesh/core';
import { extractTraceContext, SpanKind, type Tracer, tracerOf, withSpan } from '@memmesh/telemetry';
import {
  AckPolicy,
  type Consumer,
  type ConsumerMessages,
  DeliverPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  ReplayPolicy,
} from '@nats-io/jetstream';
import { nanos, headers as natsHeaders } from '@nats-io/transport-node';
import { decodeEvent } from './codec.ts';

export interface AppliedEvent {
  /** Sequence in the stream the consumer reads (the view's position). */
  seq: number;
  /**
   * The document version: the sequence in the home stream. Equal to `seq` for the region's
   * own events; for events sourced from another region's stream, the origin sequence
   * carried in the Nats-Stream-Source header, so versions agree across regions.
   */
  version: number;
  subject: string;
  event: MemoryEvent;
}

/**
 * The origin sequence of a sourced message: the header reads `<stream> <seq> <filters…>`.
 * Undefined for a message published directly to this stream.
 */
export function sourcedSequence(header: { get(key: string): string } | undefined): number | undefined {
  const value = header?.get('Nats-Stream-Source');
  if (!value) return undefined;
  const seq = Number(value.split(' ')[1]);
  return Number.isSafeInteger(seq) && seq > 0 ? seq : undefined;
}

export interface DeadLetter {
  seq: number;
  subject: string;
  reason: string;
}

export interface ShardConsumerOptions {
  stream: string;
  deadLetterStream: string;
  /** Subject the dead letters of this shard go to. */
  deadLetterSubject: string;
  filterSubject: string;
  /** Durable name, unique per shard and agent replica. */
  consumerName: string;
  /** The view's last applied sequence; delivery starts right after it. */
  appliedSeq: number;
  apply: (applied: AppliedEvent) => Promise<void>;
  /** Called after every message is done with (applied, skipped or dead-lettered). */
  onPosition?: (seq: number) => void;
  onDeadLetter?: (letter: DeadLetter) => void;
  /** The loop stopped on an error it cannot handle. */
  onFatal?: (err: unknown) => void;
  ackWaitMs?: number;
  maxAckPending?: number;
  /** Messages pulled per request. */
  batchSizeMax?: number;
  /** How long one pull waits for messages before asking again. */
  pullExpiresMs?: number;
  /** Attempts before a failing (non-retryable) apply is dead-lettered. */
  applyAttemptsMax?: number;
  applyRetry?: RetryPolicy;
  /** An abandoned replica's consumer is removed by the server after this long. */
  inactiveThresholdMs?: number;
  /** Makes the `apply` spans; the global tracer (a no-op unless registered) when omitted. */
  tracer?: Tracer;
}

type Hooks = 'onPosition' | 'onDeadLetter' | 'onFatal' | 'tracer';
type ShardConsumerConfig = Required<Omit<ShardConsumerOptions, Hooks>> & Pick<ShardConsumerOptions, Hooks>;

export const DEFAULT_SHARD_CONSUMER_OPTIONS = {
  ackWaitMs: 30_000,
  maxAckPending: 1_024,
  batchSizeMax: 256,
  pullExpiresMs: 5_000,
  applyAttemptsMax: 5,
  applyRetry: { attemptsMax: Number.POSITIVE_INFINITY, initialDelayMs: 50, delayMsMax: 5_000, multiplier: 2 },
  inactiveThresholdMs: 24 * 3_600_000,
} satisfies Partial<ShardConsumerOptions>;

/** How far a view is behind its stream. */
export interface ConsumerLag {
  /** Messages of the shard not yet applied (pending delivery, or delivered and not yet done). */
  messages: number;
  /** Age of the oldest unapplied message, by its stream timestamp; 0 when caught up. */
  seconds: number;
}

export interface ShardConsumer {
  readonly appliedSeq: number;
  /** True once the shard has applied everything that was pending when it started. */
  readonly caughtUp: boolean;
  /** Resolves true when the position reaches `seq`, false after `timeoutMs`. */
  waitApplied(seq: number, timeoutMs: number): Promise<boolean>;
  waitCaughtUp(timeoutMs: number): Promise<boolean>;
  /** Asks the server how far behind the view is: two JetStream API requests. */
  lag(): Promise<ConsumerLag>;
  stop(): Promise<void>;
}

export async function startShardConsumer(
  js: JetStreamClient,
  jsm: JetStreamManager,
  options: ShardConsumerOptions,
): Promise<ShardConsumer> {
  const config: ShardConsumerConfig = { ...DEFAULT_SHARD_CONSUMER_OPTIONS, ...options };
  await recreateConsumer(jsm, config);
  const consumer = await js.consumers.get(config.stream, config.consumerName);
  const pending = (await consumer.info(true)).num_pending;
  const messages = await consumer.consume({
    max_messages: config.batchSizeMax,
    expires: config.pullExpiresMs,
  });
  return new ShardLoop(js, jsm, consumer, config, messages, pending === 0).start();
}

async function recreateConsumer(jsm: JetStreamManager, config: ShardConsumerConfig) {
  try {
    await jsm.consumers.delete(config.stream, config.consumerName);
  } catch {
    // Not there yet: the first start of this replica.
  }
  const startSeq = config.appliedSeq + 1;
  await jsm.consumers.add(config.stream, {
    durable_name: config.consumerName,
    filter_subject: config.filterSubject,
    ack_policy: AckPolicy.Explicit,
    ack_wait: nanos(config.ackWaitMs),
    max_deliver: -1,
    max_ack_pending: config.maxAckPending,
    replay_policy: ReplayPolicy.Instant,
    inactive_threshold: nanos(config.inactiveThresholdMs),
    ...(startSeq > 1
      ? { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: startSeq }
      : { deliver_policy: DeliverPolicy.All }),
  });
}

type Waiter = { seq: number; resolve: (ok: boolean) => void };

class ShardLoop implements ShardConsumer {
  #position: number;
  #caughtUp: boolean;
  #stopping = false;
  #done: Promise<void> = Promise.resolve();
  #waiters: Waiter[] = [];
  #caughtUpWaiters: (() => void)[] = [];
  readonly #js: JetStreamClient;
  readonly #jsm: JetStreamManager;
  readonly #consumer: Consumer;
  readonly #config: ShardConsumerConfig;
  readonly #messages: ConsumerMessages;
  readonly #tracer: Tracer;

  constructor(
    js: JetStreamClient,
    jsm: JetStreamManager,
    consumer: Consumer,
    config: ShardConsumerConfig,
    messages: ConsumerMessages,
    caughtUp: boolean,
  ) {
    this.#js = js;
    this.#jsm = jsm;
    this.#consumer = consumer;
    this.#config = config;
    this.#tracer = config.tracer ?? tracerOf();
    this.#messages = messages;
    this.#position = config.appliedSeq;
    this.#caughtUp = caughtUp;
  }

  start(): this {
    this.#done = this.#run();
    return this;
  }

  get appliedSeq() {
    return this.#position;
  }

  get caughtUp() {
    return this.#caughtUp;
  }

  waitApplied(seq: number, timeoutMs: number): Promise<boolean> {
    if (this.#position >= seq) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: Waiter = { seq, resolve };
      const timer = setTimeout(() => {
        this.#waiters = this.#waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      waiter.resolve = (ok) => {
        clearTimeout(timer);
        resolve(ok);
      };
      this.#waiters.push(waiter);
    });
  }

  waitCaughtUp(timeoutMs: number): Promise<boolean> {
    if (this.#caughtUp) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      this.#caughtUpWaiters.push(() => {
        clearTimeout(timer);
        resolve(true);
      });
    });
  }

  async lag(): Promise<ConsumerLag> {
    // Delivered but unacknowledged messages sit in the pull buffer or are being applied.
    const info = await this.#consumer.info(false);
    const messages = info.num_pending + info.num_ack_pending;
    if (messages === 0) return { messages: 0, seconds: 0 };
    const next = await this.#jsm.streams
      .getMessage(this.#config.stream, {
        seq: this.#position + 1,
        next_by_subj: this.#config.filterSubject,
      } as never)
      .catch((err: unknown) => {
        if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.NoMessageFound) return null;
        throw err;
      });
    const seconds = next ? Math.max(0, (Date.now() - next.time.getTime()) / 1000) : 0;
    return { messages, seconds };
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await this.#messages.close();
    await this.#done;
    for (const w of this.#waiters) w.resolve(false);
    this.#waiters = [];
  }

  async #run(): Promise<void> {
    try {
      for await (const msg of this.#messages) {
        if (this.#stopping) break;
        // A redelivery of something already done (it timed out while we waited): just ack.
        if (msg.seq > this.#position) await this.#handle(msg);
        msg.ack();
        if (msg.info.pending === 0) this.#markCaughtUp();
      }
    } catch (err) {
      // Stopping interrupts a retry on purpose; anything else means the loop cannot go on,
      // and the owner decides (the agent exits and resumes from its snapshot on restart).
      if (!this.#stopping) this.#config.onFatal?.(err);
    }
  }

  #handle(msg: JsMsg): Promise<void> {
    const attributes = {
      'messaging.system': 'nats',
      'messaging.operation.type': 'process',
      'messaging.destination.name': this.#config.filterSubject,
      'messaging.consumer.group.name': this.#config.consumerName,
      'memmesh.seq': msg.seq,
    };
    // The publisher's context (traceparent header) is the parent: request → publish → apply.
    const parent = extractTraceContext(msg.headers);
    return withSpan(
      this.#tracer,
      'apply',
      { kind: SpanKind.CONSUMER, attributes },
      () => this.#process(msg),
      parent,
    );
  }

  async #process(msg: JsMsg): Promise<void> {
    const decoded = decodeEvent(msg.data, msg.subject);
    if (!decoded.ok) {
      await this.#deadLetter(msg, `invalid event: ${decoded.reason}`);
    } else {
      const version = sourcedSequence(msg.headers) ?? msg.seq;
      const applied = { seq: msg.seq, version, subject: msg.subject, event: decoded.event };
      const error = await this.#applyWithRetry(msg, applied);
      if (error !== undefined) await this.#deadLetter(msg, error);
    }
    this.#advance(msg.seq);
  }

  /** Returns undefined when applied, or the reason to dead-letter the event. */
  async #applyWithRetry(msg: JsMsg, applied: AppliedEvent): Promise<string | undefined> {
    const { applyAttemptsMax, applyRetry } = this.#config;
    let failures = 0;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#config.apply(applied);
        return undefined;
      } catch (err) {
        const transient = isMeshError(err) && err.retryable;
        if (!transient) failures++;
        if (failures >= applyAttemptsMax) return `apply failed ${failures} times: ${(err as Error).message}`;
        if (this.#stopping) throw err;
        // Keep the server from redelivering the message while we wait.
        msg.working();
        await sleep(backoffDelayMs(applyRetry, Math.min(attempt, 16)));
      }
    }
  }

  async #deadLetter(msg: JsMsg, reason: string): Promise<void> {
    const h = natsHeaders();
    h.set('Memmesh-Reason', reason.slice(0, 1024));
    h.set('Memmesh-Original-Subject', msg.subject);
    h.set('Memmesh-Original-Seq', String(msg.seq));
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#js.publish(this.#config.deadLetterSubject, msg.data, {
          headers: h,
          msgID: `${this.#config.stream}-${msg.seq}`,
        });
        this.#config.onDeadLetter?.({ seq: msg.seq, subject: msg.subject, reason });
        return;
      } catch (err) {
        // A dead letter must not be lost either: wait for NATS like any other write.
        if (this.#stopping) throw err;
        msg.working();
        await sleep(backoffDelayMs(this.#config.applyRetry, Math.min(attempt, 16)));
      }
    }
  }

  #advance(seq: number): void {
    this.#position = seq;
    this.#config.onPosition?.(seq);
    if (this.#waiters.length === 0) return;
    const ready = this.#waiters.filter((w) => w.seq <= seq);
    this.#waiters = this.#waiters.filter((w) => w.seq > seq);
    for (const w of ready) w.resolve(true);
  }

  #markCaughtUp(): void {
    if (this.#caughtUp) return;
    this.#caughtUp = true;
    for (const resolve of this.#caughtUpWaiters) resolve();
    this.#caughtUpWaiters = [];
  }
}
