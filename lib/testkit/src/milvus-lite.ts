/**
 * @module milvus-lite
 * A real Milvus Lite gRPC server for tests: loopback only, a free port, a temporary data
 * directory; stop() removes the directory, kill() is a crash that keeps it, restart() comes
 * back on the same port and data. scripts/milvus/install.sh installs Milvus Lite (pinned, in
 * its own virtualenv) and scripts/toolchain.sh exports its binary as MEMMESH_MILVUS_LITE_BIN.
 *
 * Readiness is a real gRPC call, `MilvusService/CheckHealth`, made over node:http2 so that the
 * test kit needs no Milvus client: the server is ready when it answers `isHealthy: true`.
 *
 * Why ownership of the port is checked too: Milvus Lite is a Python gRPC server, and gRPC
 * binds with SO_REUSEPORT, so a server started on a port another gRPC server already holds
 * does not fail, it shares the port; a health answer alone could then come from the other one.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { connect } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '@memmesh/core';
import { hasExited, keepOutputTail, killOnExit, terminate } from './child-process.ts';
import { freeLoopbackPort } from './ports.ts';

export interface MilvusLiteOptions {
  /** The `milvus-lite` binary; defaults to MEMMESH_MILVUS_LITE_BIN. */
  bin?: string;
  /** How long the server may take to answer its first health check. */
  startTimeoutMs?: number;
}

export interface MilvusLite {
  /** `127.0.0.1:<port>`: the `address` for a Milvus client. */
  readonly address: string;
  readonly port: number;
  readonly dataDir: string;
  /** Stops the server (SIGINT, its graceful shutdown; SIGKILL after a grace period) and removes the data. */
  stop(): Promise<void>;
  /** kill -9, as a crash: the data directory is kept for restart(). */
  kill(): Promise<void>;
  /**
   * Takes the server down with its graceful shutdown (SIGINT), keeping the data for restart().
   * Milvus Lite keeps recent writes in an in-memory memtable that a kill -9 loses, where
   * Milvus persists every acknowledged write in its WAL; tests of what memmesh does while
   * Milvus is down use this, so that they test memmesh and not Lite's durability.
   */
  shutdown(): Promise<void>;
  /** Starts again on the same port and data directory (after kill or stop of the process). */
  restart(): Promise<void>;
}

/** Python with gRPC, pyarrow and faiss starts in about 2 s on 2 idle cores; a busy run takes longer. */
export const DEFAULT_MILVUS_LITE_START_TIMEOUT_MS = 60_000;
const PORT_ATTEMPTS_MAX = 5;
const POLL_INTERVAL_MS = 100;
const HEALTH_TIMEOUT_MS = 1_000;
const HEALTH_PATH = '/milvus.proto.milvus.MilvusService/CheckHealth';

export function milvusLiteBin(): string {
  const bin = process.env.MEMMESH_MILVUS_LITE_BIN;
  if (bin) return bin;
  throw new Error(
    'MEMMESH_MILVUS_LITE_BIN is not set: run the tests with `npm test`, which installs Milvus Lite ' +
      '(scripts/milvus/install.sh) and sets it, or set it to .tools/milvus-venv/bin/milvus-lite',
  );
}

export async function startMilvusLite(options: MilvusLiteOptions = {}): Promise<MilvusLite> {
  const bin = options.bin ?? milvusLiteBin();
  const timeoutMs = options.startTimeoutMs ?? DEFAULT_MILVUS_LITE_START_TIMEOUT_MS;
  const dataDir = await mkdtemp(join(tmpdir(), 'memmesh-milvus-'));
  let lastError: unknown;
  for (let attempt = 1; attempt <= PORT_ATTEMPTS_MAX; attempt++) {
    const port = await freeLoopbackPort();
    try {
      const child = await startOn(bin, port, dataDir, timeoutMs);
      return handle(bin, port, dataDir, timeoutMs, child);
    } catch (error) {
      lastError = error;
      if (!(error instanceof PortTakenError)) break;
    }
  }
  await rm(dataDir, { recursive: true, force: true });
  throw lastError;
}

function handle(
  bin: string,
  port: number,
  dataDir: string,
  timeoutMs: number,
  first: ChildProcess,
): MilvusLite {
  let child = first;
  return {
    address: `127.0.0.1:${port}`,
    port,
    dataDir,
    async stop() {
      await terminate(child, 'SIGINT');
      await rm(dataDir, { recursive: true, force: true });
    },
    async kill() {
      await terminate(child, 'SIGKILL');
    },
    async shutdown() {
      await terminate(child, 'SIGINT');
    },
    async restart() {
      await terminate(child, 'SIGKILL');
      child = await startOn(bin, port, dataDir, timeoutMs);
    },
  };
}

/** The server lost the race for its port to another process; a fresh port may succeed. */
class PortTakenError extends Error {
  override name = 'PortTakenError';
}

