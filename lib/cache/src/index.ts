/**
 * @module @memmesh/cache
 * The `Cache` interface, its embedded default (an in-process LRU with TTLs) and the versioned
 * cache keys. The conformance suite every `Cache` passes is the subpath
 * `@memmesh/cache/conformance`, so production code never loads vitest.
 */
export { canonicalJson, embeddingCacheKey, type ResultCacheKeyInput, resultCacheKey } from './keys.ts';
export { createLruCache, DEFAULT_LRU_CACHE_OPTIONS, type LruCacheOptions } from './lru-cache.ts';
export { createRedisCache, DEFAULT_REDIS_CACHE_OPTIONS, type RedisCacheOptions } from './redis-cache.ts';
export {
  createTenantVersions,
  DEFAULT_TENANT_VERSIONS_OPTIONS,
  type TenantVersions,
  type TenantVersionsOptions,
} from './tenant-versions.ts';
export type { Cache } from './types.ts';
