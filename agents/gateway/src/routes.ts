/**
 * @module routes
 * Which regions may answer a request, in which order. Writes go to the tenant's home only:
 * it holds the one log that orders them. Reads go to the home and the replicas: usable
 * regions (healthy, and `up` in the routing table) before the others, nearest (lowest RTT)
 * first, except that the client's own region comes first when it names a usable candidate.
 * Unusable regions stay at the end of the list rather than off it: when everything looks
 * down, trying costs little and may still find a region that just came back.
 */
import { readRegionsOf, type TenantPolicy } from '@memmesh/routing';
import type { RegionState } from './probes.ts';

export type RequestKind = 'read' | 'write';

/** What ordering needs to know of a region; `Probes` provides it. */
export interface RegionLookup {
  state(region: string): Readonly<RegionState> | undefined;
}

export function candidates(
  policy: TenantPolicy,
  kind: RequestKind,
  probes: RegionLookup,
  clientRegion?: string,
): string[] {
  if (kind === 'write') return [policy.home];
  const rank = (region: string) => {
    const state = probes.state(region);
    const usable = state?.healthy === true && state.status === 'up';
    const hinted = usable && region === clientRegion;
    return { region, hinted: hinted ? 0 : 1, usable: usable ? 0 : 1, rttMs: state?.rttMs ?? Infinity };
  };
  return readRegionsOf(policy)
    .map(rank)
    .sort((a, b) => a.hinted - b.hinted || a.usable - b.usable || a.rttMs - b.rttMs)
    .map((r) => r.region);
}
