/**
 * @module @memmesh/routing
 * Where everything lives: region configurations, tenant policies (home, replicas,
 * residency), API keys (hashed, scoped, at most two active per tenant), and the RoutingTable
 * that stores them. The conformance suite is
 * the subpath `@memmesh/routing/conformance`, the DynamoDB table `@memmesh/routing/dynamodb`.
 */

export {
  ACTIVE_API_KEYS_PER_TENANT_MAX,
  API_KEY_ID_PATTERN,
  API_KEY_LIFETIME_MS_MAX,
  API_KEY_RECORDS_PER_TENANT_MAX,
  API_KEY_SCOPES,
  ApiKeyIdSchema,
  type ApiKeyInput,
  ApiKeyInputSchema,
  type ApiKeyRecord,
  ApiKeyRecordSchema,
  type ApiKeyScope,
  ApiKeyScopeSchema,
  apiKeyHashOf,
  apiKeyIdOf,
  type CreatedApiKey,
  DEFAULT_API_KEY_SCOPES,
  isApiKeyActive,
  type PutApiKeyOptions,
} from './api-keys.ts';
export {
  type CachedRoutingTableOptions,
  DEFAULT_ROUTING_CACHE_ENTRIES_MAX,
  withReadCache,
} from './cached-table.ts';
// The DynamoDB table itself is the subpath `@memmesh/routing/dynamodb`: importing this index
// does not load the AWS SDK (about 30 MB), which processes on the in-memory table never use.
export type { DynamoRoutingTableOptions, OpenDynamoRoutingTableOptions } from './dynamodb-table.ts';
export { loadDynamoRoutingTable } from './load-dynamodb.ts';
export { createMemoryRoutingTable, type MemoryRoutingTableOptions } from './memory-table.ts';
export { checkPlacement, readRegionsOf } from './placement.ts';
export {
  type RegionConfig,
  RegionConfigSchema,
  RegionIdSchema,
  type RegionRecord,
  RegionRecordSchema,
  type RegionStatus,
  RegionStatusSchema,
  ResidencySchema,
  type TenantPolicy,
  type TenantPolicyInput,
  TenantPolicyInputSchema,
  TenantPolicySchema,
  type TenantsFile,
  TenantsFileSchema,
} from './schemas.ts';
export { loadTopology, openSeededRoutingTable, seedRoutingTable, type Topology } from './seed.ts';
export type { ControlRow, PutTenantOptions, RoutingTable } from './types.ts';
