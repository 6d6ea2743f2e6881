/**
 * Listing (issue 12, item 3), against a real nats-server: `GET /v1/memories` pages through a
 * tenant's memories newest first, merged over the shards, with no duplicate and no gap while
 * writes go on; its filters select what a search filter selects; expired memories are left
 * out; bad parameters and forged cursors are 400; another tenant sees none of it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { distinctiveSentence, GLOBEX, type Harness, startHarness } from './harness.ts';

let h: Harness;

beforeAll(async () => {
  h = await startHarness({ shardCount: 4 });
}, 60_000);

afterAll(async () => {
  await h?.stop();
});

interface Listed {
  id: string;
  version: number;
  text: string;
  metadata: Record<string, unknown>;
  scope: Record<string, string>;
  region: string;
  shard: string;
}

async function page(query: string, key?: string): Promise<{ memories: Listed[]; nextCursor?: string }> {
  const res = await h.call('GET', `/v1/memories${query}`, undefined, key);
  expect(res.status, `${query}: ${JSON.stringify(res.body)}`).toBe(200);
  return res.body;
}

/** Every page of a listing, following nextCursor; at most `pagesMax` pages. */
async function listAll(filters: string, limit: number, pagesMax = 200): Promise<Listed[]> {
  const all: Listed[] = [];
  let cursor: string | undefined;
  for (let n = 0; n < pagesMax; n++) {
    const sep = filters.length > 0 ? '&' : '';
    const q = `?${filters}${sep}limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`;
    const { memories, nextCursor } = await page(q);
    all.push(...memories);
    if (!nextCursor) return all;
    cursor = nextCursor;
  }
  throw new Error('listing did not end');
}

describe('list', () => {
  it('list - pages through 1,000 memories newest first with no duplicate and no gap while writes continue', {
    timeout: 120_000,
  }, async () => {
    const ids: string[] = [];
    for (let b = 0; b < 10; b++) {
      const memories = Array.from({ length: 100 }, (_, k) => {
        const i = b * 100 + k;
        ids.push(`l-${i}`);
        return { id: `l-${i}`, text: distinctiveSentence(i), metadata: { set: 'paging' } };
      });
      expect((await h.call('POST', '/v1/memories/batch?wait=true', { memories })).status).toBe(202);
    }
    // Writes go on, of the same set, all along the listing.
    let writing = true;
    let extra = 0;
    const writer = (async () => {
      while (writing) {
        await h.call('POST', '/v1/memories?wait=true', {
          id: `l-new-${extra}`,
          text: distinctiveSentence(10_000 + extra),
          metadata: { set: 'paging' },
        });
        extra++;
      }
    })();
    let listed: Listed[];
    try {
      listed = await listAll('metadata.set=paging', 37);
    } finally {
      writing = false;
      await writer;
    }
    expect(extra).toBeGreaterThan(0);
    const seen = listed.map((m) => m.id);
    expect(new Set(seen).size, 'no duplicate').toBe(seen.length);
    const versions = listed.map((m) => m.version);
    expect(versions).toEqual([...versions].sort((a, b) => b - a));
    const got = new Set(seen);
    expect(
      ids.filter((id) => !got.has(id)),
      'no gap',
    ).toEqual([]);
    // Later writes land before the cursor: only those made before the first page can be in it.
    const newer = seen.filter((id) => id.startsWith('l-new-'));
    expect(newer.length).toBeLessThan(extra);
    expect(listed.every((m) => m.region === 'us-east-1' && /^s0[0-3]$/.test(m.shard))).toBe(true);
    expect(new Set(listed.map((m) => m.shard)).size).toBe(4);
    // A memory as GET gives it.
    const one = listed.find((m) => m.id === 'l-500');
    expect(one).toEqual((await h.call('GET', '/v1/memories/l-500')).body);
  });

  it('list - filters select what search filters select: scope fields, typed metadata; expired memories are left out', {
    timeout: 60_000,
  }, async () => {
    const memories = [
      { id: 'f-1', text: 'Filter one.', metadata: { team: 'infra', n: 1 }, scope: { userId: 'u1' } },
      {
        id: 'f-2',
        text: 'Filter two.',
        metadata: { team: 'infra', n: '1' },
        scope: { userId: 'u1', sessionId: 's1' },
      },
      {
        id: 'f-3',
        text: 'Filter three.',
        metadata: { team: 'web', n: true },
        scope: { userId: 'u2', agentId: 'a1' },
      },
      {
        id: 'f-4',
        text: 'Filter four.',
        metadata: { team: 'infra', 'a b': 'c&d' },
        scope: { userId: 'u1' },
        ttlSeconds: 1,
      },
    ];
    expect((await h.call('POST', '/v1/memories/batch?wait=true', { memories })).status).toBe(202);
    const ids = async (q: string) => (await page(`?${q}`)).memories.map((m) => m.id);
    expect(await ids('metadata.team=infra&metadata.a%20b=c%26d')).toEqual(['f-4']);
    await new Promise((r) => setTimeout(r, 1_100));
    expect(await ids('metadata.team=infra&metadata.a%20b=c%26d')).toEqual([]);
    expect(await ids('userId=u1')).toEqual(['f-2', 'f-1']);
    expect(await ids('userId=u1&sessionId=s1')).toEqual(['f-2']);
    expect(await ids('agentId=a1&userId=u2')).toEqual(['f-3']);
    expect(await ids('metadata.n=1')).toEqual(['f-1']);
    expect(await ids('metadata.n=%221%22')).toEqual(['f-2']);
    expect(await ids('metadata.n=true')).toEqual(['f-3']);
    expect(await ids('metadata.team=infra&userId=u1')).toEqual(['f-2', 'f-1']);
    // The same filter, through search: the same memories.
    const searched = await h.call('POST', '/v1/search', {
      query: 'Filter',
      topK: 50,
      filter: { metadata: { team: 'infra' }, scope: { userId: 'u1' } },
    });
    expect(searched.body.results.map((r: { id: string }) => r.id).sort()).toEqual(['f-1', 'f-2']);
    // Another tenant lists nothing of acme's.
    expect((await page('?limit=100', GLOBEX)).memories).toEqual([]);
  });

  it('list - the default limit is 20; bad limits, parameters and cursors are 400', async () => {
    const first = await page('');
    expect(first.memories).toHaveLength(20);
    expect(first.nextCursor).toBeDefined();
    const cursor = first.nextCursor as string;
    // The cursor goes on where the page ended.
    const second = await page(`?cursor=${cursor}`);
    expect(second.memories[0]!.version).toBeLessThan(first.memories.at(-1)!.version);
    const forged = Buffer.from('m1.5.000000000000').toString('base64url');
    for (const q of [
      '?limit=0',
      '?limit=101',
      '?limit=-1',
      '?limit=ten',
      '?cursor=not-a-cursor',
      '?cursor=%%%',
      `?cursor=${forged}`,
      `?cursor=${cursor}x`,
      `?cursor=${cursor}&userId=u1`,
      '?userid=u1',
      '?userId=u1&userId=u2',
      '?metadata.=x',
      `?userId=${'x'.repeat(200)}`,
      '?metadata.__proto__=1',
    ]) {
      const res = await h.call('GET', `/v1/memories${q}`);
      expect(res.status, q).toBe(400);
      expect(res.body.error.code, q).toBe('bad_request');
    }
  });
});
