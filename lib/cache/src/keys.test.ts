import { sha256Hex } from '@memmesh/core';
import { describe, expect, it } from 'vitest';
import { canonicalJson, embeddingCacheKey, resultCacheKey } from './index.ts';

const base = { tenant: 'acme', tenantVersion: 7, query: 'where is the invoice', topK: 10 };

describe('cache keys', () => {
  it('cache keys - canonical json sorts object keys at every depth and keeps array order', () => {
    const a = { b: 1, a: { d: [3, { z: 1, y: 2 }], c: 'x' } };
    const b = { a: { c: 'x', d: [3, { y: 2, z: 1 }] }, b: 1 };
    expect(canonicalJson(a)).toBe('{"a":{"c":"x","d":[3,{"y":2,"z":1}]},"b":1}');
    expect(canonicalJson(b)).toBe(canonicalJson(a));
    expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]));
    expect(canonicalJson({ a: undefined, b: null })).toBe('{"b":null}');
  });

  it('cache keys - canonical json keeps a __proto__ key as data', () => {
    const value = JSON.parse('{"__proto__":{"x":1},"a":2}');
    expect(canonicalJson(value)).toBe('{"__proto__":{"x":1},"a":2}');
  });

  it('cache keys - result key has the versioned shape', () => {
    const key = resultCacheKey({ ...base, filter: { scope: { userId: 'u1' } } });
    expect(key).toMatch(/^r:acme:7:[0-9a-f]{64}$/);
    const hash = sha256Hex('{"filter":{"scope":{"userId":"u1"}},"query":"where is the invoice","topK":10}');
    expect(key).toBe(`r:acme:7:${hash}`);
  });

  it('cache keys - equal filters with different key order share a result key', () => {
    const one = resultCacheKey({
      ...base,
      filter: { scope: { userId: 'u1', agentId: 'a1' }, metadata: { kind: 'note', pinned: true } },
    });
    const two = resultCacheKey({
      ...base,
      filter: { metadata: { pinned: true, kind: 'note' }, scope: { agentId: 'a1', userId: 'u1' } },
    });
    expect(two).toBe(one);
  });

  it('cache keys - a version bump, another tenant, query, topK or filter changes the result key', () => {
    const key = resultCacheKey(base);
    const variants = [
      { ...base, tenantVersion: 8 },
      { ...base, tenant: 'other' },
      { ...base, query: 'where is the receipt' },
      { ...base, topK: 5 },
      { ...base, filter: { metadata: { kind: 'note' } } },
    ];
    for (const variant of variants) expect(resultCacheKey(variant)).not.toBe(key);
  });

  it('cache keys - accepts an opaque version token', () => {
    expect(resultCacheKey({ ...base, tenantVersion: 'm3x1.7' })).toMatch(/^r:acme:m3x1\.7:[0-9a-f]{64}$/);
    expect(resultCacheKey({ ...base, tenantVersion: 'm3x2.7' })).not.toBe(
      resultCacheKey({ ...base, tenantVersion: 'm3x1.7' }),
    );
  });

  it('cache keys - minVersion does not change the result key', () => {
    expect(resultCacheKey({ ...base, minVersion: 3 })).toBe(resultCacheKey(base));
  });

  it('cache keys - result key rejects a malformed version or tenant', () => {
    expect(() => resultCacheKey({ ...base, tenantVersion: Number.NaN })).toThrow(RangeError);
    expect(() => resultCacheKey({ ...base, tenantVersion: -1 })).toThrow(RangeError);
    expect(() => resultCacheKey({ ...base, tenantVersion: '' })).toThrow(RangeError);
    expect(() => resultCacheKey({ ...base, tenantVersion: 'a:b' })).toThrow(RangeError);
    expect(() => resultCacheKey({ ...base, tenant: 'a:b' })).toThrow(RangeError);
  });

  it('cache keys - embedding key names the tenant and the model and hashes the text', () => {
    expect(embeddingCacheKey('acme', 'local-hash-v1', 'hello')).toBe(
      `e:acme:local-hash-v1:${sha256Hex('hello')}`,
    );
    expect(embeddingCacheKey('acme', 'local-hash-v1-256', 'hello')).not.toBe(
      embeddingCacheKey('acme', 'local-hash-v1', 'hello'),
    );
    // Tenants never share an entry: a hit must not tell one tenant what another searched.
    expect(embeddingCacheKey('globex', 'local-hash-v1', 'hello')).not.toBe(
      embeddingCacheKey('acme', 'local-hash-v1', 'hello'),
    );
    expect(() => embeddingCacheKey('a:b', 'local-hash-v1', 'hello')).toThrow(RangeError);
  });
});
