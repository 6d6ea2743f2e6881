/**
 * @module context
 * What the region's operations share: configuration, parts, NATS handles, the hosted views
 * and the routing table. Built once by region.ts.
 */
import type { Publisher } from '@memmesh/bus';
import type { Cache } from '@memmesh/cache';
import { type ChunkOptions, ErrorCode, MeshError } from '@memmesh/core';
import type { Embedder } from '@memmesh/embed';
import type { VectorIndex } from '@memmesh/index';
import type { RoutingTable, TenantPolicy } from '@memmesh/routing';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { RegionAgentConfig } from './config.ts';
import type { Logger } from './log.ts';
import type { Views } from './views.ts';

export interface RegionParts {
  embedder: Embedder;
  cache: Cache;
  /** Opens (or restores from `dir`) the view of one shard of one origin region. */
  openIndex: (origin: string, shard: string, dir: string | undefined) => Promise<VectorIndex>;
  /** The index backend's name in metrics (`embedded`, `milvus`); `embedded` when omitted. */
  indexBackend?: string;
}

export interface Context {
  config: RegionAgentConfig;
  parts: RegionParts;
  routing: RoutingTable;
  nc: NatsConnection;
  jsm: JetStreamManager;
  publisher: Publisher;
  /** This region's stream: its own events and those it replicates. */
  stream: string;
  views: Views;
  chunkOptions: ChunkOptions;
  log: Logger;
}

/** The tenant's policy, or `wrong_region` when the tenant has none. */
export async function policyOf(ctx: Context, tenant: string): Promise<TenantPolicy> {
  const policy = await ctx.routing.getTenant(tenant);
  if (!policy) throw new MeshError(ErrorCode.WrongRegion, `tenant ${tenant} has no placement policy`);
  return policy;
}

/** Writes are accepted only in the tenant's home region: the one log that orders them. */
export async function requireHome(ctx: Context, tenant: string): Promise<TenantPolicy> {
  const policy = await policyOf(ctx, tenant);
  if (policy.home !== ctx.config.region) {
    throw new MeshError(
      ErrorCode.WrongRegion,
      `writes for tenant ${tenant} go to its home region ${policy.home}, not ${ctx.config.region}`,
    );
  }
  return policy;
}

/** Reads are answered by the home region and the tenant's replica regions. */
export async function requireReadable(ctx: Context, tenant: string): Promise<TenantPolicy> {
  const policy = await policyOf(ctx, tenant);
  if (policy.home !== ctx.config.region && !policy.replicas.includes(ctx.config.region)) {
    throw new MeshError(
      ErrorCode.WrongRegion,
      `tenant ${tenant} is not placed in region ${ctx.config.region}`,
    );
  }
  return policy;
}
