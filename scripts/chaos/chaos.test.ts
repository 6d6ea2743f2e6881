/**
 * The short version of `npm run chaos` (scripts/chaos/main.ts): the same scenarios and checker,
 * fewer documents and faults. kill -9 of the agent three times and of the nats-server twice
 * during an ingest, and a retry storm; after healing, every acknowledged write is read back:
 * none lost, none duplicated, nothing unexpected.
 */
import { describe, expect, it } from 'vitest';
import { runRetryStorm, runScenario, type ScenarioResult } from './scenarios.ts';

function expectClean(result: ScenarioResult, faults: number): void {
  expect(result.faults).toBe(faults);
  expect(result.acked).toBeGreaterThan(0);
  expect({ lost: result.lost, duplicated: result.duplicated, unexpected: result.unexpected }).toEqual({
    lost: [],
    duplicated: [],
    unexpected: [],
  });
  expect(result.listed).toBe(result.acked);
  expect(result.viewDocs).toBe(result.acked);
}

describe('chaos, short', () => {
  it('chaos - kill -9 of the agent three times during an ingest: nothing acknowledged is lost or doubled', async () => {
    const result = await runScenario('agent-kill', { docs: 1_500, faults: 3, seed: 7, timeMsMax: 150_000 });
    expectClean(result, 3);
    // The writers really were cut off: some writes had to be sent again.
    expect(result.retries).toBeGreaterThan(0);
  }, 240_000);

  it('chaos - kill -9 of the nats-server twice during an ingest: nothing acknowledged is lost or doubled', async () => {
    const result = await runScenario('nats-kill', { docs: 1_500, faults: 2, seed: 11, timeMsMax: 150_000 });
    expectClean(result, 2);
    // No assertion on retries here: a server back within the client's reconnect lets the
    // agent's in-flight publishes go through, so a write may never have failed at all.
    expect(result.recoveryMs.every((ms) => ms > 0)).toBe(true);
  }, 240_000);

  it('chaos - a retry storm of the same ids leaves each memory once in the views', async () => {
    const result = await runRetryStorm({ docs: 200, copies: 5, timeMsMax: 120_000 });
    expectClean(result, 0);
    expect(result.retries).toBe(5 * 200);
  }, 180_000);
});
