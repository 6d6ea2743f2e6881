/**
 * A view that missed events its snapshot claims to hold re-reads them from the log (issue
 * #12, read-repair): the agent is stopped after a first snapshot, which is kept aside; a
 * second run updates one memory and deletes another; then the first snapshot is put back
 * with the second's position in its manifest, as a snapshot written from an older state
 * would be. The consumer resumes after that position, so it would never apply the update or
 * the delete again, and nothing else in the view is behind the log. The restarted agent
 * must answer the update's text and not the deleted memory, and count the repairs as
 * `missed`. Real nats-server, real embedded index and snapshot files.
 */
import { cp, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { silentLogger } from '@memmesh/telemetry';
import { eventually, sendJson } from '@memmesh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RegionAgent, type RegionAgentConfig, resolveConfig, startRegionAgent } from '../src/index.ts';
import { distinctiveSentence, type LockedNats, startLockedNats } from './harness.ts';

const KEY = 'acme-dev-key';
let nats: LockedNats;
let dataDir: string;
let config: RegionAgentConfig;
let agent: RegionAgent | undefined;
const start = () => startRegionAgent(config, silentLogger);

const call = (a: RegionAgent, method: string, path: string, body?: unknown) =>
  sendJson(a.app, method, path, body, { authorization: `Bearer ${KEY}` });

/** The one shard's snapshot directory: the directory that holds a `CURRENT` file. */
async function shardDir(root: string): Promise<string> {
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  // The region's own origin (a region may also hold replicas of others' tenants).
  const own = join(config.region, config.region);
  const current = entries.filter((e) => e.isFile() && e.name === 'CURRENT' && e.parentPath.includes(own));
  expect(current).toHaveLength(1);
  return (current[0] as { parentPath: string }).parentPath;
}

async function manifestOf(dir: string): Promise<{ path: string; json: { appliedSeq: number } }> {
  const name = (await readFile(join(dir, 'CURRENT'), 'utf8')).trim();
  const path = join(dir, name, 'manifest.json');
  return { path, json: JSON.parse(await readFile(path, 'utf8')) };
}

beforeAll(async () => {
  nats = await startLockedNats();
  dataDir = await mkdtemp(join(tmpdir(), 'memmesh-restored-'));
  // One shard: every memory is in the one snapshot that is swapped.
  config = resolveConfig({ ...nats.agent, dataDir, port: 0, shardCount: 1, snapshotIntervalMs: 500 });
}, 60_000);

afterAll(async () => {
  await agent?.close();
  await nats?.stop();
  if (dataDir) await rm(dataDir, { recursive: true, force: true });
});

describe('read-repair - a view restored from a snapshot that missed events', () => {
  it('the restarted agent answers the log’s current text, drops the deleted memory and counts the repairs as missed', async () => {
    const first = {
      a: distinctiveSentence(80_001),
      b: distinctiveSentence(80_002),
      c: distinctiveSentence(80_003),
    };
    agent = await start();
    for (const [id, text] of Object.entries(first)) {
      expect(
        (await call(agent, 'POST', '/v1/memories?wait=true', { id: `restored-${id}`, text })).status,
      ).toBe(202);
    }
    await agent.close(); // writes the snapshot
    agent = undefined;
    const dir = await shardDir(dataDir);
    const aside = `${dir}.aside`;
    await cp(dir, aside, { recursive: true });

    agent = await start();
    const updatedText = `${first.a} Revised: the ledger moved to the north vault.`;
    const updated = await call(agent, 'POST', '/v1/memories?wait=true', {
      id: 'restored-a',
      text: updatedText,
    });
    expect(updated.status).toBe(202);
    expect((await call(agent, 'DELETE', '/v1/memories/restored-b?wait=true')).status).toBe(202);
    await agent.close();
    agent = undefined;
    const later = (await manifestOf(dir)).json.appliedSeq;

    // The older snapshot, claiming the newer position.
    await rm(dir, { recursive: true, force: true });
    await cp(aside, dir, { recursive: true });
    const older = await manifestOf(dir);
    expect(older.json.appliedSeq).toBeLessThan(later);
    await writeFile(older.path, JSON.stringify({ ...older.json, appliedSeq: later }));

    agent = await start();
    const restarted = agent;
    // GET reads the log: it is right whatever the view holds.
    expect((await call(restarted, 'GET', '/v1/memories/restored-a')).body.text).toBe(updatedText);
    await eventually(
      'search answers the update and not the deleted memory',
      async () => {
        const a = await call(restarted, 'POST', '/v1/search', { query: first.a, topK: 5 });
        const b = await call(restarted, 'POST', '/v1/search', { query: first.b, topK: 5 });
        const hitA = a.body.results?.find((r: { id: string }) => r.id === 'restored-a');
        const ids = (b.body.results ?? []).map((r: { id: string }) => r.id);
        return hitA?.text === updatedText &&
          hitA.version === updated.body.version &&
          !ids.includes('restored-b')
          ? true
          : undefined;
      },
      { timeoutMs: 30_000 },
    );
    const c = await call(restarted, 'POST', '/v1/search', { query: first.c, topK: 1 });
    expect(c.body.results[0]).toMatchObject({ id: 'restored-c', text: first.c });
    const metrics = await (await restarted.app.request('/metrics')).text();
    const missed = metrics
      .split('\n')
      .filter((l) => l.startsWith('memmesh_read_repairs_total') && l.includes('kind="missed"'))
      .reduce((n, l) => n + Number(l.split(' ').at(-1)), 0);
    expect(missed).toBe(2);
  }, 120_000);
});
