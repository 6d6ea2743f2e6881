/**
 * @module types
 * The `RoutingTable` interface: which regions exist and where they answer, where each
 * tenant lives, and which API key belongs to which tenant. Embedded default: in memory,
 * seeded from `regions/`; production: one DynamoDB table. Both pass one conformance suite.
 */
import type { ApiKeyInput, ApiKeyRecord, CreatedApiKey, PutApiKeyOptions } from './api-keys.ts';
import type { RegionConfig, RegionRecord, RegionStatus, TenantPolicy, TenantPolicyInput } from './schemas.ts';

export interface PutTenantOptions {
  /**
   * Conditional write: the version the caller read (0 = the tenant must not exist yet).
   * Omitted = unconditional. A mismatch throws `version_conflict`: of two writers racing
   * on the same version, exactly one wins.
   */
  expectedVersion?: number;
}

export interface ControlRow {
  name: string;
  value: unknown;
  version: number;
}

export interface RoutingTable {
  readonly kind: string;
  getRegion(id: string): Promise<RegionRecord | undefined>;
  listRegions(): Promise<RegionRecord[]>;
  /** Creates or replaces a region's configuration, keeping its status and endpoint. */
  putRegion(config: RegionConfig): Promise<RegionRecord>;
  setRegionStatus(id: string, status: RegionStatus, endpoint?: string): Promise<RegionRecord>;

  getTenant(tenant: string): Promise<TenantPolicy | undefined>;
  listTenants(): Promise<TenantPolicy[]>;
  /** Validates placement and residency against the known regions, then writes. */
  putTenant(policy: TenantPolicyInput, options?: PutTenantOptions): Promise<TenantPolicy>;

  /**
   * Stores a configured key (seeding: tenants.json, MEMMESH_API_KEYS), only as its hash;
   * idempotent, and outside the two-active-keys rule, which is the admin API's. Without
   * scopes the key may read and write.
   */
  putApiKey(apiKey: string, tenant: string, options?: PutApiKeyOptions): Promise<void>;
  deleteApiKey(apiKey: string): Promise<void>;
  /** The tenant of an active (unexpired) key. */
  tenantOfApiKey(apiKey: string): Promise<string | undefined>;
  /** The record of a key, expired or not (the caller says which), looked up by its hash. */
  apiKeyOf(apiKey: string): Promise<ApiKeyRecord | undefined>;
  /**
   * Makes a new key for an existing tenant (`not_found` otherwise) and answers it once. A
   * tenant with two active keys gets `conflict`: of two creates racing for the last slot,
   * exactly one wins.
   */
  createApiKey(input: ApiKeyInput): Promise<CreatedApiKey>;
  /** A tenant's keys, expired ones included, oldest first. */
  listApiKeys(tenant: string): Promise<ApiKeyRecord[]>;
  /** Removes a key by its public id; `not_found` when the tenant has no such key. */
  revokeApiKey(tenant: string, keyId: string): Promise<ApiKeyRecord>;

  /** Reserved for coordination such as re-indexing: a versioned value per name. */
  getControl(name: string): Promise<ControlRow | undefined>;
  putControl(name: string, value: unknown, expectedVersion: number): Promise<ControlRow>;

  close(): Promise<void>;
}
