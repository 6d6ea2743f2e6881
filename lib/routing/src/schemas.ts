/**
 * @module schemas
 * Regions and tenant policies as data. The same schemas validate the files under
 * `regions/`, rows read back from the routing table, and policy updates, so a bad value is
 * refused wherever it enters.
 */
import { ApiKeySchema, REGION_PATTERN, SHARD_COUNT_MAX, TenantSchema, TtlSecondsSchema } from '@memmesh/core';
import { z } from 'zod';

export const RegionIdSchema = z.string().regex(REGION_PATTERN, 'region ids look like us-east-1');

/** Residency zones are short lower-case names: `us`, `eu`, `apac`. */
export const ResidencySchema = z.string().regex(/^[a-z]{2,8}$/, 'residency zones are 2-8 lower-case letters');

export const RegionConfigSchema = z.strictObject({
  id: RegionIdSchema,
  /** Used as the first latency guess before any probe has been measured. */
  location: z.strictObject({
    latitude: z.number().min(-90).max(90),
    longitude: z.number().min(-180).max(180),
  }),
  residency: ResidencySchema,
  nats: z.strictObject({
    /** The JetStream cluster of the region; streams of the region are placed in it. */
    cluster: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/),
    /** Servers in the region's cluster when the local mesh or the test kit starts it. */
    servers: z.number().int().min(1).max(5),
  }),
  shardCount: z.number().int().min(1).max(SHARD_COUNT_MAX),
  streamReplicas: z.number().int().min(1).max(5),
  backends: z.strictObject({
    index: z.enum(['embedded', 'milvus']),
    cache: z.enum(['lru', 'redis']),
    embedder: z.enum(['local', 'minilm', 'openai']),
  }),
});
export type RegionConfig = z.infer<typeof RegionConfigSchema>;

export const RegionStatusSchema = z.enum(['up', 'down', 'draining']);
export type RegionStatus = z.infer<typeof RegionStatusSchema>;

/** A region as the routing table knows it: its configuration plus where and how it runs. */
export const RegionRecordSchema = z.strictObject({
  config: RegionConfigSchema,
  /** Base URL of the region's agents (behind the region's load balancer in production). */
  endpoint: z.url().optional(),
  status: RegionStatusSchema,
  updatedAtMs: z.number().int().min(0),
});
export type RegionRecord = z.infer<typeof RegionRecordSchema>;

export const TenantPolicyInputSchema = z.strictObject({
  tenant: TenantSchema,
  /** Every write goes here. */
  home: RegionIdSchema,
  /** Read copies, fed by JetStream sourcing from the home stream. */
  replicas: z.array(RegionIdSchema).max(8).default([]),
  /** When set, no region outside this zone may ever hold the tenant's data, log included. */
  residency: ResidencySchema.optional(),
  /**
   * Default time to live per scope kind, for memories written without ttlSeconds or
   * expiresAt: a memory with a sessionId gets sessionSeconds, else one with a userId gets
   * userSeconds, else one with an agentId gets agentSeconds (the most specific kind that has
   * a default). An explicit expiry on the memory always wins.
   */
  ttl: z
    .strictObject({
      sessionSeconds: TtlSecondsSchema.optional(),
      userSeconds: TtlSecondsSchema.optional(),
      agentSeconds: TtlSecondsSchema.optional(),
    })
    .optional(),
});
export type TenantPolicyInput = z.input<typeof TenantPolicyInputSchema>;

export const TenantPolicySchema = TenantPolicyInputSchema.extend({
  /** Bumped by every change; conditional writes compare it. */
  version: z.number().int().min(1),
  updatedAtMs: z.number().int().min(0),
});
export type TenantPolicy = z.infer<typeof TenantPolicySchema>;

/** The demo tenants file: policies plus the API keys that map to them. */
export const TenantsFileSchema = z.strictObject({
  tenants: z.array(
    TenantPolicyInputSchema.extend({
      apiKeys: z.array(ApiKeySchema).min(1),
    }),
  ),
});
export type TenantsFile = z.infer<typeof TenantsFileSchema>;
