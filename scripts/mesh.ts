/**
 * @module mesh
 * `npm start`: the local memmesh on embedded defaults. It starts one nats-server per region
 * (JetStream on, loopback only, store under .memmesh/) and one region agent per region,
 * prints what it started, and stops everything cleanly on Ctrl-C.
 *
 * This first version runs one region, us-east-1, serving the public API on
 * http://127.0.0.1:8080 (MEMMESH_PORT to change it). Data survives restarts: the log lives
 * in .memmesh/nats and the index snapshots in .memmesh/agents.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { startNatsServer } from '@memmesh/testkit';
import { DEFAULT_API_KEYS } from '../agents/region/src/config.ts';

const ROOT = new URL('..', import.meta.url).pathname;
const REGION = 'us-east-1';
const PORT = process.env.MEMMESH_PORT ?? '8080';
const HOST = process.env.MEMMESH_HOST ?? '127.0.0.1';
const AGENT_START_TIMEOUT_MS = 30_000;

interface RegionFile {
  id: string;
  shardCount: number;
  streamReplicas: number;
}

async function main(): Promise<void> {
  const region = JSON.parse(await readFile(`${ROOT}regions/${REGION}/region.json`, 'utf8')) as RegionFile;
  const storeDir = `${ROOT}.memmesh/nats/${REGION}`;
  await mkdir(storeDir, { recursive: true });
  const nats = await startNatsServer({ name: REGION, storeDir });
  console.log(`memmesh: nats-server for ${REGION} on ${nats.url} (store ${storeDir})`);

  const agent = spawn(process.execPath, [`${ROOT}agents/region/src/main.ts`], {
    env: {
      ...process.env,
      MEMMESH_REGION: region.id,
      MEMMESH_SHARDS: String(region.shardCount),
      MEMMESH_STREAM_REPLICAS: String(region.streamReplicas),
      MEMMESH_NATS_URL: nats.url,
      MEMMESH_HOST: HOST,
      MEMMESH_PORT: PORT,
      MEMMESH_DATA_DIR: `${ROOT}.memmesh/agents`,
      MEMMESH_API_KEYS: process.env.MEMMESH_API_KEYS ?? DEFAULT_API_KEYS,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    console.log('\nmemmesh: stopping the region agent and nats-server');
    await stopChild(agent);
    await nats.stop();
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  agent.once('exit', (code) => {
    if (!stopping) {
      console.error(
        `memmesh: the region agent exited (${code}); is port ${PORT} free? Set MEMMESH_PORT to use another.`,
      );
      void stop(1);
    }
  });

  const url = await waitListening(agent);
  console.log(`memmesh: region agent ${REGION} serving the API on ${url}`);
  console.log(`
  Demo tenants (API key → tenant): ${DEFAULT_API_KEYS.replaceAll('=', ' → ').replaceAll(',', ', ')}

  curl -s -X POST '${url}/v1/memories?wait=true' -H 'Authorization: Bearer acme-dev-key' \\
       -H 'content-type: application/json' -d '{"text":"The deploy runbook lives in the ops wiki."}'
  curl -s -X POST ${url}/v1/search -H 'Authorization: Bearer acme-dev-key' \\
       -H 'content-type: application/json' -d '{"query":"where is the runbook?"}'

  Press Ctrl-C to stop.`);
}

function waitListening(agent: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error('region agent did not start in time')),
      AGENT_START_TIMEOUT_MS,
    );
    createInterface({ input: agent.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      let entry: { msg?: string; url?: string; level?: string } = {};
      try {
        entry = JSON.parse(line);
      } catch {
        console.log(line);
        return;
      }
      if (entry.msg === 'listening' && entry.url) {
        clearTimeout(timer);
        resolve(entry.url);
      } else if (entry.level === 'warn' || entry.level === 'error') {
        console.log(line);
      }
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

main().catch((err: unknown) => {
  console.error(`memmesh: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
