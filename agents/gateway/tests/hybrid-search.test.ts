/**
 * Hybrid search through the gateway, against a live region agent on a real nats-server with
 * the embedded index (DESIGN §13): near-duplicate memories that differ only in names and
 * numbers, short and ~4 KB long, are told apart by a query quoting one's distinctive
 * sentence; modes, explain, time bounds and bad input answer as the API documents; a term
 * only another tenant uses finds nothing.
 */
import { createClient, type MemmeshClient } from '@memmesh/client';
import { type LiveStack, startLiveStack } from '@memmesh/gateway/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

let stack: LiveStack;
let acme: MemmeshClient;

const SHARED =
  'The quarterly planning review covered budget, hiring and the migration timeline for the platform team. ';
const NAMES = ['Okafor', 'Lindqvist', 'Takahashi', 'Moreau', 'Castellanos', 'Nakamura', 'Petrov', 'Haddad'];
const sentenceOf = (i: number) =>
  `Ticket ${4100 + i * 13} was escalated by ${NAMES[i]} after the outage in zone ${i + 2}.`;
/** Even memories are short, odd ones carry their sentence inside ~4 KB of shared text. */
const textOf = (i: number) =>
  i % 2 === 0 ? `${SHARED}${sentenceOf(i)}` : `${SHARED.repeat(20)}${sentenceOf(i)} ${SHARED.repeat(19)}`;
const ids: string[] = [];

beforeAll(async () => {
  stack = await startLiveStack();
  acme = createClient({ url: stack.url, apiKey: 'acme-dev-key' });
  for (const i of NAMES.keys()) {
    const written = await acme.add({ id: `dup-${i}`, text: textOf(i) }, { wait: true });
    ids.push(written.id);
  }
}, 120_000);

afterAll(async () => {
  await stack?.stop();
});

async function post(body: unknown, apiKey = 'acme-dev-key'): Promise<Response> {
  return fetch(`${stack.url}/v1/search`, {
    method: 'POST',
    headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
}

describe('hybrid search - through the gateway', () => {
  it('hybrid search - a quoted distinctive sentence finds its memory at top-1, short and long', async () => {
    for (const i of NAMES.keys()) {
      const answer = await acme.search({ query: sentenceOf(i), topK: 5 });
      expect(answer.mode).toBe('hybrid');
      expect(answer.results[0]?.id, `memory ${i}`).toBe(`dup-${i}`);
      const keyword = await acme.search({ query: sentenceOf(i), topK: 5, mode: 'keyword' });
      expect(keyword.mode).toBe('keyword');
      expect(keyword.results[0]?.id, `keyword ${i}`).toBe(`dup-${i}`);
    }
  });

  it('hybrid search - explain gives component ranks; vector mode still answers', async () => {
    const answer = await acme.search({ query: `${NAMES[3]} escalated`, topK: 3, explain: true });
    expect(answer.results[0]?.id).toBe('dup-3');
    expect(answer.results[0]?.explain?.keywordRank).toBe(1);
    const vector = await acme.search({ query: sentenceOf(2), topK: 3, mode: 'vector' });
    expect(vector.mode).toBe('vector');
    expect(vector.results).toHaveLength(3);
    expect(vector.results.every((hit) => hit.explain === undefined)).toBe(true);
  });

  it('hybrid search - time bounds filter every mode; an update leaves no stale term', async () => {
    const future = new Date(Date.now() + 3_600_000).toISOString();
    for (const mode of ['hybrid', 'keyword', 'vector'] as const) {
      const none = await acme.search({ query: sentenceOf(1), mode, createdAfter: future });
      expect(none.results, mode).toEqual([]);
      const all = await acme.search({ query: sentenceOf(1), mode, createdBefore: future, topK: 50 });
      expect(all.results.length, mode).toBeGreaterThanOrEqual(NAMES.length);
    }
    await acme.add({ id: 'dup-0', text: 'Ticket closed, nothing else remains.' }, { wait: true });
    const stale = await acme.search({ query: NAMES[0] as string, mode: 'keyword' });
    expect(stale.results.map((hit) => hit.id)).not.toContain('dup-0');
    const recent = await acme.search({ query: 'ticket', mode: 'keyword', recencyHalfLifeDays: 0.0001 });
    expect(recent.results[0]?.id).toBe('dup-0');
  });

  it('hybrid search - a term only another tenant uses returns nothing; explain on no data is empty', async () => {
    const globex = await post({ query: NAMES[4], mode: 'keyword', explain: true }, 'globex-dev-key');
    expect(globex.status).toBe(200);
    const body = (await globex.json()) as { results: unknown[]; mode: string };
    expect(body).toMatchObject({ results: [], mode: 'keyword' });
  });

  it('hybrid search - bad input answers 400 with the stable error shape', async () => {
    for (const bad of [
      { query: 'x', mode: 'fuzzy' },
      { query: 'x', createdAfter: 'last tuesday' },
      { query: 'x', createdAfter: '2026-02-01T00:00:00Z', createdBefore: '2026-01-01T00:00:00Z' },
      { query: 'x', recencyHalfLifeDays: -1 },
      { query: 'x', explain: 'yes' },
    ]) {
      const response = await post(bad);
      expect(response.status, JSON.stringify(bad)).toBe(400);
      const body = (await response.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('bad_request');
    }
  });
});
