/**
 * @module cached-table
 * A read cache in front of any RoutingTable, for the hot path (every request looks up its
 * API key and its tenant's policy). Entries live `ttlMs`; a stale entry is served while a
 * refresh runs in the background, and a failed refresh keeps the last known value, so an
 * outage of the table does not stop requests. Writes go through and drop what they change.
 */
import type { RoutingTable } from './types.ts';

export interface CachedRoutingTableOptions {
  ttlMs: number;
  entriesMax?: number;
  onRefreshError?: (err: unknown) => void;
}

export const DEFAULT_ROUTING_CACHE_ENTRIES_MAX = 100_000;

export function withReadCache(table: RoutingTable, options: CachedRoutingTableOptions): RoutingTable {
  const entriesMax = options.entriesMax ?? DEFAULT_ROUTING_CACHE_ENTRIES_MAX;
  const entries = new Map<string, { value: unknown; at: number; refreshing: boolean }>();

  const store = (key: string, value: unknown) => {
    if (entries.size >= entriesMax) entries.delete(entries.keys().next().value as string);
    entries.set(key, { value, at: Date.now(), refreshing: false });
    return value;
  };
  const cached = async <T>(key: string, load: () => Promise<T>): Promise<T> => {
    const entry = entries.get(key);
    if (!entry) return store(key, await load()) as T;
    if (Date.now() - entry.at > options.ttlMs && !entry.refreshing) {
      entry.refreshing = true;
      load().then(
        (value) => store(key, value),
        (err: unknown) => {
          entry.refreshing = false;
          options.onRefreshError?.(err);
        },
      );
    }
    return entry.value as T;
  };
  const drop = (...keys: string[]) => {
    for (const key of keys) entries.delete(key);
  };

  return {
    kind: `${table.kind}+cache`,
    getRegion: (id) => cached(`region:${id}`, () => table.getRegion(id)),
    listRegions: () => cached('regions', () => table.listRegions()),
    async putRegion(config) {
      drop(`region:${config.id}`, 'regions');
      return table.putRegion(config);
    },
    async setRegionStatus(id, status, endpoint) {
      drop(`region:${id}`, 'regions');
      return table.setRegionStatus(id, status, endpoint);
    },
    getTenant: (tenant) => cached(`tenant:${tenant}`, () => table.getTenant(tenant)),
    listTenants: () => cached('tenants', () => table.listTenants()),
    async putTenant(policy, putOptions) {
      drop(`tenant:${policy.tenant}`, 'tenants');
      return table.putTenant(policy, putOptions);
    },
    async putApiKey(apiKey, tenant) {
      drop(`key:${apiKey}`);
      return table.putApiKey(apiKey, tenant);
    },
    async deleteApiKey(apiKey) {
      drop(`key:${apiKey}`);
      return table.deleteApiKey(apiKey);
    },
    tenantOfApiKey: (apiKey) => cached(`key:${apiKey}`, () => table.tenantOfApiKey(apiKey)),
    // Control rows coordinate work between processes: always read fresh.
    getControl: (name) => table.getControl(name),
    putControl: (name, value, expectedVersion) => table.putControl(name, value, expectedVersion),
    close: () => table.close(),
  };
}
