/**
 * @module models
 * The embedders of the models this region uses: the configured one, and those its log's
 * model state names (a re-index target, or the model a re-index moved the region to). Each
 * has its own fair queue, so a re-index's bulk embedding waits behind tenants' queries the
 * same way writes do.
 */
import { type EmbedderSpec, modelKeyOf, modelRefOf, writeModelsOf } from '@memmesh/core';
import { createEmbedQueue, type Embedder, type EmbedQueue, type EmbedQueueOptions } from '@memmesh/embed';
import type { RegionParts } from '../parts/types.ts';
import type { Views } from '../shards/views.ts';

export interface RegionModels {
  /** The configured embedder's model. */
  readonly base: EmbedderSpec;
  /** The queue of a model's embedder, built on first use. */
  queue(spec: EmbedderSpec): Promise<EmbedQueue>;
  /** The model this agent embeds queries for `origin`'s views with. */
  servingSpec(origin: string): EmbedderSpec;
  /** The key a shard query names its model with, or undefined when the origin never changed model. */
  queryModelKey(origin: string): string | undefined;
  /** The models a write of this region is embedded with, the active one first. */
  writeModels(): EmbedderSpec[];
  /** Characters waiting in every model's queue. */
  readonly pendingChars: number;
  close(): Promise<void>;
}

export interface RegionModelsOptions {
  region: string;
  parts: RegionParts;
  base: EmbedderSpec;
  views: () => Views;
  queueOptions: EmbedQueueOptions;
}

export function createRegionModels(options: RegionModelsOptions): RegionModels {
  const { parts, base, queueOptions } = options;
  const keyOf = (spec: EmbedderSpec) => modelKeyOf(modelRefOf(spec));
  const built = new Map<string, Promise<{ embedder: Embedder; queue: EmbedQueue }>>();
  // The queues built so far, for what is read synchronously (the backlog metric).
  const queues = new Set<EmbedQueue>();
  const build = (embedder: Embedder) => {
    const queue = createEmbedQueue(embedder, queueOptions);
    queues.add(queue);
    return { embedder, queue };
  };
  built.set(keyOf(base), Promise.resolve(build(parts.embedder)));
  return {
    base,
    async queue(spec) {
      const key = keyOf(spec);
      let entry = built.get(key);
      if (!entry) {
        entry = parts.embedderFor(spec).then(build);
        // A failed build is tried again next time, not remembered.
        entry.catch(() => built.delete(key));
        built.set(key, entry);
      }
      return (await entry).queue;
    },
    servingSpec(origin) {
      return options.views().get(origin)?.serving.spec ?? base;
    },
    queryModelKey(origin) {
      const view = options.views().get(origin);
      return view?.namesModels ? view.serving.key : undefined;
    },
    writeModels() {
      const state = options.views().get(options.region)?.state;
      return state ? writeModelsOf(state) : [base];
    },
    get pendingChars() {
      let chars = 0;
      for (const queue of queues) chars += queue.pendingChars;
      return chars;
    },
    async close() {
      for (const [key, entry] of built) {
        const opened = await entry.catch(() => undefined);
        if (!opened) continue;
        opened.queue.close();
        // The configured embedder is the parts' to close.
        if (key !== keyOf(base)) await opened.embedder.close();
      }
    },
  };
}
