/**
 * @module probes
 * How near and how healthy each region is, seen from this gateway: an EWMA of the round-trip
 * time of `/readyz` probes, and a health state. Before the first probe answers, the distance
 * to the region (speed of light in fibre, there and back) is the guess, so the first
 * requests already go somewhere sensible. Requests report their own connection failures
 * here, so a dead region is avoided from the next request on, not only after the next probe.
 */
import type { RegionConfig, RegionStatus } from '@memmesh/routing';
import type { Logger } from '@memmesh/telemetry';
import { type FailureKind, failureOf } from './proxy.ts';

export interface RegionState {
  region: string;
  endpoint: string | undefined;
  /** As the routing table says: regions that are `down` or `draining` are tried last. */
  status: RegionStatus;
  /** EWMA of probe RTT once probed; the distance guess before. */
  rttMs: number;
  healthy: boolean;
  consecutiveFailures: number;
  /** Whether any probe has answered yet. */
  probed: boolean;
  lastFailure: string | undefined;
}

export interface ProbeOptions {
  intervalMs: number;
  timeoutMs: number;
  ewmaAlpha: number;
  failuresMax: number;
  location: { latitude: number; longitude: number };
  log: Logger;
}

export interface RegionEntry {
  config: RegionConfig;
  endpoint: string | undefined;
  status: RegionStatus;
}

export interface Probes {
  state(region: string): Readonly<RegionState> | undefined;
  /** Copies of every region's state, for operators (`GET /v1/regions`). */
  all(): RegionState[];
  /** Keeps the probed set in line with the routing table's regions, endpoints and statuses. */
  update(regions: RegionEntry[]): void;
  /** A request that could not reach the region counts like a failed probe, at once. */
  reportFailure(region: string, failure: FailureKind, reason: string): void;
  probeNow(): Promise<void>;
  /** Stops the timer and waits for the probes in flight (each bounded by timeoutMs). */
  stop(): Promise<void>;
}

const EARTH_RADIUS_KM = 6_371;
/** Light in fibre covers about 200 km per millisecond. */
const FIBRE_KM_PER_MS = 200;

/** Great-circle distance, there and back, at the speed of light in fibre. */
export function distanceGuessMs(from: ProbeOptions['location'], to: RegionConfig['location']): number {
  const rad = (deg: number) => (deg * Math.PI) / 180;
  const dLat = rad(to.latitude - from.latitude);
  const dLon = rad(to.longitude - from.longitude);
  const a =
    Math.sin(dLat / 2) ** 2 +
    Math.cos(rad(from.latitude)) * Math.cos(rad(to.latitude)) * Math.sin(dLon / 2) ** 2;
  const km = 2 * EARTH_RADIUS_KM * Math.asin(Math.sqrt(a));
  return (2 * km) / FIBRE_KM_PER_MS;
}

export function startProbes(options: ProbeOptions): Probes {
  return new RegionProbes(options);
}

class RegionProbes implements Probes {
  readonly #options: ProbeOptions;
  readonly #states = new Map<string, RegionState>();
  readonly #timer: ReturnType<typeof setInterval>;
  #running: Promise<void> | undefined;

  constructor(options: ProbeOptions) {
    this.#options = options;
    this.#timer = setInterval(() => void this.probeNow(), options.intervalMs);
    this.#timer.unref();
  }

  state(region: string): Readonly<RegionState> | undefined {
    return this.#states.get(region);
  }

  all(): RegionState[] {
    return [...this.#states.values()].map((s) => ({ ...s, rttMs: Math.round(s.rttMs * 100) / 100 }));
  }

  update(regions: RegionEntry[]): void {
    const listed = new Set(regions.map((r) => r.config.id));
    for (const id of this.#states.keys()) if (!listed.has(id)) this.#states.delete(id);
    for (const { config, endpoint, status } of regions) {
      // A new endpoint starts with a clean slate, as a new region does: usable until a
      // probe or a request says otherwise. A region without one cannot be asked at all.
      const fresh = { endpoint, healthy: endpoint !== undefined, consecutiveFailures: 0 };
      const lastFailure = endpoint === undefined ? 'no endpoint' : undefined;
      const existing = this.#states.get(config.id);
      if (existing) {
        existing.status = status;
        if (existing.endpoint === endpoint) continue;
        this.#options.log.info('region endpoint', { region: config.id, endpoint });
        Object.assign(existing, fresh, { lastFailure });
        continue;
      }
      this.#states.set(config.id, {
        region: config.id,
        status,
        rttMs: distanceGuessMs(this.#options.location, config.location),
        probed: false,
        lastFailure,
        ...fresh,
      });
    }
  }

  reportFailure(region: string, failure: FailureKind, reason: string): void {
    const state = this.#states.get(region);
    if (state) this.#fail(state, failure, reason);
  }

  probeNow(): Promise<void> {
    // One round at a time: a slow round must not pile up behind the timer.
    this.#running ??= Promise.all([...this.#states.values()].map((s) => this.#probeOne(s))).then(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#running;
  }

  #succeed(state: RegionState, rttMs: number): void {
    const { ewmaAlpha, log } = this.#options;
    state.rttMs = state.probed ? ewmaAlpha * rttMs + (1 - ewmaAlpha) * state.rttMs : rttMs;
    state.probed = true;
    state.consecutiveFailures = 0;
    if (!state.healthy) log.info('region healthy', { region: state.region, rttMs: Math.round(rttMs) });
    state.healthy = true;
  }

  // A refused connection is certain (nothing listens there), so it marks the region at once;
  // a timeout or a reset may be one lost packet or one stale connection, so those count.
  #fail(state: RegionState, failure: FailureKind, reason: string): void {
    if (failure === 'aborted' || failure === 'status') return;
    state.consecutiveFailures++;
    state.lastFailure = reason;
    const unhealthy = failure === 'refused' || state.consecutiveFailures >= this.#options.failuresMax;
    if (unhealthy && state.healthy)
      this.#options.log.warn('region unhealthy', { region: state.region, reason });
    if (unhealthy) state.healthy = false;
  }

  async #probeOne(state: RegionState): Promise<void> {
    if (!state.endpoint) return;
    const started = performance.now();
    const timeout = AbortSignal.timeout(this.#options.timeoutMs);
    try {
      const res = await fetch(`${state.endpoint}/readyz`, { signal: timeout });
      await res.arrayBuffer();
      if (res.status === 200) this.#succeed(state, performance.now() - started);
      else this.#fail(state, 'network', `readyz answered ${res.status}`);
    } catch (err) {
      const failure = failureOf(err, timeout);
      this.#fail(state, failure, `probe ${failure}`);
    }
  }
}
