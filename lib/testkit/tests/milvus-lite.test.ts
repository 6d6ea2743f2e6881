import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startMilvusLite } from '../src/index.ts';

const CONNECT_TIMEOUT_MS = 1_000;

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('milvus-lite', () => {
  it('milvus-lite - serves on loopback, keeps its data across kill -9 and restarts on the same port', async () => {
    const server = await startMilvusLite();
    try {
      expect(server.address).toBe(`127.0.0.1:${server.port}`);
      expect(await accepts(server.port)).toBe(true);
      const written = await readdir(server.dataDir);
      expect(written.length).toBeGreaterThan(0);

      await server.kill();
      expect(await accepts(server.port)).toBe(false);
      expect(existsSync(server.dataDir)).toBe(true);

      await server.restart();
      expect(await accepts(server.port)).toBe(true);
    } finally {
      await server.stop();
    }
    expect(existsSync(server.dataDir)).toBe(false);
    expect(await accepts(server.port)).toBe(false);
    await server.stop(); // A second stop is harmless.
  });

  it('milvus-lite - a binary that exits reports its output instead of waiting out the timeout', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'memmesh-milvus-fake-'));
    try {
      const bin = join(dir, 'milvus-lite');
      await writeFile(bin, '#!/bin/sh\necho "no milvus here" >&2\nexit 3\n');
      await chmod(bin, 0o755);
      const started = performance.now();
      await expect(startMilvusLite({ bin })).rejects.toThrow(/exited with 3:\n.*no milvus here/s);
      expect(performance.now() - started).toBeLessThan(5_000);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('milvus-lite - a missing binary fails with a clear message', async () => {
    await expect(startMilvusLite({ bin: '/nonexistent/milvus-lite' })).rejects.toThrow(
      /could not run Milvus Lite/,
    );
  });
});
