import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { LIMITS } from './limits.ts';
import {
  ApiKeySchema,
  BatchInputSchema,
  describeIssues,
  EVENT_SCHEMA_VERSION,
  MemoryEventSchema,
  MemoryInputSchema,
  SearchInputSchema,
} from './schemas.ts';
import { encodeVector } from './vectors.ts';

const goodMemory = {
  id: 'notes/2024-05-01.md',
  text: 'The deploy freeze starts on Friday.',
  metadata: { kind: 'note', priority: 2, pinned: true },
  scope: { agentId: 'planner', userId: 'u-1', sessionId: 's-1' },
  ifVersion: 0,
};

/** The `path: message` lines of a failed parse, or [] when it succeeded. */
function issuesOf(schema: z.ZodType, value: unknown): { path: string; message: string }[] {
  const result = schema.safeParse(value);
  return result.success ? [] : describeIssues(result.error);
}

const accepts = (schema: z.ZodType, value: unknown): boolean => schema.safeParse(value).success;

describe('MemoryInputSchema', () => {
  it('schemas - accepts a complete body and a minimal one', () => {
    expect(MemoryInputSchema.parse(goodMemory)).toEqual(goodMemory);
    expect(MemoryInputSchema.parse({ text: 'x' })).toEqual({ text: 'x' });
  });

  it('schemas - rejects unknown fields at the top and in the scope', () => {
    expect(issuesOf(MemoryInputSchema, { ...goodMemory, extra: 1 })).toEqual([
      { path: '(body)', message: expect.stringContaining('extra') },
    ]);
    expect(issuesOf(MemoryInputSchema, { text: 'x', scope: { agentId: 'a', team: 't' } })).toEqual([
      { path: 'scope', message: expect.stringContaining('team') },
    ]);
  });

  it('schemas - rejects missing, empty and whitespace-only text', () => {
    for (const text of [undefined, '', ' ', '\n\t  ', '\u00a0\u2003']) {
      expect(accepts(MemoryInputSchema, { text }), JSON.stringify(text)).toBe(false);
    }
    expect(issuesOf(MemoryInputSchema, { text: '  ' })).toEqual([
      { path: 'text', message: 'text must not be empty' },
    ]);
  });

  it('schemas - the text limit counts UTF-8 bytes, not characters', () => {
    const max = LIMITS.textBytesMax;
    expect(accepts(MemoryInputSchema, { text: 'a'.repeat(max) })).toBe(true);
    expect(accepts(MemoryInputSchema, { text: 'a'.repeat(max + 1) })).toBe(false);
    // 'é' is 2 bytes and 1 UTF-16 unit; '😀' is 4 bytes and 2 units.
    expect(accepts(MemoryInputSchema, { text: 'é'.repeat(max / 2) })).toBe(true);
    expect(accepts(MemoryInputSchema, { text: 'é'.repeat(max / 2 + 1) })).toBe(false);
    expect(accepts(MemoryInputSchema, { text: '😀'.repeat(max / 4) })).toBe(true);
    const over = `${'😀'.repeat(max / 4)}x`;
    expect(over.length).toBeLessThan(max);
    expect(issuesOf(MemoryInputSchema, { text: over })).toEqual([
      { path: 'text', message: expect.stringContaining(`${max} bytes`) },
    ]);
  });

  it('schemas - metadata values are scalars: nested objects, arrays and null are rejected', () => {
    for (const value of [{ a: 1 }, [1, 2], null, undefined, Number.POSITIVE_INFINITY, Number.NaN]) {
      expect(accepts(MemoryInputSchema, { text: 'x', metadata: { k: value } }), String(value)).toBe(false);
    }
    expect(issuesOf(MemoryInputSchema, { text: 'x', metadata: { ok: 1, deep: { a: 1 } } })).toEqual([
      { path: 'metadata.deep', message: expect.any(String) },
    ]);
  });

  it('schemas - metadata keys are bounded in number and length', () => {
    const keys = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, i]));
    expect(accepts(MemoryInputSchema, { text: 'x', metadata: keys(LIMITS.metadataKeysMax) })).toBe(true);
    expect(issuesOf(MemoryInputSchema, { text: 'x', metadata: keys(LIMITS.metadataKeysMax + 1) })).toEqual([
      { path: 'metadata', message: `metadata has more than ${LIMITS.metadataKeysMax} keys` },
    ]);
    expect(accepts(MemoryInputSchema, { text: 'x', metadata: { '': 1 } })).toBe(false);
    const longKey = 'k'.repeat(LIMITS.labelLengthMax + 1);
    expect(accepts(MemoryInputSchema, { text: 'x', metadata: { [longKey]: 1 } })).toBe(false);
  });

  it('schemas - metadata is bounded in serialized bytes', () => {
    // Each value alone is within its own limit (labelLengthMax * 8); together they are too big.
    const value = 'v'.repeat(LIMITS.labelLengthMax * 8);
    expect(accepts(MemoryInputSchema, { text: 'x', metadata: { a: value } })).toBe(true);
    expect(accepts(MemoryInputSchema, { text: 'x', metadata: { a: `${value}v` } })).toBe(false);
    expect(issuesOf(MemoryInputSchema, { text: 'x', metadata: { a: value, b: value } })).toEqual([
      { path: 'metadata', message: `metadata is larger than ${LIMITS.metadataBytesMax} bytes` },
    ]);
    // Bytes, not characters: 700 'é' are 1400 bytes, so two such values exceed 2 KiB.
    const accented = 'é'.repeat(700);
    expect(accepts(MemoryInputSchema, { text: 'x', metadata: { a: accented } })).toBe(true);
    expect(accepts(MemoryInputSchema, { text: 'x', metadata: { a: accented, b: accented } })).toBe(false);
  });

  it('schemas - scope fields are non-empty bounded strings', () => {
    for (const scope of [
      { agentId: '' },
      { userId: 'u'.repeat(LIMITS.labelLengthMax + 1) },
      { sessionId: 42 },
      { agentId: null },
    ]) {
      expect(accepts(MemoryInputSchema, { text: 'x', scope }), JSON.stringify(scope)).toBe(false);
    }
    expect(issuesOf(MemoryInputSchema, { text: 'x', scope: { agentId: '' } })[0]?.path).toBe('scope.agentId');
    expect(accepts(MemoryInputSchema, { text: 'x', scope: {} })).toBe(true);
  });

  it('schemas - ids follow DOC_ID_PATTERN and ifVersion is a safe non-negative integer', () => {
    for (const id of ['', ' x', '-x', 'a b', 'x'.repeat(LIMITS.idLengthMax + 1)]) {
      expect(accepts(MemoryInputSchema, { text: 'x', id }), id).toBe(false);
    }
    for (const ifVersion of [-1, 1.5, Number.MAX_SAFE_INTEGER + 1, '3']) {
      expect(accepts(MemoryInputSchema, { text: 'x', ifVersion }), String(ifVersion)).toBe(false);
    }
    expect(accepts(MemoryInputSchema, { text: 'x', ifVersion: Number.MAX_SAFE_INTEGER })).toBe(true);
  });
});

