/**
 * @module nats-server
 * Starts a real nats-server for tests and the local mesh: JetStream on, loopback only,
 * random ports (the server picks them and reports them in a ports file, so there is no
 * race between choosing a port and binding it), a temporary store directory, and a
 * teardown that always kills the process and removes what it created.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '@memmesh/core';

export interface NatsServerOptions {
  /** Prefix of the generated server name. */
  name?: string;
  /**
   * Exact server name. Clustered JetStream knows its peers by name, so a server restarted on
   * the same store must keep it; a standalone server gets a unique generated one.
   */
  serverName?: string;
  /** Store directory; a fresh temporary one when omitted (and then removed on stop). */
  storeDir?: string;
  /** Client port; 0 lets the server pick (the default). Set it to restart on the same port. */
  port?: number;
  /** Extra configuration appended verbatim (e.g. gateway or cluster blocks). */
  extraConfig?: string;
  /** JetStream fsync policy; NATS's default is a 2 minute interval. */
  syncInterval?: 'always' | string;
  startTimeoutMs?: number;
  /** Path of the nats-server binary; defaults to MEMMESH_NATS_SERVER_BIN or .tools/bin. */
  bin?: string;
}

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  readonly storeDir: string;
  readonly pid: number;
  /** Stops the server (SIGTERM, then SIGKILL after a grace period) and removes temp dirs. */
  stop(): Promise<void>;
  /** kill -9: the store directory is kept, for crash tests. */
  kill(): Promise<void>;
}

export const DEFAULT_START_TIMEOUT_MS = 10_000;
const STOP_GRACE_MS = 5_000;
const POLL_INTERVAL_MS = 20;

export function natsServerBin(): string {
  const fromEnv = process.env.MEMMESH_NATS_SERVER_BIN;
  if (fromEnv) return fromEnv;
  const local = new URL('../../../.tools/bin/nats-server', import.meta.url).pathname;
  if (existsSync(local)) return local;
  throw new Error('nats-server not found: run the tests with `npm test`, which installs it into .tools/bin');
}

export async function startNatsServer(options: NatsServerOptions = {}): Promise<NatsServer> {
  const workDir = await mkdtemp(join(tmpdir(), 'memmesh-nats-'));
  const storeDir = options.storeDir ?? join(workDir, 'store');
  await mkdir(storeDir, { recursive: true });
  const name = options.name ?? 'memmesh-test';
  const config = [
    `server_name: "${options.serverName ?? `${name}-${process.pid}-${Date.now().toString(36)}`}"`,
    `listen: "127.0.0.1:${options.port && options.port > 0 ? options.port : -1}"`,
    `ports_file_dir: "${workDir}"`,
    'max_payload: 1MB',
    'jetstream {',
    `  store_dir: "${storeDir}"`,
    '  max_memory_store: 256MB',
    '  max_file_store: 8GB',
    options.syncInterval ? `  sync_interval: ${options.syncInterval}` : '',
    '}',
    options.extraConfig ?? '',
  ].join('\n');
  const configPath = join(workDir, 'nats.conf');
  await writeFile(configPath, config);

  const child = spawn(options.bin ?? natsServerBin(), ['-c', configPath], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4096);
  });
  const port = await waitForPort(
    child,
    workDir,
    options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS,
    () => stderr,
  );

  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    storeDir,
    pid: child.pid ?? -1,
    async stop() {
      await terminate(child, 'SIGTERM');
      // A caller-supplied store outlives the server; a temporary one lives inside workDir.
      await rm(workDir, { recursive: true, force: true });
    },
    async kill() {
      await terminate(child, 'SIGKILL');
      // A crash keeps the store, so a crash test passes its own storeDir and restarts on it.
      await rm(workDir, { recursive: true, force: true });
    },
  };
}

async function waitForPort(
  child: ChildProcess,
  dir: string,
  timeoutMs: number,
  log: () => string,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`nats-server exited with ${child.exitCode}:\n${log()}`);
    const file = (await readdir(dir)).find((f) => f.endsWith('.ports'));
    if (file) {
      const port = await readClientPort(join(dir, file));
      if (port !== undefined) return port;
    }
    await sleep(POLL_INTERVAL_MS);
  }
  child.kill('SIGKILL');
  throw new Error(`nats-server did not start within ${timeoutMs} ms:\n${log()}`);
}

/** The client port from a ports file; undefined while the server is still writing it. */
async function readClientPort(path: string): Promise<number | undefined> {
  try {
    const ports = JSON.parse(await readFile(path, 'utf8')) as { nats?: string[] };
    const url = ports.nats?.[0];
    return url ? Number(new URL(url).port) : undefined;
  } catch {
    // Seen under load: the file exists but is empty or half written. Read it again shortly.
    return undefined;
  }
}

async function terminate(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  await exited;
  clearTimeout(timer);
}
