import type { TenantPolicy } from '@memmesh/routing';
import { describe, expect, it } from 'vitest';
import type { RegionState } from './probes.ts';
import { candidates, type RegionLookup } from './routes.ts';

const ACME: TenantPolicy = {
  tenant: 'acme',
  home: 'us-east-1',
  replicas: ['eu-central-1', 'ap-southeast-1'],
  version: 1,
  updatedAtMs: 0,
};

function lookup(states: Record<string, Partial<RegionState>>): RegionLookup {
  return {
    state: (region) =>
      states[region]
        ? {
            region,
            endpoint: `http://${region}`,
            status: 'up',
            rttMs: 10,
            healthy: true,
            consecutiveFailures: 0,
            probed: true,
            lastFailure: undefined,
            ...states[region],
          }
        : undefined,
  };
}

describe('routes', () => {
  it('routes - writes go to the home only, whatever its health or the hint', () => {
    const probes = lookup({ 'us-east-1': { healthy: false }, 'eu-central-1': {} });
    expect(candidates(ACME, 'write', probes, 'eu-central-1')).toEqual(['us-east-1']);
  });

  it('routes - reads: healthy before unhealthy, then nearest first', () => {
    const probes = lookup({
      'us-east-1': { rttMs: 5, healthy: false },
      'eu-central-1': { rttMs: 30 },
      'ap-southeast-1': { rttMs: 20 },
    });
    expect(candidates(ACME, 'read', probes)).toEqual(['ap-southeast-1', 'eu-central-1', 'us-east-1']);
  });

  it('routes - the client region comes first only when it is usable', () => {
    const probes = lookup({
      'us-east-1': { rttMs: 5 },
      'eu-central-1': { rttMs: 30 },
      'ap-southeast-1': { rttMs: 80, healthy: false },
    });
    expect(candidates(ACME, 'read', probes, 'eu-central-1')[0]).toBe('eu-central-1');
    expect(candidates(ACME, 'read', probes, 'ap-southeast-1')).toEqual([
      'us-east-1',
      'eu-central-1',
      'ap-southeast-1',
    ]);
    expect(candidates(ACME, 'read', probes, 'mars-north-1')[0]).toBe('us-east-1');
  });

  it('routes - regions draining or down in the table, or unknown to the probes, are tried last', () => {
    const probes = lookup({ 'us-east-1': { rttMs: 5, status: 'draining' }, 'eu-central-1': { rttMs: 30 } });
    expect(candidates(ACME, 'read', probes, 'us-east-1')).toEqual([
      'eu-central-1',
      'us-east-1',
      'ap-southeast-1',
    ]);
  });
});
