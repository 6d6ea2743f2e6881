/**
 * Erasure by scope on a real NATS supercluster (one agent per region, one routing table):
 * 500 memories of userId u1 and 500 of u2 in acme (home us-east-1, replicas eu-central-1 and
 * ap-southeast-1), some of u1's updated so that they have history. Erasing u1 leaves no
 * message on u1's subjects in any stream, no hit for an erased text in any region, no erased
 * text in any snapshot file and no cache entry of them (once with the in-process cache, once
 * with Redis, whose keys and values are read directly); every u2 memory stays. A poison message
 * on one of u1's subjects is dead-lettered in every region first, and erased with the rest.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Cache, createRedisCache } from '@memmesh/cache';
import {
  deadLetterStreamName,
  docKeyOf,
  docSubject,
  type ErasureReceipt,
  sha256Hex,
  shardOf,
  streamName,
} from '@memmesh/core';
import { eventually as poll, type RedisServer, sendJson, startRedisServer } from '@memmesh/testkit';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AgentMesh, distinctiveSentence, REGIONS, type RegionId, startAgentMesh } from './harness.ts';

const ACME = 'acme-dev-key';
const ADMIN = 'erasure-admin-key-0123456789';
const PER_USER = 500;
/** u1 memories updated once more, so that their subjects hold a history to erase. */
const UPDATED = 50;

let mesh: AgentMesh;
let nc: NatsConnection;
/** Each region's own Redis (the redis variant), and a client of each that reads it directly. */
let redis: Partial<Record<RegionId, RedisServer>> = {};
let redisViews: Cache[] = [];
const u1Texts = new Map<string, string>();
const u2Texts = new Map<string, string>();
/** The poisoned document of u1: its subject also holds an invalid message. */
const POISONED = 'u1-doc-1';

const call = (region: RegionId, method: string, path: string, body?: unknown, key = ACME) =>
  sendJson(mesh.agents[region].app, method, path, body, { authorization: `Bearer ${key}` });
const eventually = <T>(what: string, attempt: () => Promise<T | undefined>, timeoutMs = 90_000) =>
  poll(what, attempt, { timeoutMs, stepMs: 200 });

async function writeUser(userId: string, texts: Map<string, string>, offset: number): Promise<void> {
  for (let start = 0; start < PER_USER; start += 100) {
    const memories = Array.from({ length: 100 }, (_, k) => ({
      id: `${userId}-doc-${start + k}`,
      text: distinctiveSentence(offset + start + k),
      scope: { userId },
    }));
    const r = await call('us-east-1', 'POST', '/v1/memories/batch?wait=true', { memories });
    expect(r.status).toBe(202);
    for (const m of memories) texts.set(m.id, m.text);
  }
}

const receiptOf = async (id: string): Promise<ErasureReceipt> =>
  (await call('us-east-1', 'GET', `/v1/erasures/${id}`)).body;
const done = (id: string) =>
  eventually(`erasure ${id} done`, async () => {
    const r = await receiptOf(id);
    if (r.state === 'failed') throw new Error(`erasure failed: ${JSON.stringify(r)}`);
    return r.state === 'done' ? r : undefined;
  });

/** Every message of every MEM stream on the subjects of `ids`' documents (and their re-embeddings). */
async function messagesOn(ids: Set<string>): Promise<number> {
  const jsm = await jetstreamManager(nc);
  let found = 0;
  for (const region of REGIONS) {
    const info = await jsm.streams.info(streamName(region), { subjects_filter: 'mem.*.*.acme.>' });
    for (const [subject, count] of Object.entries(info.state.subjects ?? {})) {
      if (subject.includes('._ctl.')) continue;
      const base = subject.split('.').slice(0, 5).join('.');
      const last = await jsm.streams.getMessage(streamName(region), { last_by_subj: base });
      // A subject of an erased document keeps its tombstone only: one message, no content.
      if (!last || !ids.has(docIdOf(last.data))) continue;
      const tombstone = new TextDecoder().decode(last.data).includes('"type":"delete"') ? 1 : 0;
      found += subject === base ? count - tombstone : count;
    }
  }
  return found;
}

/** The document id of a stored event (tombstones and upserts both carry it). */
function docIdOf(data: Uint8Array): string {
  const text = new TextDecoder().decode(data);
  const match = /"id":"([^"]+)"/.exec(text);
  return match?.[1] ?? '';
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name));
}

/** An invalid message on u1's poisoned subject: every region's views dead-letter it. */
async function poison(): Promise<void> {
  const shardCount = mesh.agents['us-east-1'].config.shardCount;
  const subject = docSubject(
    'us-east-1',
    shardOf('acme', POISONED, shardCount),
    'acme',
    docKeyOf('acme', POISONED),
  );
  await jetstream(nc).publish(subject, new TextEncoder().encode('{"not":"an event"}'));
  const jsm = await jetstreamManager(nc);
  for (const region of REGIONS) {
    await eventually(`${region} dead-letters the poison`, async () => {
      const info = await jsm.streams.info(deadLetterStreamName(region));
      return info.state.messages >= 1 ? true : undefined;
    });
  }
}

