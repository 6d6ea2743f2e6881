/**
 * @module dispatch
 * Sends a request to the regions chosen for it, and decides when another attempt is safe.
 *
 * Reads may go anywhere that holds the tenant, so any failure moves on to the next
 * candidate, at most `attemptsMax` regions in all; with hedging on, a read that is slow to
 * answer gets a twin at the next region and the first answer wins.
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
import type { Logger } from '@memmesh/region-agent';
import {
  createMetrics,
  type GatewayMetrics,
  injectTraceContext,
  SpanKind,
  type Tracer,
  tracerOf,
  withSpan,
} from '@memmesh/telemetry';
import type { GatewayConfig } from './config.ts';
import type { Probes } from './probes.ts';
import { type Answer, type Forward, forward as forwardOnce, type Outcome } from './proxy.ts';

export interface Dispatcher {
  /** The home's answer, or a MeshError (503/504) when the home could not be asked. */
  write(home: string, request: Forward, signal?: AbortSignal): Promise<Answer>;
  /** The first answer of the candidates in order, or the most useful failure. */
  read(home: string, order: string[], request: Forward, signal?: AbortSignal): Promise<Answer>;
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

export function createDispatcher(
  config: GatewayConfig,
  probes: Probes,
  log: Logger,
  telemetry: DispatchTelemetry = {
    metrics: createMetrics({ region: 'global', service: 'gateway', defaultMetrics: false }),
    tracer: tracerOf(),
  },
): Dispatcher {
  const { metrics, tracer } = telemetry;
  const endpointOf = (region: string) => probes.state(region)?.endpoint;
  metrics.hedges.inc({ outcome: 'won' }, 0);
  metrics.hedges.inc({ outcome: 'lost' }, 0);

  /** One attempt at one region, in a client span whose context the region continues. */
  const forward = (region: string, endpoint: string, request: Forward, signal?: AbortSignal) => {
    const attributes = { 'memmesh.region': region, 'http.request.method': request.method };
    return withSpan(tracer, `proxy ${region}`, { kind: SpanKind.CLIENT, attributes }, async (span, ctx) => {
      const headers = { ...request.headers };
      injectTraceContext(headers, ctx);
      const outcome = await forwardOnce(region, endpoint, { ...request, headers }, signal);
      const status = outcome.kind === 'answer' ? outcome.status : outcome.answer?.status;
      if (status !== undefined) span.setAttribute('http.response.status_code', status);
      if (outcome.kind === 'failure') span.setAttribute('memmesh.failure', outcome.failure);
      return outcome;
    });
  };

  async function write(home: string, request: Forward, signal?: AbortSignal): Promise<Answer> {
    const endpoint = endpointOf(home);
    if (!endpoint) throw unavailable(`home region ${home} has no known endpoint; the write was not sent`);
    for (let attempt = 1; ; attempt++) {
      const outcome = await forward(home, endpoint, request, signal);
      if (outcome.kind === 'answer') return outcome;
      // The home's own error (503 while its NATS is down, 429, 421): relayed as it is.
      if (outcome.answer) return outcome.answer;
      probes.reportFailure(home, outcome.failure, outcome.reason);
      if (outcome.failure !== 'refused' || attempt >= config.attemptsMax) {
        throw writeFailure(home, outcome.failure, request.timeoutMs);
      }
      await sleep(backoffDelayMs({ ...REFUSED_WRITE_RETRY, attemptsMax: config.attemptsMax }, attempt));
    }
  }

  /**
   * Each failure starts the next candidate; with hedging, so does each `hedgeAfterMs` without
   * an answer. The first answer wins and every other attempt is aborted.
   */
  async function read(home: string, order: string[], request: Forward, signal?: AbortSignal) {
    const targets = order.filter((region) => endpointOf(region)).slice(0, config.attemptsMax);
    if (targets.length === 0) throw unavailable(`no region holding the tenant has a known endpoint`);
    const controllers: AbortController[] = [];
    const inflight = new Map<number, Promise<[number, Outcome]>>();
    const failures: Outcome[] = [];
    const hedged = new Set<number>();
    let winner: number | undefined;
    const launch = () => {
      const index = controllers.length;
      const region = targets[index] as string;
      const controller = new AbortController();
      controllers.push(controller);
      const abort = signal ? AbortSignal.any([controller.signal, signal]) : controller.signal;
      const headers = { ...request.headers, 'x-memmesh-wait-ms': String(minVersionWaitMs(region === home)) };
      const attempt = forward(region, endpointOf(region) as string, { ...request, headers }, abort);
      inflight.set(
        index,
        attempt.then((outcome) => [index, outcome]),
      );
    };
    try {
      launch();
      while (inflight.size > 0) {
        const canHedge = config.hedgeAfterMs > 0 && controllers.length < targets.length;
        const hedge = canHedge ? delay(config.hedgeAfterMs) : undefined;
        const first = await Promise.race([...inflight.values(), ...(hedge ? [hedge.done] : [])]);
        hedge?.cancel();
        if (first === HEDGE) {
          hedged.add(controllers.length);
          launch();
          continue;
        }
        const [index, outcome] = first;
        inflight.delete(index);
        if (outcome.kind === 'answer') {
          winner = index;
          return outcome;
        }
        noteReadFailure(outcome);
        failures.push(outcome);
        // A client that left needs no further attempts.
        if (signal?.aborted) break;
        if (controllers.length < targets.length) {
          const next = targets[controllers.length] as string;
          metrics.failovers.inc({ from_region: outcome.region, to_region: next });
          launch();
        }
      }
    } finally {
      for (const controller of controllers) controller.abort();
      for (const index of hedged) metrics.hedges.inc({ outcome: index === winner ? 'won' : 'lost' });
    }
    return bestFailure(failures, request.timeoutMs);
  }

  /**
   * A replica that lacks a requested `minVersion` says so after `replicaWaitMs`, so that the
   * next region can answer; the home may wait nearly the whole attempt, since it is where
   * the version was made and will apply it shortly.
   */
  const minVersionWaitMs = (isHome: boolean) =>
    isHome
      ? Math.max(config.replicaWaitMs, config.readTimeoutMs - HOME_WAIT_MARGIN_MS)
      : config.replicaWaitMs;

  const noteReadFailure = (outcome: Outcome & { kind: 'failure' }) => {
    probes.reportFailure(outcome.region, outcome.failure, outcome.reason);
    if (outcome.failure !== 'aborted') {
      log.debug('read failed over', { region: outcome.region, reason: outcome.reason });
    }
  };

  return { write, read };
}

/**
 * When no region answered well: a region's own answer with a Retry-After (503, 429) is the
 * most useful to the client, then any other answer of a region (e.g. 421); with no answer
 * at all, the gateway says what happened to each attempt.
 */
function bestFailure(failures: Outcome[], timeoutMs: number): Answer {
  const rank = (o: Outcome) => {
    if (o.kind !== 'failure' || !o.answer) return 0;
    return o.answer.status === 503 || o.answer.status === 429 ? 2 : 1;
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

/** A timer that can be cancelled, so that a won race leaves no timer behind. */
function delay(ms: number): { done: Promise<typeof HEDGE>; cancel(): void } {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const done = new Promise<typeof HEDGE>((resolve) => {
    timer = setTimeout(() => resolve(HEDGE), ms);
  });
  return { done, cancel: () => clearTimeout(timer) };
}
