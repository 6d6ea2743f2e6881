/**
 * @module dispatch
 * Sends a request to the regions chosen for it, and decides when another attempt is safe.
 *
 * Reads may go anywhere that holds the tenant, so a failure (no answer, 5xx, 421) moves on to
 * the next candidate, at most `attemptsMax` regions in all; with hedging on, a read that is slow
 * to answer gets a twin at the next region and the first answer wins. A 429 is an answer: the
 * tenant is over its limit, and trying the next region would add the regions' limits up.
 *
 * A write goes to the home region only, and is sent again only when the connection was
 * refused, i.e. nothing was sent. After a reset or a timeout the home may have stored it,
 * so the client gets 503/504 and decides. That retry is safe for the client when the write
 * names its `id`: the home publishes with a content-hash Nats-Msg-Id, so the same write
 * inside the stream's duplicate window is dropped (and outside it, re-applying the same
 * content is a new version of the same document, not a second document). A write without an
 * `id` gets a fresh one in the agent, so its retry may store a second copy: clients that
 * retry should send ids.
 */
import { backoffDelayMs, ErrorCode, MeshError, type RetryPolicy, sleep } from '@memmesh/core';
import {
  createMetrics,
  type GatewayMetrics,
  injectTraceContext,
  type Logger,
  SpanKind,
  type Tracer,
  tracerOf,
  withSpan,
} from '@memmesh/telemetry';
import type { GatewayConfig } from './config.ts';
import type { Probes } from './probes.ts';
import { type Answer, createRegionClient, type Forward, type Outcome, type RegionClient } from './proxy.ts';

export interface Dispatcher {
  /** The home's answer, or a MeshError (503/504) when the home could not be asked. */
  write(home: string, request: Forward, signal?: AbortSignal): Promise<Answer>;
  /** The first answer of the candidates in order, or the most useful failure. */
  read(home: string, order: string[], request: Forward, signal?: AbortSignal): Promise<Answer>;
  /** Closes the connections to the regions (requests in flight end first). */
  close(): Promise<void>;
}

/** Suggested wait for clients when the gateway itself answers 503/504. */
export const UNAVAILABLE_RETRY_AFTER_MS = 1_000;
/** Resends of a refused write are quick: the home is either restarting or down. */
const REFUSED_WRITE_RETRY: Omit<RetryPolicy, 'attemptsMax'> = {
  initialDelayMs: 50,
  delayMsMax: 200,
  multiplier: 2,
};
/** The home answers a minVersion it lacks this long before the gateway's own timeout fires. */
const HOME_WAIT_MARGIN_MS = 100;

export interface DispatchTelemetry {
  metrics: GatewayMetrics;
  tracer: Tracer;
}

export interface DispatchOptions {
  /** Sends each attempt; the dispatcher's own connection pools when omitted (closed by close()). */
  client?: RegionClient;
}

export function createDispatcher(
  config: GatewayConfig,
  probes: Probes,
  log: Logger,
  telemetry: DispatchTelemetry = {
    metrics: createMetrics({ region: 'global', service: 'gateway', defaultMetrics: false }),
    tracer: tracerOf(),
  },
  options: DispatchOptions = {},
): Dispatcher {
  return new RegionDispatcher(config, probes, log, telemetry, options.client ?? createRegionClient());
}

class RegionDispatcher implements Dispatcher {
  readonly #config: GatewayConfig;
  readonly #probes: Probes;
  readonly #log: Logger;
  readonly #telemetry: DispatchTelemetry;
  readonly #client: RegionClient;

  constructor(
    config: GatewayConfig,
    probes: Probes,
    log: Logger,
    telemetry: DispatchTelemetry,
    client: RegionClient,
  ) {
    this.#config = config;
    this.#client = client;
    this.#probes = probes;
    this.#log = log;
    this.#telemetry = telemetry;
    telemetry.metrics.hedges.inc({ outcome: 'won' }, 0);
    telemetry.metrics.hedges.inc({ outcome: 'lost' }, 0);
  }