/** Keys and values of the Redis cache that come from an erased text. */
async function redisLeaks(erased: string[]): Promise<string[]> {
  const hashes = new Set(erased.map((t) => sha256Hex(t)));
  const leaks: string[] = [];
  for (const view of redisViews) {
    for (const key of await view.keys('', 1_000_000)) {
      if (hashes.has(key.slice(key.lastIndexOf(':') + 1))) leaks.push(key);
      const value = (await view.get(key)) ?? '';
      if (erased.some((t) => value.includes(t))) leaks.push(`${key} (value)`);
    }
  }
  return leaks;
}

describe.each(['lru', 'redis'] as const)('erasure - %s cache', (cache) => {
  beforeAll(async () => {
    u1Texts.clear();
    u2Texts.clear();
    redis = {};
    redisViews = [];
    if (cache === 'redis') {
      for (const region of REGIONS) {
        const server = await startRedisServer();
        redis[region] = server;
        redisViews.push(await createRedisCache({ url: server.url }));
      }
    }
    mesh = await startAgentMesh({
      name: 'erasure',
      http: false,
      cacheBackend: cache,
      perRegion: (region) => {
        const server = redis[region];
        return server ? { cache: 'redis' as const, redisUrl: server.url } : {};
      },
      agent: {
        adminKey: ADMIN,
        erasureFollowMs: 200,
        replicationReconcileMs: 300,
        snapshotIntervalMs: 500,
        waitAppliedMsMax: 10_000,
      },
    });
    nc = await connect({
      servers: mesh.regions['us-east-1'].natsUrl,
      ...mesh.security.connectOptions(mesh.security.operator()),
    });
    await writeUser('u1', u1Texts, 0);
    await writeUser('u2', u2Texts, PER_USER);
    for (let i = 0; i < UPDATED; i++) {
      const id = `u1-doc-${i}`;
      const text = `${distinctiveSentence(10 * PER_USER + i)} Updated.`;
      const r = await call('us-east-1', 'POST', '/v1/memories?wait=true', {
        id,
        text,
        scope: { userId: 'u1' },
      });
      expect(r.status).toBe(202);
      u1Texts.set(`${id}#old`, u1Texts.get(id) as string);
      u1Texts.set(id, text);
    }
    await poison();
  }, 300_000);

  afterAll(async () => {
    await nc?.close();
    await mesh?.stop();
    for (const view of redisViews) await view.close();
    for (const server of Object.values(redis)) await server.stop();
  });

  it('erasure - bad input: no scope is 400, unknown parameters are 400, a tenant key erasing a tenant is 403', async () => {
    expect((await call('us-east-1', 'DELETE', '/v1/memories')).status).toBe(400);
    expect((await call('us-east-1', 'DELETE', '/v1/memories?userId=')).status).toBe(400);
    expect((await call('us-east-1', 'DELETE', '/v1/memories?user=u1')).status).toBe(400);
    expect((await call('us-east-1', 'DELETE', '/v1/memories?userId=a&userId=b')).status).toBe(400);
    expect((await call('us-east-1', 'DELETE', '/v1/admin/tenants/acme/memories')).status).toBe(403);
    expect((await call('us-east-1', 'GET', '/v1/erasures/er-us-east-1-000000000000')).status).toBe(404);
    expect((await call('us-east-1', 'GET', '/v1/erasures/nonsense')).status).toBe(400);
  });

  it('erasure - erasing u1 removes its memories from every stream, view, snapshot and cache of every region; u2 is intact', {
    timeout: 300_000,
  }, async () => {
    // Every region has u1 and has cached answers of u1's texts.
    const probe = u1Texts.get('u1-doc-7') as string;
    for (const region of REGIONS) {
      await eventually(`${region} finds u1`, async () => {
        const r = await call(region, 'POST', '/v1/search', { query: probe, topK: 1 });
        return r.body.results?.[0]?.id === 'u1-doc-7' ? true : undefined;
      });
    }
    // And the snapshot files hold u1's texts now (the check after the erasure means something too).
    await eventually('a snapshot holds a u1 text', async () => {
      for (const file of await filesUnder(mesh.dataDir)) {
        if ((await readFile(file, 'latin1')).includes(probe)) return true;
      }
      return undefined;
    });
    // The check below means something: Redis holds entries of u1's texts now.
    if (cache === 'redis') expect((await redisLeaks([...u1Texts.values()])).length).toBeGreaterThan(0);
    const accepted = await call('us-east-1', 'DELETE', '/v1/memories?userId=u1');
    expect(accepted.status).toBe(202);
    expect(accepted.body.state).toBe('requested');
    const again = await call('us-east-1', 'DELETE', '/v1/memories?userId=u1');
    expect(again.body.id).toBe(accepted.body.id);
    const receipt = await done(accepted.body.id);
    expect(receipt.documents).toBe(PER_USER);
    expect(receipt.scope).toEqual({ userId: 'u1' });
    expect(Object.keys(receipt.regions).sort()).toEqual([...REGIONS].sort());
    for (const [region, r] of Object.entries(receipt.regions)) {
      expect(r.verification?.ok, region).toBe(true);
      // Each subject's versions before its tombstone: 500 first versions, 50 updates, the poison.
      expect(r.streamMessages, region).toBe(PER_USER + UPDATED + 1);
      expect(r.viewDocs, region).toBe(PER_USER);
      expect(r.cacheEntries, region).toBeGreaterThan(0);
      expect(r.verification?.deadLettersLeft, region).toBe(0);
    }
    expect(receipt.keptAfterCut.count).toBe(0);
    // The agent that finished it counted it, with its documents.
    let ended = 0;
    let documents = 0;
    for (const region of REGIONS) {
      const text = await (await mesh.agents[region].app.request('/metrics')).text();
      ended += Number(/^memmesh_erasures_total\{[^}]*state="done"[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0);
      documents += Number(/^memmesh_erased_documents_total\{[^}]*\} (\d+)/m.exec(text)?.[1] ?? 0);
    }
    expect([ended, documents]).toEqual([1, PER_USER]);
    // The same scope once more answers the finished erasure.
    expect((await call('us-east-1', 'DELETE', '/v1/memories?userId=u1')).body.id).toBe(accepted.body.id);

    // No stream holds anything of u1's but its tombstones.
    expect(await messagesOn(new Set([...u1Texts.keys()].filter((k) => !k.includes('#'))))).toBe(0);
    // No snapshot file holds an erased text.
    const files = await filesUnder(mesh.dataDir);
    const erased = [...u1Texts.values()];
    for (const file of files) {
      const content = await readFile(file, 'latin1');
      const leaked = erased.find((t) => content.includes(t));
      expect(leaked, file).toBeUndefined();
    }
    // Redis holds no key or value derived from an erased text (checked before the searches
    // below, which cache their own answers: none of them holds an erased memory).
    expect(await redisLeaks(erased)).toEqual([]);
    // No search from any region finds an erased memory.
    for (const region of REGIONS) {
      for (const text of erased) {
        const r = await call(region, 'POST', '/v1/search', { query: text, topK: 3 });
        expect(r.status).toBe(200);
        const ids = (r.body.results as { id: string }[]).map((x) => x.id);
        expect(
          ids.filter((id) => id.startsWith('u1-')),
          `${region}: ${text}`,
        ).toEqual([]);
      }
    }
    // Nor does a read or a history of one: the memory and its versions are gone, not deleted.
    for (const id of [...u1Texts.keys()].filter((k) => !k.includes('#')).slice(0, 5)) {
      for (const region of REGIONS) {
        expect((await call(region, 'GET', `/v1/memories/${id}`)).status, `${region} ${id}`).toBe(404);
        const history = await call(region, 'GET', `/v1/memories/${id}/history`);
        expect(history.status, `${region} ${id} history`).toBe(404);
      }
    }
    // Every u2 memory is there, at home and in the replicas.
    for (const [id, text] of u2Texts) {
      const r = await call('us-east-1', 'GET', `/v1/memories/${id}`);
      expect(r.status).toBe(200);
      expect(r.body.text).toBe(text);
    }
    for (const region of REGIONS) {
      const r = await call(region, 'POST', '/v1/search', { query: u2Texts.get('u2-doc-3'), topK: 1 });
      expect(r.body.results[0].id).toBe('u2-doc-3');
    }
    // The audit log holds one event of it, with counts and no content.
    const jsm = await jetstreamManager(nc);
    const audit = await jsm.streams.getMessage('AUDIT_US_EAST_1', {
      last_by_subj: 'audit.us-east-1.erasure',
    });
    const event = JSON.parse(new TextDecoder().decode(audit?.data));
    expect(event.id).toBe(accepted.body.id);
    expect(event.after.documents).toBe(PER_USER);
    expect(erased.some((t) => JSON.stringify(event).includes(t))).toBe(false);
    expect(receipt.regions['us-east-1']?.deadLetters).toBe(1);
  });

  it('erasure - writes in scope after the cut are kept and listed; the operator erases a whole tenant', {
    timeout: 300_000,
  }, async () => {
    const first = await call('us-east-1', 'DELETE', '/v1/memories?userId=u2');
    const late = await call('us-east-1', 'POST', '/v1/memories', {
      id: 'u2-late',
      text: 'A late note of u2.',
      scope: { userId: 'u2' },
    });
    expect(late.status).toBe(202);
    const receipt = await done(first.body.id);
    expect(receipt.documents).toBe(PER_USER);
    // The late write came after the cut: it is kept (the receipt may list it if it landed before the walk).
    expect((await call('us-east-1', 'GET', '/v1/memories/u2-late')).status).toBe(200);
    const whole = await call('us-east-1', 'DELETE', '/v1/admin/tenants/acme/memories', undefined, ADMIN);
    expect(whole.status).toBe(202);
    const all = await done(whole.body.id);
    expect(all.scope).toEqual({ all: true });
    expect((await call('us-east-1', 'GET', '/v1/memories/u2-late')).status).toBe(404);
    const viaAdmin = await call('us-east-1', 'GET', `/v1/admin/erasures/${whole.body.id}`, undefined, ADMIN);
    expect(viaAdmin.status).toBe(200);
  });
});
