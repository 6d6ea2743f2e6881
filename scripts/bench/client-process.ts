/**
 * @module client-process
 * Runs client.ts as a child process and returns its result. Every child is bounded by a
 * timeout and remembered until it exits, so that the bench's teardown can stop it.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import type { ClientJob, IngestJob, IngestResult, SearchJob, SearchResult } from './client.ts';

const CLIENT_PATH = new URL('./client.ts', import.meta.url).pathname;
/** Output of one client run: a single JSON summary. */
const OUTPUT_BYTES_MAX = 1024 * 1024;

const running = new Set<ChildProcess>();

export function runClient(job: IngestJob, timeoutMs: number): Promise<IngestResult>;
export function runClient(job: SearchJob, timeoutMs: number): Promise<SearchResult>;
export function runClient(job: ClientJob, timeoutMs: number): Promise<IngestResult | SearchResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLIENT_PATH], { stdio: ['pipe', 'pipe', 'pipe'] });
    running.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      if (stdout.length < OUTPUT_BYTES_MAX) stdout += chunk.toString();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (stderr.length < OUTPUT_BYTES_MAX) stderr += chunk.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      running.delete(child);
      if (code !== 0) {
        reject(
          new Error(`bench client (${job.mode}) exited ${signal ?? code}: ${stderr.trim().slice(-2000)}`),
        );
        return;
      }
      try {
        resolve(JSON.parse(stdout) as IngestResult | SearchResult);
      } catch {
        reject(new Error(`bench client (${job.mode}) printed no result: ${stdout.slice(0, 200)}`));
      }
    });
    child.stdin.end(JSON.stringify(job));
  });
}

/** Stops every client still running (teardown after an error or a signal). */
export function killClients(): void {
  for (const child of running) child.kill('SIGKILL');
  running.clear();
}
