/**
 * @module probes
 * How near and how healthy each region is, seen from this gateway: an EWMA of the round-trip
 * time of `/readyz` probes, and a health state. Before the first probe answers, the distance
 * to the region (speed of light in fibre, there and back) is the guess, so the first
 * requests already go somewhere sensible.
 */
import type { RegionConfig } from '@memmesh/routing';

export interface RegionState {
  region: string;
  endpoint: string | undefined;
  rttMs: number;
  healthy: boolean;
  consecutiveFailures: number;
  probed: boolean;
}

export interface ProbeOptions {
  intervalMs: number;
  timeoutMs: number;
  ewmaAlpha: number;
  failuresMax: number;
  location: { latitude: number; longitude: number };
}

export interface Probes {
  state(region: string): RegionState | undefined;
  all(): RegionState[];
  /** Keeps the probed set in line with the routing table's regions and endpoints. */
  update(regions: { config: RegionConfig; endpoint: string | undefined }[]): void;
  /** A request that failed to connect counts like a failed probe, at once. */
  reportFailure(region: string): void;
  probeNow(): Promise<void>;
  stop(): void;
}

const EARTH_RADIUS_KM = 6_371;
/** Light in fibre covers about 200 km per millisecond. */
const FIBRE_KM_PER_MS = 200;

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
  const states = new Map<string, RegionState>();
  let running: Promise<void> | undefined;

  const fail = (state: RegionState) => {
    state.consecutiveFailures++;
    if (state.consecutiveFailures >= options.failuresMax) state.healthy = false;
  };

  const probeOne = async (state: RegionState) => {
    if (!state.endpoint) return;
    const started = performance.now();
    try {
      const res = await fetch(`${state.endpoint}/readyz`, { signal: AbortSignal.timeout(options.timeoutMs) });
      await res.arrayBuffer();
      const rtt = performance.now() - started;
      if (res.status !== 200) return fail(state);
      state.rttMs = state.probed ? options.ewmaAlpha * rtt + (1 - options.ewmaAlpha) * state.rttMs : rtt;
      state.probed = true;
      state.healthy = true;
      state.consecutiveFailures = 0;
    } catch {
      fail(state);
    }
  };

  const probeNow = () => {
    // One round at a time: a slow round must not pile up behind the timer.
    running ??= Promise.all([...states.values()].map(probeOne)).then(() => {
      running = undefined;
    });
    return running;
  };
  const timer = setInterval(() => void probeNow(), options.intervalMs);
  timer.unref();

  return {
    state: (region) => states.get(region),
    all: () => [...states.values()],
    update(regions) {
      for (const { config, endpoint } of regions) {
        const existing = states.get(config.id);
        if (existing) {
          existing.endpoint = endpoint;
          continue;
        }
        const rttMs = distanceGuessMs(options.location, config.location);
        states.set(config.id, {
          region: config.id,
          endpoint,
          rttMs,
          healthy: true,
          consecutiveFailures: 0,
          probed: false,
        });
      }
    },
    reportFailure(region) {
      const state = states.get(region);
      if (!state) return;
      state.consecutiveFailures = Math.max(state.consecutiveFailures + 1, options.failuresMax);
      state.healthy = false;
    },
    probeNow,
    stop: () => clearInterval(timer),
  };
}
