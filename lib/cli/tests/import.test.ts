/**
 * `memmesh import` and `memmesh export` as real child processes against a live gateway in
 * front of a live region agent (real, locked-down nats-server): a folder of 1,000 files is
 * imported in a pseudo-terminal (util-linux `script`), where the progress bar is drawn, and
 * stopped by a real Ctrl-C (the terminal's ^C, a SIGINT from its line discipline); the same
 * command again, with --json and no terminal, draws no bar and resumes from the saved state;
 * every file is then stored once (counted by id, and each has one version in the log) and
 * `export` gives all 1,000 back as JSON Lines.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { type LiveStack, startLiveStack } from '@memmesh/gateway/testing';
import { eventually } from '@memmesh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_ENV_NAMES, EXIT } from '../src/index.ts';

const BIN = new URL('../bin/memmesh.ts', import.meta.url).pathname;
const FILES = 1_000;
/** Where the first run is stopped: far enough in to show progress, far from the end. */
const STOP_AT_MEMORIES = 150;
let stack: LiveStack;
let dir = '';
let folder = '';
let stateFile = '';

beforeAll(async () => {
  stack = await startLiveStack();
  dir = await mkdtemp(join(tmpdir(), 'memmesh-import-'));
  folder = join(dir, 'notes');
  for (const sub of ['a', 'b', 'c', 'd']) await mkdir(join(folder, sub), { recursive: true });
  for (let n = 0; n < FILES; n++) {
    const name = join(
      folder,
      'abcd'[n % 4] ?? 'a',
      `note-${String(n).padStart(4, '0')}.${n % 2 ? 'md' : 'txt'}`,
    );
    await writeFile(name, `Note ${n}: the ${n % 7}th shelf holds box ${n} of the archive.`);
  }
  await writeFile(join(folder, 'ignored.json'), '{}');
  stateFile = join(dir, 'notes.state.json');
}, 60_000);

afterAll(async () => {
  await stack?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

const env = () => ({
  PATH: process.env.PATH ?? '',
  [CLI_ENV_NAMES.url]: stack.url,
  [CLI_ENV_NAMES.apiKey]: 'acme-dev-key',
});
const IMPORT_ARGS = () => [
  'import',
  folder,
  '--user',
  'importer',
  '--batch-size',
  '10',
  '--wait',
  '--state',
  stateFile,
];

async function memmesh(args: string[]) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], {
      env: env(),
      timeout: 60_000,
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

/** `memmesh …` in a pseudo-terminal: `script` runs it on a pty and copies our stdin to it. */
function inTerminal(args: string[]): { child: ChildProcess; output: () => string; exited: Promise<number> } {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
  const child = spawn('script', ['-qefc', quoted, '/dev/null'], { env: { ...env(), TERM: 'xterm' } });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString('utf8');
  });
  const exited = new Promise<number>((resolve) => child.once('exit', (code) => resolve(code ?? -1)));
  return { child, output: () => output, exited };
}

const offsetOf = async () => {
  if (!existsSync(stateFile)) return undefined;
  const { offset } = JSON.parse(await readFile(stateFile, 'utf8')) as { offset: number };
  return offset;
};

