import { isMeshError } from '@memmesh/core';
import { describe, expect, it } from 'vitest';
import { configFromEnv, EMBEDDED_BACKENDS, resolveConfig, withBackends } from './config.ts';

const REDIS = { index: 'embedded', cache: 'redis', embedder: 'local' } as const;

describe('agent config backends', () => {
  it('config - without a region record or environment choice the backends are the embedded ones', () => {
    expect(withBackends(resolveConfig({}), undefined)).toMatchObject(EMBEDDED_BACKENDS);
  });

  it("config - the region's record decides, and the environment's connection settings complete it", () => {
    const config = withBackends(resolveConfig({ redisUrl: 'redis://127.0.0.1:6379' }), REDIS);
    expect(config).toMatchObject({ cache: 'redis', index: 'embedded', embedder: 'local' });
  });

  it('config - a record naming Redis without MEMMESH_REDIS_URL stops the start; it never falls back to the LRU', () => {
    expect(() => withBackends(resolveConfig({}), REDIS)).toThrow(
      /redisUrl \(MEMMESH_REDIS_URL\): is required/,
    );
  });

  it('config - an environment choice that contradicts the record is refused, naming both', () => {
    const env = configFromEnv({ MEMMESH_CACHE: 'lru' });
    expect(() => withBackends(env, REDIS)).toThrow(
      /MEMMESH_CACHE=lru contradicts the region's cache backend redis/,
    );
    expect(() => withBackends(env, REDIS)).toThrow(expect.objectContaining({ code: 'config' }));
  });

  it('config - each production backend names the settings it needs', () => {
    expect(() => configFromEnv({ MEMMESH_INDEX: 'milvus' })).toThrow(/MEMMESH_MILVUS_ADDRESS/);
    expect(() => configFromEnv({ MEMMESH_EMBEDDER: 'minilm' })).toThrow(/MEMMESH_MINILM_DIR/);
    expect(() => configFromEnv({ MEMMESH_EMBEDDER: 'openai' })).toThrow(/MEMMESH_OPENAI_API_KEY/);
    expect(() => configFromEnv({ MEMMESH_INDEX: 'elastic' })).toThrow(/MEMMESH_INDEX/);
    const openAiCompatible = configFromEnv({
      MEMMESH_EMBEDDER: 'openai',
      MEMMESH_OPENAI_BASE_URL: 'http://127.0.0.1:11434/v1',
    });
    expect(openAiCompatible.embedder).toBe('openai');
    const milvus = configFromEnv({
      MEMMESH_INDEX: 'milvus',
      MEMMESH_MILVUS_ADDRESS: 'milvus.internal:19530',
    });
    expect(withBackends(milvus, undefined)).toMatchObject({
      index: 'milvus',
      milvusAddress: 'milvus.internal:19530',
    });
  });

  it('config - errors are MeshErrors, not crashes', () => {
    try {
      configFromEnv({ MEMMESH_MILVUS_ADDRESS: 'no port' });
      expect.unreachable();
    } catch (err) {
      expect(isMeshError(err)).toBe(true);
    }
  });
});

describe('config - environment', () => {
  it('config - MEMMESH_LOG_LEVEL is validated: a known level is taken, any other value names the variable', () => {
    expect(configFromEnv({ MEMMESH_LOG_LEVEL: 'warn' }).logLevel).toBe('warn');
    expect(() => configFromEnv({ MEMMESH_LOG_LEVEL: 'verbose' })).toThrow(/MEMMESH_LOG_LEVEL/);
  });

  it('config - a chunk step below the smallest is refused: the longest text must fit in the chunks a document may have', () => {
    expect(() => configFromEnv({ MEMMESH_CHUNK_CHARS: '300', MEMMESH_CHUNK_OVERLAP_CHARS: '100' })).toThrow(
      /MEMMESH_CHUNK_OVERLAP_CHARS/,
    );
    expect(configFromEnv({ MEMMESH_CHUNK_CHARS: '400', MEMMESH_CHUNK_OVERLAP_CHARS: '100' }).chunkChars).toBe(
      400,
    );
  });
});

describe('config - keys', () => {
  it('config - failed-authentication throttling is configured like the gateway’s, and checked', () => {
    expect(configFromEnv({})).toMatchObject({ authFailuresMax: 10, httpTrustedProxyHops: 0 });
    expect(configFromEnv({ MEMMESH_AUTH_FAILURES_MAX: '4' }).authFailuresMax).toBe(4);
    expect(() => configFromEnv({ MEMMESH_AUTH_THROTTLE_ENTRIES_MAX: '1' })).toThrow(
      /MEMMESH_AUTH_THROTTLE_ENTRIES_MAX/,
    );
  });

  it('config - weak API keys in MEMMESH_API_KEYS stop the start, naming the variable', () => {
    expect(() => configFromEnv({ MEMMESH_API_KEYS: '12345678=acme' })).toThrow(/MEMMESH_API_KEYS/);
    expect(configFromEnv({ MEMMESH_API_KEYS: 'acme-dev-key=acme' }).apiKeys).toEqual({
      'acme-dev-key': 'acme',
    });
  });
});

describe('config - documentation', () => {
  it('config - every variable the agent reads is in the README', async () => {
    const { readFile } = await import('node:fs/promises');
    const { ENV_NAMES } = await import('./config.ts');
    const readme = await readFile(new URL('../../../../README.md', import.meta.url), 'utf8');
    const missing = Object.values(ENV_NAMES).filter((name) => !readme.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });
});
