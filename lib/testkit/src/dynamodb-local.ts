/**
 * @module dynamodb-local
 * Starts a real DynamoDB Local (the Java server AWS ships for local testing) for the routing
 * table's DynamoDB tests: on a free port, answering on loopback, in memory or on a caller's
 * directory, with a teardown that always kills the JVM and removes what it created.
 * scripts/toolchain.sh installs it (jars and sqlite4java's native library) into
 * .tools/dynamodb/lib and exports that directory as MEMMESH_DYNAMODB_LOCAL_DIR.
 *
 * DynamoDB Local has no option to choose its listen address: it always binds every interface
 * (`*:<port>`), so the endpoint handed out is the loopback one, and nothing here sends traffic
 * anywhere else. It cannot pick its own port either (`-port 0` is rejected), so the port is
 * chosen here, with the unavoidable race between choosing it and the JVM binding it handled
 * by retrying.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, readlink, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sleep } from '@memmesh/core';
import { hasExited, keepOutputTail, killOnExit, terminate } from './child-process.ts';
import { freeLoopbackPort } from './ports.ts';

export interface DynamoDbLocalOptions {
  /**
   * Directory holding DynamoDBLocal's jars and sqlite4java's native library (class path and
   * `java.library.path` at once); defaults to MEMMESH_DYNAMODB_LOCAL_DIR or .tools/dynamodb/lib.
   */
  libDir?: string;
  /**
   * Keep the tables in a database file in this directory (`-sharedDb -dbPath`), which outlives
   * stop() and kill(), so a test can restart on it; in memory when omitted.
   */
  dbPath?: string;
  /** Port; 0 picks a free one (the default). Set it to restart on the same port. */
  port?: number;
  /** How long the JVM may take to answer its first request. */
  startTimeoutMs?: number;
  /** The java binary (Java 17 or newer); defaults to `java` on the PATH. */
  javaBin?: string;
  /** JVM options placed before the class path; defaults to DEFAULT_DYNAMODB_JVM_ARGS. */
  jvmArgs?: readonly string[];
}

export interface DynamoDbLocal {
  /** `http://127.0.0.1:<port>`: the `endpoint` for `new DynamoDBClient({ endpoint })`. */
  readonly endpoint: string;
  readonly port: number;
  readonly pid: number;
  /** Stops the JVM (SIGTERM, then SIGKILL after a grace period) and removes its temp dir. */
  stop(): Promise<void>;
  /** kill -9, for crash tests: a caller's dbPath is kept, the temp dir is removed. */
  kill(): Promise<void>;
}

/** The JVM starts in about 1.5 s on 2 idle cores; a busy test run can take many times that. */
export const DEFAULT_DYNAMODB_START_TIMEOUT_MS = 30_000;
/**
 * Why these: tests start many short-lived servers that do little work, so start-up time
 * matters more than peak speed. C1 only and the serial collector cut start-up by about a
 * third on 2 cores, and the heap cap keeps several servers from claiming a quarter of the
 * machine's memory each (the JVM's default).
 */
export const DEFAULT_DYNAMODB_JVM_ARGS: readonly string[] = [
  '-XX:TieredStopAtLevel=1',
  '-XX:+UseSerialGC',
  '-Xmx512m',
];
const MAIN_CLASS = 'software.amazon.dynamodb.services.local.main.ServerRunner';
const PORT_ATTEMPTS_MAX = 5;
const POLL_INTERVAL_MS = 50;
const PROBE_TIMEOUT_MS = 1_000;
const OUTPUT_TAIL_CHARS_MAX = 4_096;

export function dynamoDbLocalDir(): string {
  const fromEnv = process.env.MEMMESH_DYNAMODB_LOCAL_DIR;
  if (fromEnv) return fromEnv;
  const local = new URL('../../../.tools/dynamodb/lib', import.meta.url).pathname;
  if (existsSync(local)) return local;
  throw new Error(
    'DynamoDB Local not found: run the tests with `npm test`, which installs it into .tools/dynamodb',
  );
}

export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const libDir = options.libDir ?? dynamoDbLocalDir();
  // A port the caller chose is tried once: retrying it would only fail the same way.
  if (options.port !== undefined && options.port > 0) return startOnPort(libDir, options.port, options);
  let lastError: unknown;
  for (let attempt = 1; attempt <= PORT_ATTEMPTS_MAX; attempt++) {
    try {
      return await startOnPort(libDir, await freeLoopbackPort(), options);
    } catch (error) {
      if (!(error instanceof PortTakenError)) throw error;
      lastError = error;
    }
  }
  throw new Error(`DynamoDB Local lost the race for a free port ${PORT_ATTEMPTS_MAX} times`, {
    cause: lastError,
  });
}

/** The JVM lost the race for its port to another process; a fresh port may succeed. */
class PortTakenError extends Error {
  override name = 'PortTakenError';
}

