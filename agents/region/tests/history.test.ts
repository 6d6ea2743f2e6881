/**
 * A memory's history (issue 12, item 4), from the region's real stream: every version the
 * log still holds, newest first, deletes included, bounded by the region's configured depth;
 * another tenant's memory of the same id is not part of it; an id the log never saw is 404.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACME, GLOBEX, type Harness, startHarness } from './harness.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness();
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

interface Version {
  version: number;
  type: string;
  at: string;
  source: { region: string; agent: string };
  text?: string;
  metadata?: Record<string, unknown>;
}

describe('history', () => {
  it('history - a memory written and updated four times shows all five versions, newest first, with source and time', async () => {
    const written: number[] = [];
    const started = Date.now();
    for (let i = 0; i < 5; i++) {
      const r = await h.call('POST', '/v1/memories?wait=true', {
        id: 'notes/h-1',
        text: `Revision ${i} of the deploy checklist.`,
        metadata: { revision: i },
      });
      expect(r.status).toBe(202);
      written.push(r.body.version);
    }
    const res = await h.call('GET', '/v1/memories/notes%2Fh-1/history');
    expect(res.status).toBe(200);
    const versions = res.body.versions as Version[];
    expect(res.body.id).toBe('notes/h-1');
    expect(versions.map((v) => v.version)).toEqual([...written].reverse());
    expect(versions.map((v) => v.text)).toEqual(
      [4, 3, 2, 1, 0].map((i) => `Revision ${i} of the deploy checklist.`),
    );
    expect(versions.map((v) => v.metadata?.revision)).toEqual([4, 3, 2, 1, 0]);
    for (const v of versions) {
      expect(v.type).toBe('upsert');
      expect(v.source.region).toBe('us-east-1');
      expect(Date.parse(v.at)).toBeGreaterThanOrEqual(started - 1_000);
    }
    // An id of one segment needs no encoding.
    await h.call('POST', '/v1/memories?wait=true', { id: 'h-plain', text: 'One segment.' });
    expect((await h.call('GET', '/v1/memories/h-plain/history')).body.versions).toHaveLength(1);
  });

  it('history - a delete is a version too, without content; another tenant sees none of it', async () => {
    await h.call('POST', '/v1/memories?wait=true', { id: 'h-2', text: 'Soon gone.' });
    const deleted = await h.call('DELETE', '/v1/memories/h-2?wait=true');
    expect(deleted.status).toBe(202);
    const res = await h.call('GET', '/v1/memories/h-2/history');
    const versions = res.body.versions as Version[];
    expect(versions.map((v) => v.type)).toEqual(['delete', 'upsert']);
    expect(versions[0]?.text).toBeUndefined();
    expect((await h.call('GET', '/v1/memories/h-2/history', undefined, GLOBEX)).status).toBe(404);
    expect((await h.call('GET', '/v1/memories/never-written/history', undefined, ACME)).status).toBe(404);
  });

  it('history - a region keeps as many versions as it is configured to', async () => {
    const shallow = await startHarness({ historyPerSubject: 2 });
    try {
      for (let i = 0; i < 4; i++) {
        await shallow.call('POST', '/v1/memories?wait=true', { id: 'h-3', text: `Take ${i}.` });
      }
      const res = await shallow.call('GET', '/v1/memories/h-3/history');
      expect((res.body.versions as Version[]).map((v) => v.text)).toEqual(['Take 3.', 'Take 2.']);
    } finally {
      await shallow.stop();
    }
  });
});
