/**
 * @module routes
 * Which regions may answer a request, in which order: writes go to the tenant's home only;
 * reads go to the home and replicas, healthy before unhealthy, nearest (lowest RTT) first,
 * with the client's own region first when it names a candidate (X-Client-Region).
 */
import type { TenantPolicy } from '@memmesh/routing';
import type { Probes } from './probes.ts';

export type RequestKind = 'read' | 'write';

export function candidates(
  policy: TenantPolicy,
  kind: RequestKind,
  probes: Probes,
  clientRegion?: string,
): string[] {
  if (kind === 'write') return [policy.home];
  const regions = [policy.home, ...policy.replicas];
  const rank = (region: string) => {
    const state = probes.state(region);
    const healthy = state?.healthy ?? false;
    const hinted = region === clientRegion && healthy;
    return {
      region,
      key: [hinted ? 0 : 1, healthy ? 0 : 1, state?.rttMs ?? Number.POSITIVE_INFINITY] as const,
    };
  };
  return regions
    .map(rank)
    .sort((a, b) => a.key[0] - b.key[0] || a.key[1] - b.key[1] || a.key[2] - b.key[2])
    .map((r) => r.region);
}
