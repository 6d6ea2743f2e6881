/**
 * @module types
 * The `Cache` interface: a byte-string key-value cache with TTLs. Results are cached under
 * versioned keys (see keys.ts), so a write never needs to find and delete stale entries:
 * it bumps the tenant's version and old keys simply stop being asked for.
 */

export interface Cache {
  readonly kind: string;
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string, ttlMs: number): Promise<void>;
  delete(key: string): Promise<void>;
  /**
   * Up to `max` keys that start with `prefix`, in no particular order: what an erasure must
   * find (a tenant's cached results and query embeddings), never a lookup path of queries.
   */
  keys(prefix: string, max: number): Promise<string[]>;
  close(): Promise<void>;
}