  #endpointOf(region: string): string | undefined {
    return this.#probes.state(region)?.endpoint;
  }

  /** One attempt at one region, in a client span whose context the region continues. */
  #forward(region: string, endpoint: string, request: Forward, signal?: AbortSignal): Promise<Outcome> {
    const attributes = { 'memmesh.region': region, 'http.request.method': request.method };
    const span = { kind: SpanKind.CLIENT, attributes };
    return withSpan(this.#telemetry.tracer, `proxy ${region}`, span, async (active, ctx) => {
      const headers = { ...request.headers };
      injectTraceContext(headers, ctx);
      const outcome = await this.#client.forward(region, endpoint, { ...request, headers }, signal);
      const status = outcome.kind === 'answer' ? outcome.status : outcome.answer?.status;
      if (status !== undefined) active.setAttribute('http.response.status_code', status);
      if (outcome.kind === 'failure') active.setAttribute('memmesh.failure', outcome.failure);
      return outcome;
    });
  }

  close(): Promise<void> {
    return this.#client.close();
  }

  async write(home: string, request: Forward, signal?: AbortSignal): Promise<Answer> {
    const endpoint = this.#endpointOf(home);
    if (!endpoint) throw unavailable(`home region ${home} has no known endpoint; the write was not sent`);
    const { attemptsMax } = this.#config;
    // Bounded: at most attemptsMax sends.
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.#forward(home, endpoint, request, signal);
      if (outcome.kind === 'answer') return outcome;
      // The home's own error (503 while its NATS is down, 429, 421): relayed as it is.
      if (outcome.answer) return outcome.answer;
      this.#probes.reportFailure(home, outcome.failure, outcome.reason);
      if (outcome.failure !== 'refused' || attempt >= attemptsMax) {
        throw writeFailure(home, outcome.failure, request.timeoutMs);
      }
      await sleep(backoffDelayMs({ ...REFUSED_WRITE_RETRY, attemptsMax }, attempt));
    }
  }

  /**
   * Each failure starts the next candidate; with hedging, so does each `hedgeAfterMs` without
   * an answer. The first answer wins and every other attempt is aborted.
   */
  async read(home: string, order: string[], request: Forward, signal?: AbortSignal): Promise<Answer> {
    const targets = order.filter((region) => this.#endpointOf(region)).slice(0, this.#config.attemptsMax);
    if (targets.length === 0) throw unavailable(`no region holding the tenant has a known endpoint`);
    const race = new ReadRace(targets, (region, abort) => {
      const headers = {
        ...request.headers,
        'x-memmesh-wait-ms': String(this.#minVersionWaitMs(region === home)),
      };
      return this.#forward(region, this.#endpointOf(region) as string, { ...request, headers }, abort);
    });
    const failures: Outcome[] = [];
    try {
      const answer = await race.run(this.#config.hedgeAfterMs, signal, (failed, next) => {
        this.#noteReadFailure(failed);
        failures.push(failed);
        if (next) this.#telemetry.metrics.failovers.inc({ from_region: failed.region, to_region: next });
      });
      if (answer) return answer;
    } finally {
      for (const won of race.hedgeOutcomes())
        this.#telemetry.metrics.hedges.inc({ outcome: won ? 'won' : 'lost' });
    }
    return bestFailure(failures, request.timeoutMs);
  }

  /**
   * A replica that lacks a requested `minVersion` says so after `replicaWaitMs`, so that the
   * next region can answer; the home may wait nearly the whole attempt, since it is where
   * the version was made and will apply it shortly.
   */
  #minVersionWaitMs(isHome: boolean): number {
    const { replicaWaitMs, readTimeoutMs } = this.#config;
    return isHome ? Math.max(replicaWaitMs, readTimeoutMs - HOME_WAIT_MARGIN_MS) : replicaWaitMs;
  }

  #noteReadFailure(outcome: Outcome & { kind: 'failure' }): void {
    this.#probes.reportFailure(outcome.region, outcome.failure, outcome.reason);
    if (outcome.failure !== 'aborted') {
      this.#log.debug('read failed over', { region: outcome.region, reason: outcome.reason });
    }
  }
}

type Attempt = (region: string, signal: AbortSignal) => Promise<Outcome>;

/**
 * The attempts of one read: the first candidate at once, the next on each failure or (with
 * hedging) each `hedgeAfterMs` without an answer; the first answer wins and aborts the rest.
 */
class ReadRace {
  readonly #targets: string[];
  readonly #attempt: Attempt;
  readonly #controllers: AbortController[] = [];
  readonly #inflight = new Map<number, Promise<[number, Outcome]>>();
  readonly #hedged = new Set<number>();
  #winner: number | undefined;

  constructor(targets: string[], attempt: Attempt) {
    this.#targets = targets;
    this.#attempt = attempt;
  }

