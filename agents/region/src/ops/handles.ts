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

export interface RegionHandles {
  config: RegionAgentConfig;
  parts: RegionParts;
  nc: NatsConnection;
  jsm: JetStreamManager;
  publisher: Publisher;
  /** This region's stream: its own events and those it replicates. */
  stream: string;
  views: Views;
  chunkOptions: ChunkOptions;
  logger: Logger;
}
