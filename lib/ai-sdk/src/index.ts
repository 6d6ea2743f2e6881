/**
 * @module @memmesh/ai-sdk
 * memmesh for the Vercel AI SDK: `remember` and `recall` tools for generateText/streamText.
 */
export { DEFAULT_RECALL_TOP_K, type MemoryToolsOptions, memmeshTools } from './tools.ts';
