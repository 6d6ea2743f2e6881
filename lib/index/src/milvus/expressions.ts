/**
 * @module expressions
 * Milvus boolean expressions built from memmesh values: escaped string literals, the filter
 * facts a chunk row carries, and the expression of a search's filter.
 *
 * Metadata keys are free text and Milvus's JSON paths do not take every key (Milvus advises
 * letters, digits and underscores only), so filter facts are kept in an ARRAY of VARCHAR, each
 * `m` or `s` followed by the JSON of `[key, value]`, and a filter becomes
 * `array_contains_all(facts, [...])`. That is exact, typed equality, as in ../filter.ts (1, "1"
 * and true differ), and values only ever appear inside escaped string literals.
 */
import type { Filter, Metadata, Scope } from '@memmesh/core';
import { EXPIRY_KEY, FACT_BYTES_MAX, FACTS_MAX, utf8Bytes } from './schema.ts';

const LITERAL_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\\\',
  '"': '\\"',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

/**
 * A Milvus string literal. Only these five characters are escaped: they are the escapes
 * both Milvus's parser (Go, strconv.Unquote) and Milvus Lite's accept, and the only ones a
 * double-quoted literal cannot hold raw. Every other character, Unicode included, is literal.
 */
export function milvusString(value: string): string {
  return `"${value.replace(/[\\"\n\r\t]/g, (c) => LITERAL_ESCAPES[c] as string)}"`;
}

/**
 * The facts a filter can test: `m[key,value]` per metadata entry and `s[field,value]` per
 * scope field, as JSON so the value's type is part of it. Undefined values are no facts, as
 * ../filter.ts drops undefined filter fields.
 */
export function filterFacts(metadata: Metadata | undefined, scope: Scope | undefined): string[] {
  const facts: string[] = [];
  for (const [key, value] of Object.entries(metadata ?? {})) {
    if (value !== undefined) facts.push(`m${JSON.stringify([key, value])}`);
  }
  for (const [key, value] of Object.entries(scope ?? {})) {
    if (value !== undefined) facts.push(`s${JSON.stringify([key, value])}`);
  }
  return facts;
}

/** The Milvus expression of a search's filter; undefined when no document could match. */
export function filterExpression(filter: Filter | undefined): string | undefined | null {
  const facts = filterFacts(filter?.metadata, filter?.scope);
  if (facts.length === 0) return undefined;
  // A fact no document can hold (too long to store) matches nothing.
  if (facts.length > FACTS_MAX || facts.some((f) => utf8Bytes(f) > FACT_BYTES_MAX)) return null;
  return `array_contains_all(facts, [${facts.map(milvusString).join(', ')}])`;
}

/**
 * Rows unexpired at `nowMs`. A missing key must count as "never expires": Milvus treats a
 * comparison with a missing JSON key as null, so `not (expiry <= now)` would drop those rows
 * too (checked against Milvus Lite); hence the explicit `not exists`.
 */
export function liveExpression(nowMs: number): string {
  const key = `scope[${milvusString(EXPIRY_KEY)}]`;
  return `(not exists ${key} || ${key} > ${Math.floor(nowMs)})`;
}

/** Rows whose expiry is at or before `nowMs`. */
export function expiredExpression(nowMs: number): string {
  const key = `scope[${milvusString(EXPIRY_KEY)}]`;
  return `(exists ${key} && ${key} <= ${Math.floor(nowMs)})`;
}