describe('BatchInputSchema', () => {
  it('schemas - a batch holds 1 to batchDocsMax memories and reports the failing index', () => {
    const memories = (n: number) => Array.from({ length: n }, (_, i) => ({ text: `m${i}` }));
    expect(accepts(BatchInputSchema, { memories: memories(1) })).toBe(true);
    expect(accepts(BatchInputSchema, { memories: memories(LIMITS.batchDocsMax) })).toBe(true);
    expect(accepts(BatchInputSchema, { memories: [] })).toBe(false);
    expect(accepts(BatchInputSchema, { memories: memories(LIMITS.batchDocsMax + 1) })).toBe(false);
    expect(issuesOf(BatchInputSchema, { memories: [{ text: 'ok' }, { text: ' ' }] })).toEqual([
      { path: 'memories.1.text', message: 'text must not be empty' },
    ]);
  });
});

describe('SearchInputSchema', () => {
  it('schemas - topK is an integer from 1 to topKMax, and optional', () => {
    expect(accepts(SearchInputSchema, { query: 'q' })).toBe(true);
    for (const topK of [1, LIMITS.topKDefault, LIMITS.topKMax]) {
      expect(accepts(SearchInputSchema, { query: 'q', topK }), String(topK)).toBe(true);
    }
    for (const topK of [0, -1, LIMITS.topKMax + 1, 2.5, '10']) {
      expect(accepts(SearchInputSchema, { query: 'q', topK }), String(topK)).toBe(false);
    }
  });

  it('schemas - the query is non-empty and bounded in bytes; filters are strict', () => {
    expect(accepts(SearchInputSchema, { query: ' \n' })).toBe(false);
    expect(accepts(SearchInputSchema, { query: 'q'.repeat(LIMITS.queryBytesMax) })).toBe(true);
    expect(accepts(SearchInputSchema, { query: 'é'.repeat(LIMITS.queryBytesMax / 2 + 1) })).toBe(false);
    expect(
      accepts(SearchInputSchema, {
        query: 'q',
        filter: { metadata: { kind: 'note' }, scope: { userId: 'u' } },
      }),
    ).toBe(true);
    expect(accepts(SearchInputSchema, { query: 'q', filter: { tags: ['a'] } })).toBe(false);
    expect(accepts(SearchInputSchema, { query: 'q', minVersion: -1 })).toBe(false);
    expect(accepts(SearchInputSchema, { query: 'q', extra: true })).toBe(false);
  });
});

