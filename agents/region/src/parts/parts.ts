/**
 * @module parts
 * The pluggable parts of a region (DESIGN §5): embedder, cache and the factory of shard
 * indexes, as the region's record and the configuration choose them. The embedded defaults
 * need no server besides nats-server; a production backend is never replaced by an embedded
 * one in silence.
 */
import { createLruCache, createRedisCache } from '@memmesh/cache';
import { type EmbedderSpec, ErrorCode, MeshError } from '@memmesh/core';
import {
  createLocalEmbedder,
  createMiniLmEmbedder,
  createOpenAiEmbedder,
  type Embedder,
  LOCAL_EMBEDDER_MODEL,
  MINILM_DIMENSIONS,
  MINILM_MODEL,
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
    embedderFor: (spec) => embedderOf(config, spec),
    cannotEmbed: (spec) => cannotEmbed(config, spec),
    cache: createLruCache({ entriesMax: config.cacheEntriesMax }),
    openIndex: (_origin, _shard, dir, model) => createEmbeddedIndex({ dimensions: model.dim, dir }),
  };
}

/**
 * Why this agent cannot embed with `spec`, or undefined. A re-index target is checked here
 * before anything starts: the kind must be configured on the agent (OpenAI: a base URL or
 * key; MiniLM: its model files), and the dimensions must be the model's.
 */
export function cannotEmbed(config: RegionAgentConfig, spec: EmbedderSpec): string | undefined {
  switch (spec.kind) {
    case 'local':
      if (spec.model !== LOCAL_EMBEDDER_MODEL) return `the local embedder's model is ${LOCAL_EMBEDDER_MODEL}`;
      if (spec.dimensions < 8) return 'the local embedder needs at least 8 dimensions';
      return undefined;
    case 'minilm':
      if (spec.model !== MINILM_MODEL) return `the MiniLM embedder's model is ${MINILM_MODEL}`;
      if (spec.dimensions !== MINILM_DIMENSIONS) return `${MINILM_MODEL} has ${MINILM_DIMENSIONS} dimensions`;
      if (!config.minilmDir) return 'MiniLM is not configured on this region (MEMMESH_MINILM_DIR)';
      return undefined;
    case 'openai':
      if (!config.openaiBaseUrl && !config.openaiApiKey) {
        return 'no OpenAI-compatible endpoint is configured on this region (MEMMESH_OPENAI_BASE_URL or MEMMESH_OPENAI_API_KEY)';
      }
      return undefined;
  }
}

async function embedderOf(
  config: RegionAgentConfig,
  spec: EmbedderSpec,
  metrics?: AgentMetrics,
): Promise<Embedder> {
  const reason = cannotEmbed(config, spec);
  if (reason)
    throw new MeshError(ErrorCode.BadRequest, `cannot embed with ${spec.kind} ${spec.model}: ${reason}`);
  switch (spec.kind) {
    case 'local':
      return createLocalEmbedder({ dimensions: spec.dimensions });
    case 'minilm':
      return createMiniLmEmbedder({ modelDir: config.minilmDir as string });
    case 'openai':
      return createOpenAiEmbedder({
        // A compatible server without authentication (openaiBaseUrl set) still needs a value.
        apiKey: config.openaiApiKey ?? 'none',
        model: spec.model,
        dimensions: spec.dimensions,
        ...(config.openaiBaseUrl ? { baseURL: config.openaiBaseUrl } : {}),
        ...(metrics ? { onRetry: embedderRetryCounter(metrics, spec.model) } : {}),
      });
  }
}

/** The configured embedder as a model spec: the region's model before any re-index. */
export function specOfEmbedder(kind: EmbedderSpec['kind'], embedder: Embedder): EmbedderSpec {
  return { kind, model: embedder.modelId, dimensions: embedder.dimensions };
}

/** The parts the configuration asks for: embedded defaults, with production backends swapped in. */
export async function partsFor(
  config: ResolvedRegionAgentConfig,
  logger: Logger,
  metrics?: AgentMetrics,
): Promise<RegionParts> {
  const parts = embeddedParts(config);
  parts.embedder = await embedderOf(config, configuredSpec(config), metrics);
  parts.embedderFor = (spec) => embedderOf(config, spec, metrics);
  parts.indexBackend = config.index;
  parts.openIndex = indexFactory(config);
  if (config.cache === 'redis') {
    parts.cache = await createRedisCache({
      url: config.redisUrl as string,
      // Queries go on uncached while Redis is away; the log says so once per outage.
      onError: (err) => logger.warn('redis cache unavailable; answering uncached until it is back', { err }),
    });
  }
  return parts;
}

/** The embedder the configuration names. */
function configuredSpec(config: ResolvedRegionAgentConfig): EmbedderSpec {
  switch (config.embedder) {
    case 'local':
      return { kind: 'local', model: LOCAL_EMBEDDER_MODEL, dimensions: config.embedDimensions };
    case 'minilm':
      return { kind: 'minilm', model: MINILM_MODEL, dimensions: MINILM_DIMENSIONS };
    case 'openai':
      return { kind: 'openai', model: config.openaiModel, dimensions: config.embedDimensions };
  }
}

/** Each view holds the vectors of its model, whatever MEMMESH_EMBED_DIMENSIONS says. */
function indexFactory(config: ResolvedRegionAgentConfig): RegionParts['openIndex'] {
  if (config.index !== 'milvus') {
    return (_origin, _shard, dir, model) => createEmbeddedIndex({ dimensions: model.dim, dir });
  }
  // Milvus keeps the view and its position itself: no snapshot directory. The collection's
  // name carries the model, so the view of a re-index target is a collection of its own.
  return (origin, shard, _dir, model) =>
    createMilvusIndex({
      address: config.milvusAddress as string,
      token: config.milvusToken,
      collectionPrefix: config.milvusCollectionPrefix,
      region: origin,
      shard,
      modelId: model.id,
      dimensions: model.dim,
      hnsw: {
        m: config.milvusHnswM,
        efConstruction: config.milvusHnswEfConstruction,
        efSearch: config.milvusHnswEf,
      },
    });
}
