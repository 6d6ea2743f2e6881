import { describe, expect, it } from 'vitest';
import { AckLedger, type ReadBack } from './ledger.ts';

/** A service as the checker reads it: stored versions by id, the listing, the views' count. */
function service(stored: Record<string, number>, listed: string[], viewDocs = listed.length): ReadBack {
  return {
    version: async (id) => stored[id],
    listIds: async () => listed,
    viewDocs: async () => viewDocs,
  };
}

function ledgerOf(acks: [string, number][], tried: string[] = []): AckLedger {
  const ledger = new AckLedger();
  for (const id of tried) ledger.tried(id);
  for (const [id, version] of acks) {
    ledger.tried(id);
    ledger.ack(id, version);
  }
  return ledger;
}

describe('chaos ledger', () => {
  it('ledger - a clean read-back is clean; a write that landed without its answer is not lost', async () => {
    const ledger = ledgerOf(
      [
        ['a', 3],
        ['b', 5],
      ],
      ['c'],
    );
    const verdict = await ledger.verify(service({ a: 3, b: 6, c: 1 }, ['a', 'b', 'c']));
    expect(verdict).toMatchObject({ acked: 2, lost: [], duplicated: [], unexpected: [], listed: 3 });
  });

  it('ledger - missing, older than acknowledged, or absent from the views is lost', async () => {
    const ledger = ledgerOf([
      ['a', 3],
      ['b', 5],
      ['c', 7],
    ]);
    const verdict = await ledger.verify(service({ a: 3, b: 4, c: 7 }, ['b', 'c'].slice(0, 1)));
    expect(verdict.lost).toEqual(['a', 'b', 'c']);
  });

  it('ledger - an id listed twice, or views counting more documents than ids, is duplicated; an id never written is unexpected', async () => {
    const ledger = ledgerOf([
      ['a', 1],
      ['b', 1],
    ]);
    const twice = await ledger.verify(service({ a: 1, b: 1 }, ['a', 'b', 'a', 'z'], 3));
    expect(twice.duplicated).toEqual(['a']);
    expect(twice.unexpected).toEqual(['z']);
    const counted = await ledger.verify(service({ a: 1, b: 1 }, ['a', 'b'], 3));
    expect(counted.duplicated).toHaveLength(1);
  });

  it('ledger - the highest acknowledged version counts', async () => {
    const ledger = ledgerOf([
      ['a', 2],
      ['a', 9],
      ['a', 4],
    ]);
    expect((await ledger.verify(service({ a: 8 }, ['a']))).lost).toEqual(['a']);
    expect((await ledger.verify(service({ a: 9 }, ['a']))).lost).toEqual([]);
  });
});