describe('cli - import and export', () => {
  it('cli - a folder of 1,000 files: a drawn bar, Ctrl-C, resumed without a bar, stored once, exported back', async () => {
    const run = inTerminal(IMPORT_ARGS());
    const stoppedAt = await eventually(
      'the import passes the stop point',
      async () => ((await offsetOf()) ?? 0) >= STOP_AT_MEMORIES || undefined,
      { timeoutMs: 60_000, stepMs: 10 },
    );
    expect(stoppedAt).toBe(true);
    run.child.stdin?.write('\x03');
    const code = await Promise.race([
      run.exited,
      new Promise<number>((r) => setTimeout(() => r(-2), 30_000)),
    ]);
    expect(code, run.output()).toBe(EXIT.interrupted);
    // The bar is drawn (cli-progress on the terminal: rate and ETA), then the run says it stopped.
    expect(run.output()).toMatch(/importing .*\d+% \| \d+\/1000 memories \| \d+\/s \| ETA /);
    expect(run.output()).toContain('stopped:');
    const offset = (await offsetOf()) ?? 0;
    expect(offset).toBeGreaterThanOrEqual(STOP_AT_MEMORIES);
    expect(offset).toBeLessThan(FILES);

    const resumed = await memmesh([...IMPORT_ARGS(), '--json']);
    expect(resumed.code, resumed.stderr).toBe(EXIT.ok);
    const summary = JSON.parse(resumed.stdout);
    expect(summary).toMatchObject({ total: FILES, complete: true, failed: 0, resumedFrom: offset });
    expect(summary.imported).toBe(FILES - offset);
    expect(resumed.stderr).not.toContain('ETA');
    expect(resumed.stderr).not.toContain('\u001b[');
    expect(existsSync(stateFile)).toBe(false);

    const exported = await memmesh(['export', '--user', 'importer']);
    expect(exported.code, exported.stderr).toBe(EXIT.ok);
    const lines = exported.stdout.trim().split('\n');
    const ids = lines.map((l) => (JSON.parse(l) as { id: string }).id);
    expect(lines).toHaveLength(FILES);
    expect(new Set(ids).size).toBe(FILES);
    expect(ids).toContain('notes/a/note-0000.txt');
    const first = JSON.parse(lines.find((l) => l.includes('"notes/b/note-0001.md"')) ?? '{}');
    expect(first).toMatchObject({
      text: 'Note 1: the 1th shelf holds box 1 of the archive.',
      metadata: { path: 'b/note-0001.md' },
    });
    // Around the point where it stopped (the batch that may have been sent twice): one version each.
    const sorted = [...ids].sort();
    for (const id of sorted.slice(Math.max(0, offset - 10), offset + 10)) {
      const history = await memmesh(['history', id, '--json']);
      expect(JSON.parse(history.stdout).versions, id).toHaveLength(1);
    }
  }, 180_000);

  it('cli - with --json in a terminal, and with no terminal, no bar is drawn', async () => {
    const small = join(dir, 'small');
    await mkdir(small);
    for (let n = 0; n < 5; n++)
      await writeFile(join(small, `s${n}.md`), `Small note ${n} about the garden gate.`);
    const json = inTerminal(['import', small, '--user', 'small', '--json']);
    expect(await json.exited).toBe(EXIT.ok);
    expect(json.output()).not.toMatch(/ETA/);
    expect(JSON.parse(json.output().trim())).toMatchObject({ total: 5, imported: 5, complete: true });
    const again = await memmesh(['import', small, '--user', 'small']);
    expect(again.code).toBe(EXIT.ok);
    expect(again.stdout).toContain('imported 5 of 5 memories');
    expect(again.stderr).toBe('');
  }, 60_000);

  it('cli - JSON Lines and CSV files, with their own ids and scopes', async () => {
    const jsonl = join(dir, 'facts.jsonl');
    await writeFile(
      jsonl,
      '{"id":"fact-1","text":"Water boils at 100 C at sea level"}\n\n{"text":"Ice melts at 0 C","metadata":{"kind":"phase"}}\n',
    );
    const csv = join(dir, 'people.csv');
    await writeFile(
      csv,
      'id,text,userId,team\np-1,"Ann runs the night shift, Tuesdays",ann,ops\n,Bo likes tea,bo,\n',
    );
    const a = await memmesh(['import', jsonl, '--user', 'facts', '--json']);
    expect(JSON.parse(a.stdout)).toMatchObject({ total: 2, imported: 2 });
    expect((await memmesh(['get', 'facts:3', '--json'])).stdout).toContain('"kind":"phase"');
    const b = await memmesh(['import', csv, '--json']);
    expect(JSON.parse(b.stdout)).toMatchObject({ format: 'csv', total: 2, imported: 2 });
    const ann = JSON.parse((await memmesh(['get', 'p-1', '--json'])).stdout);
    expect(ann).toMatchObject({
      text: 'Ann runs the night shift, Tuesdays',
      scope: { userId: 'ann' },
      metadata: { team: 'ops' },
    });
    expect(JSON.parse((await memmesh(['get', 'people:2', '--json'])).stdout).scope).toEqual({ userId: 'bo' });
    const bad = join(dir, 'bad.jsonl');
    await writeFile(bad, '{"text":"fine"}\nnot json\n');
    const refused = await memmesh(['import', bad]);
    expect(refused.code).toBe(EXIT.usage);
    expect(refused.stderr).toContain('bad.jsonl:2: not JSON');
  }, 60_000);
});
