/**
 * The costly embedder stand-in of `startCostlyEmbedderServer` (harness.ts), in its own
 * thread. It is another machine in the tests that time a service: parsing a flood's
 * megabytes of embedding requests and writing 384-dimension vectors back are its work, not
 * the work of the event loop that times the quiet tenant, which they would otherwise slow
 * (fair-use.alone.test.ts measured the harness as much as the system).
 *
 * Told `{ callMs, charMs }` in its worker data, it answers `{ url }` once listening, and
 * `{ chars, requests }` to every `'counts'` message (after the calls answered so far: the
 * counters move before a reply is sent), and closes on `'stop'`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { sleep } from '@memmesh/core';
import { createLocalEmbedder } from '@memmesh/embed';
import { startOpenAiServer } from '@memmesh/testkit';

interface CostlyWorkerData {
  callMs: number;
  charMs: number;
}

const port = parentPort;
if (!port) throw new Error('costly-embedder-worker runs as a worker thread');
const { callMs, charMs } = workerData as CostlyWorkerData;
const local = createLocalEmbedder({ dimensions: 384 });
let chars = 0;
// One call at a time, like a model server with one accelerator: a second call waits.
let busy: Promise<unknown> = Promise.resolve();
const embed = (texts: string[]) => {
  const size = texts.reduce((sum, text) => sum + text.length, 0);
  const run = busy.then(async () => {
    await sleep(callMs + charMs * size);
    chars += size;
    return local.embed(texts);
  });
  busy = run.catch(() => undefined);
  return run;
};
const server = await startOpenAiServer({ dimensions: 384, embed, keepTexts: false });
port.on('message', (message: unknown) => {
  if (message === 'counts') port.postMessage({ chars, requests: server.requests });
  if (message === 'stop') void server.stop().then(() => port.close());
});
port.postMessage({ url: server.url });
