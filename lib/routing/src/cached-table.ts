/**
 * @module cached-table
 * A read cache in front of any RoutingTable, for the hot path (every request looks up its
 * API key and its tenant's policy). Entries live `ttlMs`; a stale entry is served while a
 * refresh runs in the background, and a failed refresh keeps the last known value, so an
 * outage of the table does not stop requests. Writes go through and drop what they change.
 *
 * API keys are the exception to serving stale: a key revoked elsewhere (another gateway,
 * an agent, an operator's tool) must stop working within a stated bound, so a key entry
 * older than `ttlMs` is re-read before it is used. A revoked key therefore stops working
 * within `ttlMs` plus one table read in every process; only while the table cannot be read
 * is the last known record served (then nothing could be revoked anyway). A revoke through
 * this wrapper drops its entry at once.
 */
import { type ApiKeyRecord, apiKeyHashOf, isApiKeyActive } from './api-keys.ts';
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
  /** Like `cached`, but an entry past its TTL is re-read before use (API keys). */
  const fresh = async <T>(key: string, load: () => Promise<T>): Promise<T> => {
    const entry = entries.get(key);
    if (entry && Date.now() - entry.at <= options.ttlMs) return entry.value as T;
    try {
      return store(key, await load()) as T;
    } catch (err) {
      if (!entry) throw err;
      options.onRefreshError?.(err);
      return entry.value as T;
    }
  };
  const drop = (...keys: string[]) => {
    for (const key of keys) entries.delete(key);
  };
  // Keyed by the hash, so that the cache holds no presented key, good or bad.
  const keyEntry = (apiKey: string) => `key:${apiKeyHashOf(apiKey)}`;
  const apiKeyOf = (apiKey: string) =>
    fresh(keyEntry(apiKey), () => table.apiKeyOf(apiKey)) as Promise<ApiKeyRecord | undefined>;
  /** Revoking by id: the entry is found by the record it holds (revokes are rare; the scan is bounded). */
  const dropKeyId = (tenant: string, keyId: string) => {
    for (const [key, entry] of entries) {
      const record = entry.value as ApiKeyRecord | undefined;
      if (key.startsWith('key:') && record?.tenant === tenant && record.keyId === keyId) entries.delete(key);
    }
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
    async putApiKey(apiKey, tenant, keyOptions) {
      drop(keyEntry(apiKey));
      return table.putApiKey(apiKey, tenant, keyOptions);
    },
    async deleteApiKey(apiKey) {
      drop(keyEntry(apiKey));
      return table.deleteApiKey(apiKey);
    },
    async tenantOfApiKey(apiKey) {
      const record = await apiKeyOf(apiKey);
      return record && isApiKeyActive(record, Date.now()) ? record.tenant : undefined;
    },
    apiKeyOf,
    // A new key was in no entry (it is random); listings are the admin API's, read fresh.
    createApiKey: (input) => table.createApiKey(input),
    listApiKeys: (tenant) => table.listApiKeys(tenant),
    async revokeApiKey(tenant, keyId) {
      const revoked = await table.revokeApiKey(tenant, keyId);
      dropKeyId(tenant, keyId);
      return revoked;
    },
    // Control rows coordinate work between processes: always read fresh.
    getControl: (name) => table.getControl(name),
    putControl: (name, value, expectedVersion) => table.putControl(name, value, expectedVersion),
    close: () => table.close(),
  };
}
