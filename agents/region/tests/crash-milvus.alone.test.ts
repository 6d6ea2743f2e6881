/**
 * kill -9 of an agent on Milvus + Redis during an ingest: Milvus holds the view and its
 * position, so the restarted agent resumes from the position Milvus has and replays the rest.
 * Milvus Lite scans its collection on each write, so it applies ~15 documents a second at a
 * few hundred and slows as it grows (3 a second at 600); hence 400 documents and a
 * 50-document sample of searches. Every document is still counted exactly.
 */
import { type MilvusLite, type RedisServer, startMilvusLite, startRedisServer } from '@memmesh/testkit';
import { afterAll, beforeAll } from 'vitest';
import { describeCrash } from './crash-suite.ts';

let milvus: MilvusLite;
let redis: RedisServer;

beforeAll(async () => {
  milvus = await startMilvusLite();
  redis = await startRedisServer();
});

afterAll(async () => {
  await redis?.stop();
  await milvus?.stop();
});

describeCrash('Milvus + Redis', {
  docs: 400,
  searchChecks: 50,
  searchConcurrency: 2,
  env: () => ({
    MEMMESH_INDEX: 'milvus',
    MEMMESH_MILVUS_ADDRESS: milvus.address,
    MEMMESH_CACHE: 'redis',
    MEMMESH_REDIS_URL: redis.url,
  }),
});
