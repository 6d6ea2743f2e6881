/**
 * Probes against real loopback servers: RTT averaging, health transitions, and the first
 * guess from distance.
 */
import { silentLogger } from '@memmesh/telemetry';
import { afterEach, describe, expect, it } from 'vitest';
import { distanceGuessMs, type Probes, startProbes } from '../src/index.ts';
import { answer, closedPort, regionConfig, startTestServer, type TestServer } from './scripted-servers.ts';

const WASHINGTON = { latitude: 38.9, longitude: -77.0 };
const FRANKFURT = { latitude: 50.1, longitude: 8.7 };
let probes: Probes | undefined;
const servers: TestServer[] = [];

afterEach(async () => {
  await probes?.stop();
  for (const s of servers.splice(0)) await s.close();
});

const probeOptions = {
  intervalMs: 60_000,
  timeoutMs: 500,
  ewmaAlpha: 0.5,
  failuresMax: 2,
  log: silentLogger,
};

describe('probes', () => {
  it('probes - before any probe, distance is the guess: nearer regions rank first', () => {
    expect(distanceGuessMs(WASHINGTON, WASHINGTON)).toBe(0);
    // About 6,500 km there, 13,000 km there and back, at 200 km per ms.
    expect(distanceGuessMs(WASHINGTON, FRANKFURT)).toBeGreaterThan(60);
    expect(distanceGuessMs(WASHINGTON, FRANKFURT)).toBeLessThan(70);
    probes = startProbes({ ...probeOptions, location: FRANKFURT });
    probes.update([
      {
        config: regionConfig('us-east-1', WASHINGTON.latitude, WASHINGTON.longitude),
        endpoint: undefined,
        status: 'up',
      },
      {
        config: regionConfig('eu-central-1', FRANKFURT.latitude, FRANKFURT.longitude),
        endpoint: 'http://127.0.0.1:1',
        status: 'up',
      },
    ]);
    expect(probes.state('eu-central-1')).toMatchObject({ rttMs: 0, healthy: true, probed: false });
    expect(probes.state('us-east-1')?.rttMs).toBeGreaterThan(60);
    // Without an endpoint a region cannot be asked: it is not counted as healthy.
    expect(probes.state('us-east-1')).toMatchObject({
      healthy: false,
      probed: false,
      lastFailure: 'no endpoint',
    });
  });

  it('probes - a refused connection marks a region unhealthy at once; other failures after failuresMax; a success heals', async () => {
    const up = await startTestServer(answer(200));
    servers.push(up);
    const refused = `http://127.0.0.1:${await closedPort()}`;
    let ready = 503;
    const notReady = await startTestServer(answer(200), () => ready);
    servers.push(notReady);
    probes = startProbes({ ...probeOptions, location: WASHINGTON });
    probes.update([
      { config: regionConfig('us-east-1', 0, 0), endpoint: up.url, status: 'up' },
      { config: regionConfig('eu-central-1', 0, 0), endpoint: refused, status: 'up' },
      { config: regionConfig('ap-southeast-1', 0, 0), endpoint: notReady.url, status: 'up' },
    ]);
    await probes.probeNow();
    expect(probes.state('us-east-1')).toMatchObject({ healthy: true, probed: true, consecutiveFailures: 0 });
    expect(probes.state('eu-central-1')).toMatchObject({ healthy: false, consecutiveFailures: 1 });
    // Not ready (503) is a failure, but one is not enough.
    expect(probes.state('ap-southeast-1')).toMatchObject({ healthy: true, consecutiveFailures: 1 });
    await probes.probeNow();
    expect(probes.state('ap-southeast-1')).toMatchObject({ healthy: false, consecutiveFailures: 2 });
    ready = 200;
    await probes.probeNow();
    expect(probes.state('ap-southeast-1')).toMatchObject({ healthy: true, consecutiveFailures: 0 });
  });

  it('probes - requests that fail count like probes, but a request the gateway aborted does not', () => {
    probes = startProbes({ ...probeOptions, location: WASHINGTON });
    probes.update([
      { config: regionConfig('us-east-1', 0, 0), endpoint: 'http://127.0.0.1:1', status: 'up' },
    ]);
    probes.reportFailure('us-east-1', 'aborted', 'hedge won');
    probes.reportFailure('us-east-1', 'status', 'status 503');
    expect(probes.state('us-east-1')).toMatchObject({ healthy: true, consecutiveFailures: 0 });
    probes.reportFailure('us-east-1', 'network', 'reset');
    expect(probes.state('us-east-1')?.healthy).toBe(true);
    probes.reportFailure('us-east-1', 'timeout', 'timeout');
    expect(probes.state('us-east-1')?.healthy).toBe(false);
  });

  it('probes - RTT is measured, and regions follow the table (leaving, changing status)', async () => {
    const up = await startTestServer(answer(200));
    servers.push(up);
    probes = startProbes({ ...probeOptions, location: WASHINGTON });
    probes.update([
      { config: regionConfig('us-east-1', 0, 0), endpoint: up.url, status: 'up' },
      { config: regionConfig('eu-central-1', 0, 0), endpoint: up.url, status: 'up' },
    ]);
    await probes.probeNow();
    const first = probes.state('us-east-1')?.rttMs as number;
    expect(first).toBeGreaterThan(0);
    expect(first).toBeLessThan(500);
    probes.update([{ config: regionConfig('us-east-1', 0, 0), endpoint: up.url, status: 'draining' }]);
    expect(probes.all().map((r) => [r.region, r.status])).toEqual([['us-east-1', 'draining']]);
  });
});
