/**
 * @module live
 * A live region agent and gateway, spawned as the chart runs them (`node <main.ts>`), on a
 * nats-server from the test kit, so that the chart's tests can scrape what they really
 * export at GET /metrics. Everything listens on loopback, on ports the kernel picks.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { type NatsServer, startNatsServer } from '@memmesh/testkit';

const ROOT = new URL('../../../', import.meta.url).pathname;
const SERVICE_START_TIMEOUT_MS = 30_000;

export interface LiveMesh {
  agentUrl: string;
  gatewayUrl: string;
  stop(): Promise<void>;
}

/** One region (us-east-1) with tenant acme, its agent, and a gateway in front of it. */
export async function startLiveMesh(): Promise<LiveMesh> {
  const children: ChildProcess[] = [];
  let nats: NatsServer | undefined;
  const regionsDir = await mkdtemp(join(tmpdir(), 'memmesh-live-regions-'));
  const stop = async () => {
    for (const child of children) child.kill('SIGKILL');
    await nats?.stop();
    await rm(regionsDir, { recursive: true, force: true });
  };
  try {
    nats = await startNatsServer();
    await mkdir(join(regionsDir, 'us-east-1'));
    const region = await readFile(join(ROOT, 'regions/us-east-1/region.json'), 'utf8');
    await writeFile(join(regionsDir, 'us-east-1/region.json'), region);
    const tenants = [{ tenant: 'acme', home: 'us-east-1', replicas: [], apiKeys: ['acme-dev-key'] }];
    await writeFile(join(regionsDir, 'tenants.json'), JSON.stringify({ tenants }));
    const agentUrl = await spawnService(children, 'agents/region/src/main.ts', {
      MEMMESH_NATS_URL: nats.url,
      MEMMESH_REGIONS_DIR: regionsDir,
      MEMMESH_PORT: '0',
    });
    const gatewayUrl = await spawnService(children, 'agents/gateway/src/main.ts', {
      MEMMESH_REGIONS_DIR: regionsDir,
      MEMMESH_REGION_ENDPOINTS: `us-east-1=${agentUrl}`,
      MEMMESH_GATEWAY_PORT: '0',
    });
    return { agentUrl, gatewayUrl, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Spawns `node <script>` and resolves with the URL of its 'listening' log line. */
function spawnService(
  children: ChildProcess[],
  script: string,
  env: Record<string, string>,
): Promise<string> {
  const child = spawn(process.execPath, [join(ROOT, script)], {
    env: { ...process.env, MEMMESH_LOG_LEVEL: 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-2_000);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${script} did not start in time: ${stderr}`)),
      SERVICE_START_TIMEOUT_MS,
    );
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${script} exited with ${code}: ${stderr}`));
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      try {
        const entry = JSON.parse(line) as { msg?: string; url?: string };
        if (entry.msg === 'listening' && entry.url) {
          clearTimeout(timer);
          resolve(entry.url);
        }
      } catch {
        // Not a log line of ours; ignore it.
      }
    });
  });
}
