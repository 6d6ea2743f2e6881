import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { docKeyOf, TENANT_PATTERN } from './ids.ts';
import { SHARD_COUNT_MAX, shardName } from './shard.ts';
import {
  deadLetterStreamName,
  deadLetterSubject,
  deadLetterSubjects,
  docSubject,
  parseDocSubject,
  querySubject,
  REGION_PATTERN,
  regionSubjects,
  shardFilter,
  streamName,
  tenantFilter,
  tenantShardFilter,
} from './subjects.ts';

/** NATS subject matching: `*` matches one token, a final `>` matches one or more. */
function matches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '>') return i === f.length - 1 && s.length > i;
    if (i >= s.length || (f[i] !== '*' && f[i] !== s[i])) return false;
  }
  return f.length === s.length;
}

const region = fc.stringMatching(REGION_PATTERN);
const shard = fc.integer({ min: 0, max: SHARD_COUNT_MAX - 1 }).map(shardName);
const tenant = fc.stringMatching(TENANT_PATTERN);
const docKey = fc.string({ minLength: 1, maxLength: 40 }).map((id) => docKeyOf('t', id));

describe('subjects', () => {
  it('subjects - stream names upper-case the region and turn dashes into underscores', () => {
    expect(streamName('us-east-1')).toBe('MEM_US_EAST_1');
    expect(streamName('eu-central-1')).toBe('MEM_EU_CENTRAL_1');
    expect(streamName('local')).toBe('MEM_LOCAL');
    expect(deadLetterStreamName('us-east-1')).toBe('DLQ_US_EAST_1');
  });

  it('subjects - stream names are valid JetStream names for every valid region (property)', () => {
    fc.assert(
      fc.property(region, (r) => {
        expect(streamName(r)).toMatch(/^MEM_[A-Z][A-Z0-9_]*$/);
        expect(deadLetterStreamName(r)).toMatch(/^DLQ_[A-Z][A-Z0-9_]*$/);
      }),
    );
  });

  it('subjects - docSubject and parseDocSubject round-trip (property)', () => {
    fc.assert(
      fc.property(region, shard, tenant, docKey, (r, s, t, k) => {
        const subject = docSubject(r, s, t, k);
        expect(subject.split('.')).toHaveLength(5);
        expect(parseDocSubject(subject)).toEqual({ region: r, shard: s, tenant: t, docKey: k });
      }),
    );
  });

  it('subjects - parseDocSubject refuses subjects that are not document subjects', () => {
    for (const subject of [
      '',
      'mem',
      'mem.us-east-1.s00.acme',
      'mem.us-east-1.s00.acme.abc.extra',
      'dlq.us-east-1.s00',
      'q.us-east-1.us-east-1.s00',
      'MEM.us-east-1.s00.acme.abc',
      'xmem.us-east-1.s00.acme.abc',
    ]) {
      expect(parseDocSubject(subject), subject).toBeUndefined();
    }
  });

  it('subjects - filters spell the documented wildcards', () => {
    expect(regionSubjects('us-east-1')).toBe('mem.us-east-1.>');
    expect(shardFilter('us-east-1', 's03')).toBe('mem.us-east-1.s03.>');
    expect(tenantShardFilter('us-east-1', 's03', 'acme')).toBe('mem.us-east-1.s03.acme.>');
    expect(tenantFilter('us-east-1', 'acme')).toBe('mem.us-east-1.*.acme.>');
    expect(deadLetterSubject('us-east-1', 's03')).toBe('dlq.us-east-1.s03');
    expect(deadLetterSubjects('us-east-1')).toBe('dlq.us-east-1.>');
    expect(querySubject('eu-west-1', 'us-east-1', 's03')).toBe('q.eu-west-1.us-east-1.s03');
  });

  it('subjects - a document subject matches its own filters and no one else’s', () => {
    const subject = docSubject('us-east-1', 's03', 'acme', docKeyOf('acme', 'doc-1'));
    expect(matches(regionSubjects('us-east-1'), subject)).toBe(true);
    expect(matches(shardFilter('us-east-1', 's03'), subject)).toBe(true);
    expect(matches(tenantShardFilter('us-east-1', 's03', 'acme'), subject)).toBe(true);
    expect(matches(tenantFilter('us-east-1', 'acme'), subject)).toBe(true);

    expect(matches(regionSubjects('us-east-2'), subject)).toBe(false);
    expect(matches(shardFilter('us-east-1', 's04'), subject)).toBe(false);
    expect(matches(tenantShardFilter('us-east-1', 's03', 'globex'), subject)).toBe(false);
    expect(matches(tenantFilter('us-east-1', 'globex'), subject)).toBe(false);
    // The tenant filter must not catch a tenant whose name only starts the same.
    expect(matches(tenantFilter('us-east-1', 'acm'), subject)).toBe(false);
    expect(matches(deadLetterSubjects('us-east-1'), deadLetterSubject('us-east-1', 's03'))).toBe(true);
    expect(matches(deadLetterSubjects('us-east-1'), subject)).toBe(false);
  });

  it('subjects - REGION_PATTERN accepts lower-case dashed ids of 2 to 32 characters', () => {
    for (const r of ['us-east-1', 'eu-central-1', 'ap-southeast-2', 'local', 'r1', `a${'b'.repeat(31)}`]) {
      expect(REGION_PATTERN.test(r), r).toBe(true);
    }
    for (const r of [
      '',
      'a',
      `a${'b'.repeat(32)}`,
      'US-EAST-1',
      'us_east_1',
      'us.east.1',
      '1us-east',
      '-us-east',
      'us-east-',
      'us east',
      'us-east-1\n',
      'ünïcode',
    ]) {
      expect(REGION_PATTERN.test(r), JSON.stringify(r)).toBe(false);
    }
  });
});