describe('MemoryEventSchema', () => {
  const source = { region: 'us-east-1', agent: 'us-east-1-a0' };
  const upsert = {
    v: EVENT_SCHEMA_VERSION,
    type: 'upsert',
    tenant: 'acme',
    id: 'doc-1',
    text: 'hello world',
    chunks: [{ start: 0, end: 11, vector: encodeVector(new Float32Array([0.6, 0.8])) }],
    metadata: {},
    scope: {},
    model: { id: 'test-embedder', dim: 2 },
    ts: 1_700_000_000_000,
    source,
  };
  const del = {
    v: EVENT_SCHEMA_VERSION,
    type: 'delete',
    tenant: 'acme',
    id: 'doc-1',
    ts: 1_700_000_000_001,
    source,
  };

  it('schemas - accepts an upsert and a delete, typed by their type', () => {
    const parsedUpsert = MemoryEventSchema.parse(upsert);
    expect(parsedUpsert).toEqual(upsert);
    expect(parsedUpsert.type === 'upsert' && parsedUpsert.chunks).toHaveLength(1);
    expect(MemoryEventSchema.parse(del)).toEqual(del);
  });

  it('schemas - rejects unknown versions and types', () => {
    expect(EVENT_SCHEMA_VERSION).toBe(1);
    for (const event of [upsert, del]) {
      expect(accepts(MemoryEventSchema, { ...event, v: 2 })).toBe(false);
      expect(accepts(MemoryEventSchema, { ...event, v: 0 })).toBe(false);
      const { v: _, ...unversioned } = event;
      expect(accepts(MemoryEventSchema, unversioned)).toBe(false);
    }
    expect(accepts(MemoryEventSchema, { ...del, type: 'purge' })).toBe(false);
  });

  it('schemas - events are strict and bounded', () => {
    expect(accepts(MemoryEventSchema, { ...del, extra: 1 })).toBe(false);
    expect(accepts(MemoryEventSchema, { ...del, source: { ...source, host: 'x' } })).toBe(false);
    expect(accepts(MemoryEventSchema, { ...del, tenant: 'Acme' })).toBe(false);
    expect(accepts(MemoryEventSchema, { ...upsert, chunks: [] })).toBe(false);
    const chunk = upsert.chunks[0]!;
    expect(accepts(MemoryEventSchema, { ...upsert, chunks: Array(LIMITS.chunksPerDocMax).fill(chunk) })).toBe(
      true,
    );
    expect(
      accepts(MemoryEventSchema, { ...upsert, chunks: Array(LIMITS.chunksPerDocMax + 1).fill(chunk) }),
    ).toBe(false);
    expect(accepts(MemoryEventSchema, { ...upsert, chunks: [{ ...chunk, vector: '' }] })).toBe(false);
    expect(accepts(MemoryEventSchema, { ...upsert, chunks: [{ ...chunk, start: -1 }] })).toBe(false);
    expect(accepts(MemoryEventSchema, { ...upsert, model: { id: 'm', dim: 0 } })).toBe(false);
    expect(accepts(MemoryEventSchema, { ...upsert, ts: 1.5 })).toBe(false);
  });
});

describe('describeIssues', () => {
  it('describeIssues - joins nested paths with dots and names the root (body)', () => {
    expect(issuesOf(MemoryInputSchema, 'not an object')).toEqual([
      { path: '(body)', message: expect.any(String) },
    ]);
    const issues = issuesOf(BatchInputSchema, {
      memories: [{ text: 'x', metadata: { k: { nested: true } }, scope: { userId: '' } }],
    });
    expect(issues.map((i) => i.path).sort()).toEqual(['memories.0.metadata.k', 'memories.0.scope.userId']);
    for (const issue of issues) expect(issue.message.length).toBeGreaterThan(0);
  });
});

describe('schemas - reserved metadata keys', () => {
  // __proto__ never reaches a schema: zod skips it, so the HTTP layer refuses it (lib/http body.ts).
  it('schemas - constructor and prototype are refused as metadata keys, in writes and filters', () => {
    for (const key of ['constructor', 'prototype']) {
      const metadata = JSON.parse(`{"${key}": "x", "team": "ops"}`);
      expect(MemoryInputSchema.safeParse({ text: 'hello', metadata }).success).toBe(false);
      expect(SearchInputSchema.safeParse({ query: 'hello', filter: { metadata } }).success).toBe(false);
    }
    expect(MemoryInputSchema.safeParse({ text: 'hello', metadata: { proto: 'x' } }).success).toBe(true);
  });
});

describe('schemas - configured keys', () => {
  it('schemas - keys shorter than 12, with whitespace, or of fewer than 8 different characters are refused', () => {
    for (const weak of ['short-key', 'aaaaaaaaaaaa', '121212121212', 'has a space in it', '']) {
      expect(ApiKeySchema.safeParse(weak).success, weak).toBe(false);
    }
    for (const fine of ['acme-dev-key', 'f3b9c2d7e1a4c8b6d0e2f4a6b8c0d2e4']) {
      expect(ApiKeySchema.safeParse(fine).success, fine).toBe(true);
    }
  });
});
