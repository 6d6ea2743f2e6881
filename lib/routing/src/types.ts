/**
 * @module types
 * The `RoutingTable` interface: which regions exist and where they answer, where each
 * tenant lives, and which API key belongs to which tenant. Embedded default: in memory,
 * seeded from `regions/`; production: one DynamoDB table. Both pass one conformance suite.
 */
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

  /** Stores only a hash of the key. */
  putApiKey(apiKey: string, tenant: string): Promise<void>;
  deleteApiKey(apiKey: string): Promise<void>;
  tenantOfApiKey(apiKey: string): Promise<string | undefined>;

  /** Reserved for coordination such as re-indexing: a versioned value per name. */
  getControl(name: string): Promise<ControlRow | undefined>;
  putControl(name: string, value: unknown, expectedVersion: number): Promise<ControlRow>;

  close(): Promise<void>;
}
