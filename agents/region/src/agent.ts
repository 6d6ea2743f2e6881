/**
 * @module agent
 * Assembles a region agent from its configuration: the embedded parts, the region service
 * and the HTTP app. main.ts adds the environment, the listening socket and signals; tests
 * use this directly.
 */
import { createLruCache } from '@memmesh/cache';
import { createLocalEmbedder } from '@memmesh/embed';
import { createEmbeddedIndex } from '@memmesh/index';
import type { Hono } from 'hono';
import { createApp } from './app.ts';
import type { RegionAgentConfig } from './config.ts';
import type { Logger } from './log.ts';
import { openRegion, type Region, type RegionParts } from './region.ts';

export interface RegionAgent {
  readonly config: RegionAgentConfig;
  readonly region: Region;
  readonly app: Hono<{ Variables: { tenant: string } }>;
  close(): Promise<void>;
}

/** The embedded defaults: no server besides nats-server is needed. */
export function embeddedParts(config: RegionAgentConfig): RegionParts {
  return {
    embedder: createLocalEmbedder({ dimensions: config.embedDimensions }),
    cache: createLruCache({ entriesMax: config.cacheEntriesMax }),
    openIndex: (_shard, dir) => createEmbeddedIndex({ dimensions: config.embedDimensions, dir }),
  };
}

export async function startRegionAgent(
  config: RegionAgentConfig,
  log: Logger,
  parts?: RegionParts,
): Promise<RegionAgent> {
  const region = await openRegion(config, parts ?? embeddedParts(config), log);
  const app = createApp({
    region,
    apiKeys: config.apiKeys,
    tenantRequestsPerSecond: config.tenantRequestsPerSecond,
    tenantBurst: config.tenantBurst,
    log,
  });
  return { config, region, app, close: () => region.close() };
}