async function startOnPort(
  libDir: string,
  port: number,
  options: DynamoDbLocalOptions,
): Promise<DynamoDbLocal> {
  // The JVM's working directory, because DynamoDB Local writes files into it (a telemetry
  // metadata file when telemetry is on); removing it on stop leaves nothing behind.
  const workDir = await mkdtemp(join(tmpdir(), 'memmesh-dynamodb-'));
  if (options.dbPath) await mkdir(options.dbPath, { recursive: true });
  const storage = options.dbPath ? ['-dbPath', options.dbPath] : ['-inMemory'];
  const args = [
    ...(options.jvmArgs ?? DEFAULT_DYNAMODB_JVM_ARGS),
    `-Djava.library.path=${libDir}`,
    '-cp',
    join(libDir, '*'),
    MAIN_CLASS,
    '-port',
    String(port),
    // One database for every access key and region, so two clients configured differently
    // still see the same tables, as they would in one real account and region.
    '-sharedDb',
    // Telemetry would try to reach AWS from a test run; there is no network for it here.
    '-disableTelemetry',
    ...storage,
  ];
  const child = spawn(options.javaBin ?? 'java', args, { cwd: workDir, stdio: ['ignore', 'pipe', 'pipe'] });
  killOnExit(child);
  const removeWorkDir = () => rm(workDir, { recursive: true, force: true });
  try {
    await waitUntilServing(child, port, options.startTimeoutMs ?? DEFAULT_DYNAMODB_START_TIMEOUT_MS);
  } catch (error) {
    await terminate(child, 'SIGKILL');
    await removeWorkDir();
    throw error;
  }
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    pid: child.pid ?? -1,
    async stop() {
      await terminate(child, 'SIGTERM');
      await removeWorkDir();
    },
    async kill() {
      await terminate(child, 'SIGKILL');
      await removeWorkDir();
    },
  };
}

async function waitUntilServing(child: ChildProcess, port: number, timeoutMs: number): Promise<void> {
  const tail = keepOutputTail(child, OUTPUT_TAIL_CHARS_MAX);
  let spawnError: Error | undefined;
  child.once('error', (error) => {
    spawnError = error;
  });
  const endpoint = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (spawnError) {
      throw new Error(
        "could not run java for DynamoDB Local (needs Java 17+: 'apt-get install openjdk-17-jre-headless')",
        { cause: spawnError },
      );
    }
    if (hasExited(child)) {
      const status = child.exitCode ?? child.signalCode;
      const output = tail();
      if (/BindException|Address already in use/.test(output)) {
        throw new PortTakenError(`port ${port} was taken before DynamoDB Local bound it`);
      }
      throw new Error(`DynamoDB Local exited with ${status}:\n${output}`);
    }
    // An answer proves that something serves the port, not that it is this JVM: another
    // process may have taken the port between our pick and the JVM's bind, and this JVM is
    // then about to fail. Only a listening socket owned by the child counts.
    if ((await answersListTables(endpoint)) && (await ownsListeningPort(child.pid, port))) return;
    await sleep(POLL_INTERVAL_MS);
  }
  throw new Error(`DynamoDB Local did not answer on port ${port} within ${timeoutMs} ms:\n${tail()}`);
}

/** A ListTables call as the SDK sends it; DynamoDB Local wants a credential but checks no signature. */
async function answersListTables(endpoint: string): Promise<boolean> {
  try {
    const response = await fetch(endpoint, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-amz-json-1.0',
        'x-amz-target': 'DynamoDB_20120810.ListTables',
        authorization:
          'AWS4-HMAC-SHA256 Credential=local/20000101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0',
      },
      body: '{}',
      signal: AbortSignal.timeout(PROBE_TIMEOUT_MS),
    });
    const body = (await response.json()) as { TableNames?: unknown };
    return response.ok && Array.isArray(body.TableNames);
  } catch {
    return false;
  }
}

/**
 * Whether process `pid` holds a socket listening on `port`: the kernel's socket tables give
 * the listening socket's inode, and the process's open files name it as `socket:[inode]`.
 * Linux only, as is the toolchain; elsewhere the check is skipped.
 */
async function ownsListeningPort(pid: number | undefined, port: number): Promise<boolean> {
  if (process.platform !== 'linux') return true;
  if (pid === undefined) return false;
  const portHex = port.toString(16).toUpperCase().padStart(4, '0');
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(table, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      // Columns: sl local_address rem_address st ... uid timeout inode; 0A is LISTEN.
      const columns = line.trim().split(/\s+/);
      if (columns[1]?.endsWith(`:${portHex}`) && columns[3] === '0A' && columns[9]) inodes.add(columns[9]);
    }
  }
  if (inodes.size === 0) return false;
  const fdDir = `/proc/${pid}/fd`;
  for (const fd of await readdir(fdDir).catch(() => [])) {
    const target = await readlink(join(fdDir, fd)).catch(() => '');
    const inode = /^socket:\[(\d+)\]$/.exec(target)?.[1];
    if (inode && inodes.has(inode)) return true;
  }
  return false;
}
