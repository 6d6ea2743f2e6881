/**
 * @module gateway-memory
 * `npm run bench:gateway`: the gateway's memory, started as `npm start` starts it (its own
 * process, the regions of regions/, the in-memory routing table, tracing off), after a bounded
 * number of requests, beside a baseline measured in the same run: a bare Hono app on the same
 * Node and @hono/node-server, answering the same number of requests. Prints a Markdown table.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';

const ROOT = new URL('../..', import.meta.url).pathname;
const GATEWAY_MAIN = `${ROOT}agents/gateway/src/main.ts`;
const REQUESTS = 500;
const START_TIMEOUT_MS = 30_000;
const REQUEST_TIMEOUT_MS = 5_000;

/** A bare Hono app that logs the same `listening` line as the services. */
const BARE_HONO = `
import { serve } from '@hono/node-server';
import { Hono } from 'hono';
const app = new Hono();
app.get('/healthz', (c) => c.json({ status: 'ok' }));
serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) =>
  console.log(JSON.stringify({ msg: 'listening', url: 'http://127.0.0.1:' + info.port })));
`;

interface Measured {
  rssMiB: number;
  peakMiB: number;
  nativeLibraries: string[];
}

async function listening(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('did not start in time')), START_TIMEOUT_MS);
    child.once('exit', (code) => reject(new Error(`exited with ${code}`)));
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', (line) => {
      const entry = JSON.parse(line) as { msg?: string; url?: string };
      if (entry.msg !== 'listening' || !entry.url) return;
      clearTimeout(timer);
      resolve(entry.url);
    });
  });
}

async function measure(child: ChildProcess, paths: string[]): Promise<Measured> {
  const url = await listening(child);
  for (let i = 0; i < REQUESTS; i++) {
    const path = paths[i % paths.length] as string;
    const res = await fetch(`${url}${path}`, {
      headers: { authorization: 'Bearer acme-dev-key' },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    await res.arrayBuffer();
  }
  const status = await readFile(`/proc/${child.pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
  const maps = await readFile(`/proc/${child.pid}/maps`, 'utf8');
  const natives = [
    ...new Set(
      maps
        .split('\n')
        .filter((l) => l.endsWith('.node'))
        .map((l) => l.split('/').pop()),
    ),
  ];
  return { rssMiB: kib('VmRSS') / 1024, peakMiB: kib('VmHWM') / 1024, nativeLibraries: natives as string[] };
}

async function run(command: string[], env: Record<string, string>, paths: string[]): Promise<Measured> {
  const child = spawn(process.execPath, command, {
    cwd: `${ROOT}agents/gateway`,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  try {
    return await measure(child, paths);
  } finally {
    child.kill('SIGTERM');
  }
}

const gateway = await run(
  [GATEWAY_MAIN],
  {
    MEMMESH_GATEWAY_PORT: '0',
    MEMMESH_REGIONS_DIR: `${ROOT}regions`,
    // No agent is needed for the gateway's own footprint: it answers these paths itself.
    MEMMESH_REGION_ENDPOINTS: 'us-east-1=http://127.0.0.1:9',
    OTEL_SDK_DISABLED: 'true',
  },
  ['/healthz', '/readyz', '/v1/regions', '/openapi.json'],
);
const bare = await run(['--input-type=module', '-e', BARE_HONO], {}, ['/healthz']);
const mib = (value: number) => value.toFixed(1);
console.log(`Measured ${new Date().toISOString()} with npm run bench:gateway, Node ${process.version}.`);
console.log(`${REQUESTS} requests each, then the process's resident memory (VmRSS) and its peak (VmHWM).\n`);
console.log('| process | RSS (MiB) | peak (MiB) | native libraries | ratio to bare Hono |');
console.log('| --- | --- | --- | --- | --- |');
const row = (name: string, m: Measured) =>
  `| ${name} | ${mib(m.rssMiB)} | ${mib(m.peakMiB)} | ${m.nativeLibraries.join(', ') || 'none'} | ${(m.rssMiB / bare.rssMiB).toFixed(2)}× |`;
console.log(row('gateway (as npm start runs it)', gateway));
console.log(row('bare Hono on @hono/node-server (baseline)', bare));
