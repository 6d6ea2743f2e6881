/**
 * @module @memmesh/langchain
 * memmesh for LangChain.js: a retriever over the tenant's memories.
 */
export { DEFAULT_RETRIEVER_TOP_K, MemmeshRetriever, type MemmeshRetrieverOptions } from './retriever.ts';
