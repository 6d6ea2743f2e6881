/**
 * @module parts
 * The pluggable parts of a region (DESIGN §5): embedder, cache and the factory of shard
 * indexes, as the region's record and the configuration choose them. The embedded defaults
 * need no server besides nats-server; a production backend is never replaced by an embedded
 * one in silence.
 */
import { createLruCache, createRedisCache } from '@memmesh/cache';
import {
  createLocalEmbedder,
  createMiniLmEmbedder,
  createOpenAiEmbedder,
  type Embedder,
} from '@memmesh/embed';
import { createEmbeddedIndex, createMilvusIndex } from '@memmesh/index';
import type { AgentMetrics, Logger } from '@memmesh/telemetry';
import type { RegionAgentConfig, ResolvedRegionAgentConfig } from '../config/config.ts';
import { embedderRetryCounter } from './instrument.ts';
import type { RegionParts } from './types.ts';

/** The embedded defaults: no server besides nats-server is needed. */
export function embeddedParts(config: RegionAgentConfig): RegionParts {
  return {
    embedder: createLocalEmbedder({ dimensions: config.embedDimensions }),
    cache: createLruCache({ entriesMax: config.cacheEntriesMax }),
    openIndex: (_origin, _shard, dir) => createEmbeddedIndex({ dimensions: config.embedDimensions, dir }),
  };
}

/** The parts the configuration asks for: embedded defaults, with production backends swapped in. */
export async function partsFor(
  config: ResolvedRegionAgentConfig,
  logger: Logger,
  metrics?: AgentMetrics,
): Promise<RegionParts> {
  const parts = embeddedParts(config);
  parts.embedder = await embedderFor(config, metrics);
  parts.indexBackend = config.index;
  parts.openIndex = indexFactory(config, parts.embedder);
  if (config.cache === 'redis') {
    parts.cache = await createRedisCache({
      url: config.redisUrl as string,
      // Queries go on uncached while Redis is away; the log says so once per outage.
      onError: (err) => logger.warn('redis cache unavailable; answering uncached until it is back', { err }),
    });
  }
  return parts;
}

/** The index holds the embedder's vectors, whatever MEMMESH_EMBED_DIMENSIONS says. */
function indexFactory(config: ResolvedRegionAgentConfig, embedder: Embedder): RegionParts['openIndex'] {
  const { dimensions, modelId } = embedder;
  if (config.index !== 'milvus') return (_origin, _shard, dir) => createEmbeddedIndex({ dimensions, dir });
  // Milvus keeps the view and its position itself: no snapshot directory.
  return (origin, shard) =>
    createMilvusIndex({
      address: config.milvusAddress as string,
      token: config.milvusToken,
      collectionPrefix: config.milvusCollectionPrefix,
      region: origin,
      shard,
      modelId,
      dimensions,
      hnsw: {
        m: config.milvusHnswM,
        efConstruction: config.milvusHnswEfConstruction,
        efSearch: config.milvusHnswEf,
      },
    });
}

/** The region's embedder; a production one is never replaced by the local one in silence. */
async function embedderFor(
  config: ResolvedRegionAgentConfig,
  metrics: AgentMetrics | undefined,
): Promise<Embedder> {
  switch (config.embedder) {
    case 'local':
      return createLocalEmbedder({ dimensions: config.embedDimensions });
    case 'minilm':
      return createMiniLmEmbedder({ modelDir: config.minilmDir as string });
    case 'openai':
      return createOpenAiEmbedder({
        // A compatible server without authentication (openaiBaseUrl set) still needs a value.
        apiKey: config.openaiApiKey ?? 'none',
        model: config.openaiModel,
        dimensions: config.embedDimensions,
        ...(config.openaiBaseUrl ? { baseURL: config.openaiBaseUrl } : {}),
        ...(metrics ? { onRetry: embedderRetryCounter(metrics, config.openaiModel) } : {}),
      });
  }
}
