/**
 * The pipeline suite on a region switched to its production backends by configuration alone:
 * Milvus (a Milvus Lite server), Redis, and an OpenAI-compatible embeddings server (a local
 * one speaking the wire format, embedding with the local model so that rankings match).
 * Milvus Lite serves one request at a time (a search over 4 shards takes ~100-200 ms), so the
 * ingest-and-find test uses fewer documents than on the embedded index; the behaviour checked
 * is the same.
 */
import { createLocalEmbedder } from '@memmesh/embed';
import {
  type MilvusLite,
  type OpenAiServer,
  type RedisServer,
  startMilvusLite,
  startOpenAiServer,
  startRedisServer,
} from '@memmesh/testkit';
import { afterAll } from 'vitest';
import { startHarness } from './harness.ts';
import { describePipeline } from './pipeline-suite.ts';

let milvus: MilvusLite | undefined;
let redis: RedisServer | undefined;
let openai: OpenAiServer | undefined;

afterAll(async () => {
  await openai?.stop();
  await redis?.stop();
  await milvus?.stop();
});

describePipeline(
  'Milvus + Redis + OpenAI-compatible embeddings',
  async () => {
    milvus = await startMilvusLite();
    redis = await startRedisServer();
    const local = createLocalEmbedder({ dimensions: 384 });
    openai = await startOpenAiServer({ dimensions: 384, embed: (texts) => local.embed(texts) });
    return startHarness({
      index: 'milvus',
      milvusAddress: milvus.address,
      cache: 'redis',
      redisUrl: redis.url,
      embedder: 'openai',
      openaiBaseUrl: openai.url,
    });
  },
  { docs: 60 },
);
