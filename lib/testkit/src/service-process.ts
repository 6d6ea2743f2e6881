/**
 * @module service-process
 * A memmesh service (a region agent's or the gateway's `src/main.ts`) in a child Node
 * process on loopback, for tests that need what only a process gives: kill -9 and a start
 * again on the same port. The service says it is up with its JSON `listening` log line,
 * which carries its URL; the first start takes any free port and restarts keep it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { hasExited, keepOutputTail, killOnExit, terminate } from './child-process.ts';

/** A service imports its whole dependency tree on start; a busy 2-core machine is slow at that. */
export const DEFAULT_SERVICE_START_TIMEOUT_MS = 30_000;

export interface ServiceProcessOptions {
  /** The entry point, run as `node <script>`. */
  script: string;
  /** Environment on top of this process's (host, NATS URL, region...). */
  env?: Record<string, string>;
  /** The variable the service reads its port from: 0 on the first start, then the port it took. */
  portEnv: string;
  startTimeoutMs?: number;
}

export interface ServiceProcess {
  /** 0 until the first start has reported its URL. */
  readonly port: number;
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly running: boolean;
  /** kill -9; resolves once the process is gone. Nothing happens if it is not running. */
  kill(): Promise<void>;
  /** Starts the service again on its port, after a kill or a stop. */
  restart(): Promise<void>;
  /** SIGTERM, the service's graceful shutdown (SIGKILL after a grace period). */
  stop(): Promise<void>;
}

export async function startServiceProcess(options: ServiceProcessOptions): Promise<ServiceProcess> {
  let child: ChildProcess | undefined;
  let port = 0;
  const launch = async () => {
    const env = { ...process.env, ...options.env, [options.portEnv]: String(port) };
    const proc = spawn(process.execPath, [options.script], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    killOnExit(proc);
    child = proc;
    port = await listeningPort(proc, options.startTimeoutMs ?? DEFAULT_SERVICE_START_TIMEOUT_MS);
  };
  await launch();
  const running = () => child !== undefined && !hasExited(child);
  return {
    get port() {
      return port;
    },
    get url() {
      return `http://127.0.0.1:${port}`;
    },
    get running() {
      return running();
    },
    kill: async () => {
      if (running()) await terminate(child as ChildProcess, 'SIGKILL');
    },
    restart: launch,
    stop: async () => {
      if (running()) await terminate(child as ChildProcess, 'SIGTERM');
    },
  };
}

/** The port of the `listening` line's URL; the output's tail goes into the error when it never comes. */
function listeningPort(proc: ChildProcess, timeoutMs: number): Promise<number> {
  const output = keepOutputTail(proc);
  return new Promise((resolve, reject) => {
    const fail = (why: string) => {
      clearTimeout(timer);
      reject(new Error(`${why}:\n${output()}`));
    };
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      fail(`service did not start in ${timeoutMs} ms`);
    }, timeoutMs);
    proc.once('exit', (code, signal) => fail(`service exited with ${code ?? signal}`));
    createInterface({ input: proc.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const url = listeningUrl(line);
      if (url === undefined) return;
      clearTimeout(timer);
      resolve(Number(new URL(url).port));
    });
  });
}

function listeningUrl(line: string): string | undefined {
  try {
    const entry = JSON.parse(line) as { msg?: string; url?: string };
    return entry.msg === 'listening' ? entry.url : undefined;
  } catch {
    // Not a log entry (a stray print): not the line we wait for.
    return undefined;
  }
}
