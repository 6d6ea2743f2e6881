import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { lockDataDir } from './data-dir-lock.ts';

let dataDir: string;

beforeEach(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'memmesh-lock-'));
});

afterEach(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('data dir lock', () => {
  it('data dir lock - a second agent on the same directory is refused while the first lives', async () => {
    const first = await lockDataDir(dataDir, 'us-east-1', 'us-east-1-a0');
    // Another live process holds it: pid 1 always exists.
    await writeFile(first.path, '1 us-east-1-a9\n');
    await expect(lockDataDir(dataDir, 'us-east-1', 'us-east-1-a1')).rejects.toThrow(
      /in use by agent us-east-1-a9 \(pid 1\): give each agent its own MEMMESH_DATA_DIR/,
    );
  });

  it('data dir lock - regions of one directory lock separately', async () => {
    const us = await lockDataDir(dataDir, 'us-east-1', 'us-east-1-a0');
    const eu = await lockDataDir(dataDir, 'eu-central-1', 'eu-central-1-a0');
    expect(us.path).not.toBe(eu.path);
    await us.release();
    await eu.release();
  });

  it('data dir lock - the lock of a process that died is taken over', async () => {
    const dead = spawnSync(process.execPath, ['-e', '']).pid;
    await mkdir(join(dataDir, 'us-east-1'), { recursive: true });
    await writeFile(join(dataDir, 'us-east-1', '.lock'), `${dead} us-east-1-a0\n`);
    const lock = await lockDataDir(dataDir, 'us-east-1', 'us-east-1-a0');
    expect(await readFile(lock.path, 'utf8')).toBe(`${process.pid} us-east-1-a0\n`);
    await lock.release();
    await expect(readFile(lock.path, 'utf8')).rejects.toThrow(/ENOENT/);
  });

  it('data dir lock - release leaves a lock that someone else took over', async () => {
    const lock = await lockDataDir(dataDir, 'us-east-1', 'us-east-1-a0');
    await writeFile(lock.path, '1 us-east-1-a1\n');
    await lock.release();
    expect(await readFile(lock.path, 'utf8')).toBe('1 us-east-1-a1\n');
  });
});
