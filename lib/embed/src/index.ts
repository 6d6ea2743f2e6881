/**
 * @module @memmesh/embed
 * The `Embedder` interface, its embedded default (the deterministic local embedder), the local
 * semantic model (all-MiniLM-L6-v2 on ONNX Runtime) and the production backend (OpenAI or any
 * server speaking its embeddings wire format).
 */

export {
  createEmbedQueue,
  DEFAULT_EMBED_QUEUE_OPTIONS,
  type EmbedClass,
  type EmbedQueue,
  type EmbedQueueOptions,
} from './embed-queue.ts';
export {
  createLocalEmbedder,
  DEFAULT_LOCAL_EMBEDDER_OPTIONS,
  LOCAL_EMBEDDER_MODEL,
  type LocalEmbedderOptions,
} from './local-embedder.ts';
export {
  createMiniLmEmbedder,
  DEFAULT_MINILM_EMBEDDER_OPTIONS,
  MINILM_DIMENSIONS,
  MINILM_MODEL,
  MINILM_TOKENS_MAX,
  type MiniLmEmbedderOptions,
} from './minilm-embedder.ts';
export {
  createOpenAiEmbedder,
  DEFAULT_OPENAI_BASE_URL,
  DEFAULT_OPENAI_EMBEDDER_OPTIONS,
  DEFAULT_OPENAI_RETRY_POLICY,
  OPENAI_ATTEMPTS_MAX,
  OPENAI_REQUEST_CHARS_MAX,
  OPENAI_REQUEST_INPUTS_MAX,
  type OpenAiEmbedderOptions,
  type OpenAiRequestInfo,
  type OpenAiRetryInfo,
  retryAfterMsOf,
} from './openai-embedder.ts';
export type { Embedder } from './types.ts';
