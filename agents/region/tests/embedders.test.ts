/**
 * A region switched to a production embedder by configuration alone: an OpenAI-compatible
 * server (a local one speaking the wire format, as OpenAI is a paid API) and MiniLM from the
 * provisioned model directory. Events record the model, and an embedder outage is a 503 for
 * the writer, never a 500.
 */
import { createLocalEmbedder } from '@memmesh/embed';
import { type OpenAiServer, startOpenAiServer } from '@memmesh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Harness, startHarness } from './harness.ts';

const local = createLocalEmbedder({ dimensions: 384 });

describe('openai-compatible embedder', () => {
  let server: OpenAiServer;
  let h: Harness;

  beforeAll(async () => {
    server = await startOpenAiServer({
      dimensions: 384,
      apiKey: 'sk-local-test',
      embed: (texts) => local.embed(texts),
    });
    h = await startHarness({
      embedder: 'openai',
      openaiBaseUrl: server.url,
      openaiApiKey: 'sk-local-test',
      openaiModel: 'text-embedding-3-small',
    });
  });

  afterAll(async () => {
    await h?.stop();
    await server?.stop();
  });

  it('embedders - a region on an OpenAI-compatible server ingests and searches through it', async () => {
    const before = server.requests;
    const write = await h.call('POST', '/v1/memories?wait=true', {
      id: 'oa-1',
      text: 'The ferry to the northern islands leaves at seven.',
    });
    expect(write.status).toBe(202);
    const search = await h.call('POST', '/v1/search', { query: 'ferry to the northern islands', topK: 1 });
    expect(search.body.results[0]?.id).toBe('oa-1');
    // One request for the document, one for the query: the server really did the embedding.
    expect(server.requests - before).toBe(2);
    expect(h.agent.region.status('acme').shards.some((s) => s.docs > 0)).toBe(true);
  });

  it('embedders - an embedder that keeps failing makes writes 503 with Retry-After, not 500', async () => {
    server.failNext(100, 500);
    const write = await h.call('POST', '/v1/memories', {
      id: 'oa-2',
      text: 'Written while the embedder is down.',
    });
    server.failNext(0, 500);
    expect(write.status).toBe(503);
    expect(write.body.error.code).toBe('unavailable');
    expect(write.headers.get('retry-after')).toMatch(/^\d+$/);
    const retry = await h.call('POST', '/v1/memories?wait=true', {
      id: 'oa-2',
      text: 'Written while the embedder is down.',
    });
    expect(retry.status).toBe(202);
  });

  it('embedders - a wrong API key is a 502 that says the embedder refused it, not a 500', async () => {
    const wrong = await startHarness({
      embedder: 'openai',
      openaiBaseUrl: server.url,
      openaiApiKey: 'sk-wrong',
    });
    try {
      const write = await wrong.call('POST', '/v1/memories', { text: 'refused by the embedder' });
      // The embedder refused our key: a 502 naming it, for the operator to fix.
      expect(write.status).toBe(502);
      expect(write.body.error.code).toBe('upstream');
      expect(write.body.error.message).toMatch(/rejected the request with 401/);
    } finally {
      await wrong.stop();
    }
  });
});

describe('minilm embedder', () => {
  let h: Harness;

  beforeAll(async () => {
    const modelDir = process.env.MEMMESH_MINILM_DIR;
    if (!modelDir)
      throw new Error('MEMMESH_MINILM_DIR is unset: run the tests with npm test, which provisions the model');
    h = await startHarness({ embedder: 'minilm', minilmDir: modelDir });
  });

  afterAll(async () => {
    await h?.stop();
  });

  it('embedders - a region on MiniLM finds a paraphrase that shares no words with the memory', async () => {
    const memories = [
      { id: 'cat', text: 'The cat slept on the warm windowsill all afternoon.' },
      { id: 'revenue', text: 'Quarterly revenue grew by ten percent over last year.' },
      { id: 'deploy', text: 'Roll back the release if the error budget is exhausted.' },
    ];
    const write = await h.call('POST', '/v1/memories/batch?wait=true', { memories });
    expect(write.status).toBe(202);
    const search = async (query: string) =>
      (await h.call('POST', '/v1/search', { query, topK: 3 })).body.results.map((r: { id: string }) => r.id);
    expect((await search('a kitten dozing in the sunshine'))[0]).toBe('cat');
    expect((await search('how much did sales increase'))[0]).toBe('revenue');
    expect((await search('undo a bad deployment'))[0]).toBe('deploy');
  });
});
