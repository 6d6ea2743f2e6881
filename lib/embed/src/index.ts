/**
 * @module @memmesh/embed
 * The `Embedder` interface and its embedded default, the deterministic local embedder.
 */
export {
  createLocalEmbedder,
  DEFAULT_LOCAL_EMBEDDER_OPTIONS,
  LOCAL_EMBEDDER_MODEL,
  type LocalEmbedderOptions,
} from './local-embedder.ts';
export type { Embedder } from './types.ts';
