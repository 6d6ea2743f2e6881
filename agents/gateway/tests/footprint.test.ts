/**
 * The gateway process loads what routing needs and nothing of the region agent: started from
 * its entry module as `npm start` starts it, it must not load usearch, ONNX Runtime or the
 * Milvus SDK (native libraries and hundreds of megabytes it would never use). Checked twice:
 * by the modules Node reports loading, and by the native libraries mapped into the process.
 */
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, describe, expect, it } from 'vitest';

const MAIN = new URL('../src/main.ts', import.meta.url).pathname;
const RECORDER = new URL('./fixtures/record-modules.mjs', import.meta.url).pathname;
const REGIONS_DIR = new URL('../../../regions', import.meta.url).pathname;
const START_TIMEOUT_MS = 30_000;
/** What a gateway must never load: the agent's index, embedder and vector-store client. */
const FORBIDDEN = [
  /\/usearch\//,
  /\/onnxruntime-node\//,
  /\/onnxruntime-common\//,
  /\/@zilliz\/milvus2-sdk-node\//,
];
/** Loaded only when asked for: the AWS SDK for a DynamoDB routing table, the OTLP exporter for tracing. */
const ON_DEMAND = [/\/@aws-sdk\/client-dynamodb\//, /\/@opentelemetry\/exporter-trace-otlp-proto\//];

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

/** Starts the gateway, waits for its `listening` line, and returns its pid and a stop. */
async function startGatewayProcess(modulesFile: string) {
  const env = {
    ...process.env,
    MEMMESH_MODULES_FILE: modulesFile,
    // Tracing off, as by default: the OTLP exporter must then stay unloaded.
    OTEL_SDK_DISABLED: 'true',
    MEMMESH_GATEWAY_PORT: '0',
    MEMMESH_REGIONS_DIR: REGIONS_DIR,
    // Nothing listens there: the gateway starts (unready regions are normal) and stays idle.
    MEMMESH_REGION_ENDPOINTS: 'us-east-1=http://127.0.0.1:9,eu-central-1=http://127.0.0.1:9',
  };
  const child = spawn(process.execPath, ['--import', RECORDER, MAIN], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4_096);
  });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`gateway did not start:\n${stderr}`)), START_TIMEOUT_MS);
    child.once('exit', (code) => reject(new Error(`gateway exited with ${code}:\n${stderr}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.includes('"listening"')) return;
      clearTimeout(timer);
      resolve();
    });
  });
  const stop = () =>
    new Promise<number | null>((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.kill('SIGTERM');
    });
  return { pid: child.pid as number, stop };
}

describe('gateway footprint', () => {
  it('footprint - the gateway entry module loads none of usearch, onnxruntime-node or the Milvus SDK', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'memmesh-footprint-'));
    dirs.push(dir);
    const modulesFile = join(dir, 'modules.txt');
    const gateway = await startGatewayProcess(modulesFile);
    const maps = await readFile(`/proc/${gateway.pid}/maps`, 'utf8');
    expect(await gateway.stop()).toBe(0);
    const loaded = (await readFile(modulesFile, 'utf8')).split('\n').filter(Boolean);
    // The recorder saw the gateway's own modules: the check would notice what it looks for.
    expect(loaded.some((url) => url.endsWith('/agents/gateway/src/main.ts'))).toBe(true);
    expect(loaded.some((url) => url.includes('/hono/'))).toBe(true);
    for (const pattern of FORBIDDEN) expect(loaded.filter((url) => pattern.test(url))).toEqual([]);
    // On the in-memory routing table with tracing off (as npm start runs it), neither is loaded.
    for (const pattern of ON_DEMAND) expect(loaded.filter((url) => pattern.test(url))).toEqual([]);
    const natives = maps.split('\n').filter((line) => line.endsWith('.node'));
    expect(natives.filter((line) => /usearch|onnxruntime/.test(line))).toEqual([]);
  });
});
