/**
 * @module redis-server
 * A real redis-server for tests: loopback only, a free port, no persistence, a temporary
 * working directory; stop() and kill() always clean up, restart() comes back on the same port.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '@memmesh/core';
import { killOnExit, terminate } from './child-process.ts';
import { freeLoopbackPort } from './ports.ts';

export interface RedisServer {
  readonly url: string;
  readonly port: number;
  /** kill -9, as a crash. */
  kill(): Promise<void>;
  /** Starts again on the same port (after kill). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export const DEFAULT_REDIS_START_TIMEOUT_MS = 10_000;
const POLL_INTERVAL_MS = 20;

export function redisServerBin(): string {
  return process.env.MEMMESH_REDIS_SERVER_BIN ?? 'redis-server';
}

export async function startRedisServer(): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'memmesh-redis-'));
  const port = await freeLoopbackPort();
  let child: ChildProcess | undefined;
  const start = async () => {
    child = spawn(
      redisServerBin(),
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        '--protected-mode',
        'yes',
      ],
      { stdio: 'ignore' },
    );
    killOnExit(child);
    await waitForPong(port, child);
  };
  const end = async (signal: NodeJS.Signals) => {
    if (child) await terminate(child, signal);
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill: () => end('SIGKILL'),
    restart: start,
    async stop() {
      await end('SIGTERM');
      await rm(dir, { recursive: true, force: true });
    },
  };
}

async function waitForPong(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + DEFAULT_REDIS_START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`redis-server exited with ${child.exitCode}`);
    if (await ping(port)) return;
    await sleep(POLL_INTERVAL_MS);
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server did not answer on port ${port} in time`);
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => socket.write('PING\r\n'));
    socket.setTimeout(500, () => socket.destroy());
    socket.once('data', (data) => {
      socket.destroy();
      resolve(data.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.once('close', () => resolve(false));
  });
}
