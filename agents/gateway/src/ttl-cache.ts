/**
 * @module ttl-cache
 * Routing data cached with a TTL and refreshed in the background: a stale value is served
 * while a refresh runs, and a failed refresh keeps the last known value, so a routing-table
 * outage does not stop the gateway. Bounded by `entriesMax`.
 */
import type { Logger } from '@memmesh/region-agent';

export interface TtlCache<A, V> {
  get(key: string, arg: A): Promise<V | undefined>;
}

export const TTL_CACHE_ENTRIES_MAX = 100_000;

export function createTtlCache<A, V>(
  load: (key: string, arg: A) => Promise<V | undefined>,
  ttlMs: number,
  log: Logger,
): TtlCache<A, V> {
  const entries = new Map<string, { value: V | undefined; at: number; refreshing: boolean }>();
  const fetchInto = async (key: string, arg: A) => {
    const value = await load(key, arg);
    if (entries.size >= TTL_CACHE_ENTRIES_MAX) entries.delete(entries.keys().next().value as string);
    entries.set(key, { value, at: Date.now(), refreshing: false });
    return value;
  };
  return {
    async get(key, arg) {
      const entry = entries.get(key);
      if (!entry) return fetchInto(key, arg);
      if (Date.now() - entry.at > ttlMs && !entry.refreshing) {
        entry.refreshing = true;
        fetchInto(key, arg).catch((err: unknown) => {
          entry.refreshing = false;
          log.warn('routing refresh failed; serving the last known value', { err });
        });
      }
      return entry.value;
    },
  };
}