  #launch(signal: AbortSignal | undefined): void {
    const index = this.#controllers.length;
    const controller = new AbortController();
    this.#controllers.push(controller);
    // The client leaving aborts the attempt; the listener goes with the attempt (AbortSignal.any
    // would keep every attempt's signal tied to the request's until the request is gone).
    const onLeave = () => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onLeave, { once: true });
    const attempt = this.#attempt(this.#targets[index] as string, controller.signal);
    this.#inflight.set(
      index,
      attempt
        .finally(() => signal?.removeEventListener('abort', onLeave))
        .then((outcome) => [index, outcome]),
    );
  }

  /** The winning answer, or undefined when every attempt failed (each told to `onFailure`). */
  async run(
    hedgeAfterMs: number,
    signal: AbortSignal | undefined,
    onFailure: (failed: Outcome & { kind: 'failure' }, next: string | undefined) => void,
  ): Promise<Answer | undefined> {
    try {
      this.#launch(signal);
      // Bounded: every round settles one attempt or launches one, and there are at most targets.length.
      while (this.#inflight.size > 0) {
        const canHedge = hedgeAfterMs > 0 && this.#controllers.length < this.#targets.length;
        const hedge = canHedge ? delay(hedgeAfterMs) : undefined;
        const first = await Promise.race([...this.#inflight.values(), ...(hedge ? [hedge.done] : [])]);
        hedge?.cancel();
        if (first === HEDGE) {
          this.#hedged.add(this.#controllers.length);
          this.#launch(signal);
          continue;
        }
        const [index, outcome] = first;
        this.#inflight.delete(index);
        if (outcome.kind === 'answer') {
          this.#winner = index;
          return outcome;
        }
        const more = !signal?.aborted && this.#controllers.length < this.#targets.length;
        onFailure(outcome, more ? this.#targets[this.#controllers.length] : undefined);
        // A client that left needs no further attempts.
        if (signal?.aborted) break;
        if (more) this.#launch(signal);
      }
      return undefined;
    } finally {
      // Only the attempts still running: aborting a finished one makes an error for nothing.
      for (const index of this.#inflight.keys()) this.#controllers[index]?.abort(LOST_RACE);
    }
  }

  /** For each hedge launched: whether it won. */
  hedgeOutcomes(): boolean[] {
    return [...this.#hedged].map((index) => index === this.#winner);
  }
}

/**
 * When no region answered well: a region's own answer with a Retry-After (503) is the
 * most useful to the client, then any other answer of a region (e.g. 421); with no answer
 * at all, the gateway says what happened to each attempt.
 */
function bestFailure(failures: Outcome[], timeoutMs: number): Answer {
  const rank = (o: Outcome) => {
    if (o.kind !== 'failure' || !o.answer) return 0;
    return o.answer.status === 503 ? 2 : 1;
  };
  let best: Outcome | undefined;
  for (const failure of failures) if (!best || rank(failure) >= rank(best)) best = failure;
  if (best?.kind === 'failure' && best.answer) return best.answer;
  const details = failures.map((f) => ({ region: f.region, reason: f.kind === 'failure' ? f.reason : '' }));
  const allTimedOut = failures.every((f) => f.kind === 'failure' && f.failure === 'timeout');
  if (allTimedOut) {
    throw new MeshError(ErrorCode.Timeout, `no region holding the tenant answered within ${timeoutMs} ms`, {
      details,
      retryAfterMs: UNAVAILABLE_RETRY_AFTER_MS,
    });
  }
  throw new MeshError(ErrorCode.Unavailable, 'no region holding the tenant could answer', {
    details,
    retryAfterMs: UNAVAILABLE_RETRY_AFTER_MS,
  });
}

function writeFailure(home: string, failure: string, timeoutMs: number): MeshError {
  const retry = { retryAfterMs: UNAVAILABLE_RETRY_AFTER_MS };
  if (failure === 'refused') {
    return unavailable(`home region ${home} refused the connection; the write was not sent, retry later`);
  }
  const unsure = 'the write may or may not have been stored; retrying it with the same id is safe';
  if (failure === 'timeout') {
    return new MeshError(
      ErrorCode.Timeout,
      `home region ${home} did not answer within ${timeoutMs} ms; ${unsure}`,
      retry,
    );
  }
  return new MeshError(
    ErrorCode.Unavailable,
    `the connection to home region ${home} broke; ${unsure}`,
    retry,
  );
}

export const unavailable = (message: string) =>
  new MeshError(ErrorCode.Unavailable, message, { retryAfterMs: UNAVAILABLE_RETRY_AFTER_MS });

const HEDGE = Symbol('hedge');
/** The reason given to the attempts that lost a read's race (no stack to capture each time). */
const LOST_RACE = new Error('another region answered first');

/** A timer that can be cancelled, so that a won race leaves no timer behind. */
function delay(ms: number): { done: Promise<typeof HEDGE>; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const done = new Promise<typeof HEDGE>((resolve) => {
    timer = setTimeout(() => resolve(HEDGE), ms);
  });
  return { done, cancel: () => clearTimeout(timer) };
}
