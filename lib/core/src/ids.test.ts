import { describe, expect, it } from 'vitest';
import { DOC_ID_PATTERN, docKeyOf, isDocId, isTenant, newDocId, sha256Hex, TENANT_PATTERN } from './ids.ts';
import { LIMITS } from './limits.ts';

describe('docKeyOf', () => {
  it('docKeyOf - is 32 lower-case hex characters, the head of sha256(tenant/docId)', () => {
    const key = docKeyOf('acme', 'notes/2024-05-01.md');
    expect(key).toMatch(/^[0-9a-f]{32}$/);
    expect(key).toBe(sha256Hex('acme/notes/2024-05-01.md').slice(0, 32));
  });

  it('docKeyOf - is deterministic and depends on both the tenant and the id', () => {
    expect(docKeyOf('acme', 'x')).toBe(docKeyOf('acme', 'x'));
    expect(docKeyOf('acme', 'x')).not.toBe(docKeyOf('globex', 'x'));
    expect(docKeyOf('acme', 'x')).not.toBe(docKeyOf('acme', 'y'));
    const keys = new Set(Array.from({ length: 10_000 }, (_, i) => docKeyOf('acme', `doc-${i}`)));
    expect(keys.size).toBe(10_000);
  });

  it('docKeyOf - is one subject token even when the id holds dots, slashes or wildcards', () => {
    for (const id of ['a.b.c', 'a/b', 'z:1@host+q=1', 'x>', 'y*', 'with space']) {
      expect(docKeyOf('acme', id)).toMatch(/^[0-9a-f]{32}$/);
    }
  });
});

describe('sha256Hex', () => {
  it('sha256Hex - matches the FIPS 180-2 vector and hashes strings and bytes alike', () => {
    const abc = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
    expect(sha256Hex('abc')).toBe(abc);
    expect(sha256Hex(new TextEncoder().encode('abc'))).toBe(abc);
    // Strings are hashed as UTF-8.
    expect(sha256Hex('é')).toBe(sha256Hex(new Uint8Array([0xc3, 0xa9])));
  });
});

describe('isTenant', () => {
  it('isTenant - accepts lower-case subject-safe names up to 63 characters', () => {
    for (const tenant of ['acme', 'a', '0', '9lives', 'acme-corp', 'acme_corp_2', `a${'b'.repeat(62)}`]) {
      expect(isTenant(tenant), tenant).toBe(true);
    }
  });

  it('isTenant - rejects empty, too long, upper-case, leading dash, whitespace, subject syntax, unicode', () => {
    for (const tenant of [
      '',
      `a${'b'.repeat(63)}`,
      'Acme',
      '-acme',
      '_acme',
      'ac me',
      ' acme',
      'acme\n',
      'acme.corp',
      'acme/corp',
      'acme*',
      'acme>',
      'café',
      'ａｃｍｅ',
    ]) {
      expect(isTenant(tenant), JSON.stringify(tenant)).toBe(false);
    }
    expect(TENANT_PATTERN.test('acme')).toBe(true);
  });
});

describe('isDocId', () => {
  it('isDocId - accepts printable ids with dots, slashes and ._:@/+=- up to idLengthMax', () => {
    for (const id of [
      'a',
      '7',
      'doc-1',
      'notes/2024-05-01.md',
      'a.b.c',
      'user:42@chat',
      'base64+/=',
      'A_b',
      'x'.repeat(LIMITS.idLengthMax),
    ]) {
      expect(isDocId(id), id).toBe(true);
    }
  });

  it('isDocId - rejects empty, too long, whitespace, a leading symbol, unicode and other punctuation', () => {
    for (const id of [
      '',
      'x'.repeat(LIMITS.idLengthMax + 1),
      ' a',
      'a ',
      'a b',
      'a\tb',
      'a\n',
      '-a',
      '.a',
      '/a',
      '_a',
      'café',
      '日本',
      'a😀',
      'a,b',
      'a#b',
      'a?b',
      'a*b',
      'a>b',
    ]) {
      expect(isDocId(id), JSON.stringify(id)).toBe(false);
    }
  });
});

describe('newDocId', () => {
  it('newDocId - ids are unique and valid document ids', () => {
    const ids = Array.from({ length: 5_000 }, () => newDocId());
    expect(new Set(ids).size).toBe(ids.length);
    for (const id of ids) {
      expect(id).toMatch(DOC_ID_PATTERN);
      expect(id).toMatch(/^m_[0-9a-z]{9}[0-9a-f]{16}$/);
    }
  });

  it('newDocId - ids sort by creation time, across changes in the width of the timestamp', () => {
    const now = Date.now();
    const times = [0, 1, 35, 36, 1_295, 1_296, 36 ** 8 - 1, 36 ** 8, now, now + 1, now + 60_000, 36 ** 9 - 1];
    times.sort((a, b) => a - b);
    const ids = times.map((t) => newDocId(t));
    expect([...ids].sort()).toEqual(ids);
    for (const id of ids) expect(id).toHaveLength(27);
  });

  it('newDocId - defaults to the current time', () => {
    const before = newDocId(Date.now());
    const id = newDocId();
    const after = newDocId(Date.now() + 1);
    expect(id.slice(0, 11) >= before.slice(0, 11)).toBe(true);
    expect(id < after).toBe(true);
  });
});