async function startOn(bin: string, port: number, dataDir: string, timeoutMs: number): Promise<ChildProcess> {
  const args = ['server', '--host', '127.0.0.1', '--port', String(port), '--data-dir', dataDir];
  // Unbuffered, so the output tail shows what the server said right before it failed.
  const env = { ...process.env, PYTHONUNBUFFERED: '1' };
  const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env });
  killOnExit(child);
  try {
    await waitUntilHealthy(child, port, timeoutMs);
    return child;
  } catch (error) {
    await terminate(child, 'SIGKILL');
    throw error;
  }
}

async function waitUntilHealthy(child: ChildProcess, port: number, timeoutMs: number): Promise<void> {
  const tail = keepOutputTail(child);
  let spawnError: Error | undefined;
  child.once('error', (error) => {
    spawnError = error;
  });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (spawnError) {
      throw new Error(
        `could not run Milvus Lite (${spawnError.message}); reinstall it with scripts/milvus/install.sh`,
        {
          cause: spawnError,
        },
      );
    }
    if (hasExited(child)) {
      const output = tail();
      if (/Failed to bind|[Aa]ddress already in use/.test(output)) {
        throw new PortTakenError(`port ${port} was taken before Milvus Lite bound it`);
      }
      throw new Error(`Milvus Lite exited with ${child.exitCode ?? child.signalCode}:\n${output}`);
    }
    if (await checkHealth(port)) {
      const owner = await portOwnership(child.pid, port);
      if (owner === 'exclusive') return;
      if (owner === 'shared') throw new PortTakenError(`port ${port} is shared with another server`);
    }
    await sleep(POLL_INTERVAL_MS);
  }
  throw new Error(`Milvus Lite did not report healthy on port ${port} within ${timeoutMs} ms:\n${tail()}`);
}

/**
 * One gRPC CheckHealth call: an HTTP/2 POST of an empty, length-prefixed protobuf message.
 * The answer is healthy when gRPC reports status 0 and the response's field 2 (`isHealthy`,
 * a varint) is 1; the message is small, so a flat scan of its top-level fields suffices.
 */
function checkHealth(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const session = connect(`http://127.0.0.1:${port}`);
    const done = (ok: boolean) => {
      clearTimeout(timer);
      session.destroy();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), HEALTH_TIMEOUT_MS);
    session.once('error', () => done(false));
    const request = session.request({
      ':method': 'POST',
      ':path': HEALTH_PATH,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    const chunks: Buffer[] = [];
    let grpcStatus: string | undefined;
    request.on('response', (headers) => {
      grpcStatus ??= headers['grpc-status'] as string | undefined;
    });
    request.on('trailers', (trailers) => {
      grpcStatus = trailers['grpc-status'] as string | undefined;
    });
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.once('error', () => done(false));
    request.once('end', () => done(grpcStatus === '0' && isHealthyResponse(Buffer.concat(chunks))));
    request.end(Buffer.from([0, 0, 0, 0, 0]));
  });
}

function isHealthyResponse(frame: Buffer): boolean {
  if (frame.length < 5 || frame[0] !== 0) return false;
  const message = frame.subarray(5, 5 + frame.readUInt32BE(1));
  let offset = 0;
  while (offset < message.length) {
    const key = message[offset++] as number;
    const field = key >> 3;
    const wireType = key & 7;
    if (wireType === 0) {
      const value = message[offset++] as number;
      if (field === 2) return value === 1;
    } else if (wireType === 2) {
      // Length-delimited (the status message, reasons): skip; lengths here stay under 128.
      offset += 1 + (message[offset] as number);
    } else {
      return false;
    }
  }
  return false;
}

/**
 * Who listens on `port`: only process `pid` ('exclusive'), `pid` and some other process
 * ('shared', possible under SO_REUSEPORT), or not `pid` ('none'). The kernel's socket tables
 * give the listening sockets' inodes, and the process's open files name them `socket:[inode]`.
 * Linux only, as is the toolchain; elsewhere the check is skipped.
 */
async function portOwnership(
  pid: number | undefined,
  port: number,
): Promise<'exclusive' | 'shared' | 'none'> {
  if (process.platform !== 'linux') return 'exclusive';
  if (pid === undefined) return 'none';
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  const listening = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      // Columns: sl local_address rem_address st ... uid timeout inode; 0A is LISTEN.
      const columns = line.trim().split(/\s+/);
      if (columns[1]?.endsWith(`:${portHex}`) && columns[3] === '0A' && columns[9]) listening.add(columns[9]);
    }
  }
  let owned = 0;
  const fdDir = `/proc/${pid}/fd`;
  for (const fd of await readdir(fdDir).catch(() => [])) {
    const target = await readlink(join(fdDir, fd)).catch(() => '');
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode && listening.has(inode)) owned++;
  }
  if (owned === 0) return 'none';
  return owned === listening.size ? 'exclusive' : 'shared';
}
