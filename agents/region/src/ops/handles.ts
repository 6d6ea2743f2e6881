/**
 * @module handles
 * What the region's operations share: configuration, parts, NATS handles and the hosted
 * views. Built once by region.ts; policy checks happen before an operation gets it.
 */
import type { Publisher } from '@memmesh/bus';
import type { ChunkOptions } from '@memmesh/core';
import type { Logger } from '@memmesh/telemetry';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { RegionAgentConfig } from '../config/config.ts';
import type { RegionParts } from '../parts/types.ts';
import type { Views } from '../shards/views.ts';
import type { TenantBudgets } from './budgets.ts';
import type { LoadTracker } from './load.ts';
import type { RegionModels } from './models.ts';

export interface RegionHandles {
  config: RegionAgentConfig;
  parts: RegionParts;
  /** The embedders of the region's models, each behind a queue every tenant's work waits in, fairly. */
  models: RegionModels;
  /** Each tenant's budgets of work, charged before the work starts. */
  budgets: TenantBudgets;
  /** Load on this agent's shards and tenants: hot detection, and shedding of searches. */
  load: LoadTracker;
  nc: NatsConnection;
  jsm: JetStreamManager;
  publisher: Publisher;
  /** This region's stream: its own events and those it replicates. */
  stream: string;
  views: Views;
  chunkOptions: ChunkOptions;
  logger: Logger;
}
