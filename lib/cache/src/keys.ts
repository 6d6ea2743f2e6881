/**
 * @module keys
 * Cache keys for query results and query embeddings (DESIGN §4).
 *
 * Result keys carry the tenant's version. A write bumps that version, so from then on every
 * lookup asks for new keys: stale results are never served, and no write ever has to scan
 * the cache for entries to invalidate (which a shared cache such as Redis could not do
 * cheaply or atomically). Old entries simply stop being asked for and expire by TTL or LRU.
 */
import { type Filter, isTenant, sha256Hex } from '@memmesh/core';

/** A version token is one key segment: no `:`, bounded, never empty. */
const VERSION_TOKEN_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

export interface ResultCacheKeyInput {
  tenant: string;
  /**
   * The tenant's current version in the answering region; part of the key (see above).
   * Either the version number, or an opaque token such as `<epoch>.<version>` when the
   * number alone could repeat (an in-memory counter that restarts while a shared cache
   * still holds keys written before the restart).
   */
  tenantVersion: number | string;
  query: string;
  /** The resolved topK, defaults applied, so that "absent" and "the default" share a key. */
  topK: number;
  filter?: Filter;
  /**
   * Accepted so that a search input can be passed as it is, but not part of the key: a
   * result computed at `tenantVersion` is the same whatever minimum the caller asked for,
   * and the caller only answers from a region whose version already satisfies it.
   */
  minVersion?: number;
  /** The model key the query was embedded with, when the region has had more than one. */
  model?: string | undefined;
}

/** `r:<tenant>:<tenantVersion>:<sha256 of canonical {query, topK, filter}>`. */
export function resultCacheKey(input: ResultCacheKeyInput): string {
  const { tenant, tenantVersion, query, topK, filter, model } = input;
  // A malformed version (NaN, undefined) would pin every query to one key forever and
  // serve stale results, so it is a programmer error and fails loudly.
  if (!isVersion(tenantVersion)) {
    throw new RangeError(
      `result cache key: tenantVersion must be a non-negative integer or match ${VERSION_TOKEN_PATTERN}, got ${JSON.stringify(tenantVersion)}`,
    );
  }
  if (!isTenant(tenant)) throw new RangeError(`result cache key: invalid tenant ${JSON.stringify(tenant)}`);
  // The model only once the tenant's region has had more than one: keys before stay valid.
  const asked = model === undefined ? { query, topK, filter } : { query, topK, filter, model };
  return `r:${tenant}:${tenantVersion}:${sha256Hex(canonicalJson(asked))}`;
}

function isVersion(version: unknown): boolean {
  if (typeof version === 'number') return Number.isSafeInteger(version) && version >= 0;
  return typeof version === 'string' && VERSION_TOKEN_PATTERN.test(version);
}

/**
 * `e:<tenant>:<modelId>:<sha256 of text>`. An embedding depends only on the model and the
 * text, but a cache shared by tenants would tell one tenant, by the speed of its own search,
 * whether another had searched the same words: each tenant has entries of its own.
 */
export function embeddingCacheKey(tenant: string, modelId: string, text: string): string {
  if (!isTenant(tenant))
    throw new RangeError(`embedding cache key: invalid tenant ${JSON.stringify(tenant)}`);
  return `e:${tenant}:${modelId}:${sha256Hex(text)}`;
}

/**
 * JSON with object keys sorted at every depth, so that equal values written with keys in a
 * different order serialise, and therefore hash, identically. Array order is kept, since it
 * is meaningful; undefined properties are dropped, as `JSON.stringify` does.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, sortObjectKeys);
}

function sortObjectKeys(_key: string, value: unknown): unknown {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return value;
  // Keys are unique, so the comparison never needs to return 0. `fromEntries` defines own
  // properties, so even a `__proto__` key stays data rather than becoming a prototype.
  const entries = Object.entries(value).sort(([a], [b]) => (a < b ? -1 : 1));
  return Object.fromEntries(entries);
}
