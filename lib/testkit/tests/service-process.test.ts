/**
 * A service in a child process against real Node processes: a small HTTP server that logs
 * memmesh's `listening` line is started, killed with SIGKILL, started again on its port and
 * stopped; a service that exits or never says it listens fails its start with its output.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServiceProcess } from '../src/service-process.ts';

const SERVICE = `
import { createServer } from 'node:http';
console.log('starting up');
const server = createServer((_req, res) => res.end(String(process.pid)));
server.listen(Number(process.env.TEST_PORT), '127.0.0.1', () => {
  console.log(JSON.stringify({ msg: 'listening', url: 'http://127.0.0.1:' + server.address().port }));
});
process.on('SIGTERM', () => server.close(() => process.exit(0)));
`;

let dir: string;
const script = (name: string) => join(dir, name);

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'memmesh-service-test-'));
  await writeFile(script('service.mjs'), SERVICE);
  await writeFile(script('exits.mjs'), "console.error('no NATS at nats://nowhere'); process.exit(3);");
  await writeFile(script('silent.mjs'), 'setInterval(() => {}, 1_000);');
});

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('service process', () => {
  it('service process - serves, dies with kill -9, and comes back on the same port', async () => {
    const service = await startServiceProcess({ script: script('service.mjs'), portEnv: 'TEST_PORT' });
    try {
      expect(service.port).toBeGreaterThan(0);
      expect(service.url).toBe(`http://127.0.0.1:${service.port}`);
      const firstPid = await (await fetch(service.url)).text();
      await service.kill();
      expect(service.running).toBe(false);
      await expect(fetch(service.url)).rejects.toThrow();
      const port = service.port;
      await service.restart();
      expect([service.running, service.port]).toEqual([true, port]);
      expect(await (await fetch(service.url)).text()).not.toBe(firstPid);
      await service.stop();
      expect(service.running).toBe(false);
      await service.kill();
    } finally {
      await service.kill();
    }
  });

  it('service process - a service that exits before listening fails the start with its output', async () => {
    await expect(startServiceProcess({ script: script('exits.mjs'), portEnv: 'TEST_PORT' })).rejects.toThrow(
      /service exited with 3:\n.*no NATS at nats:\/\/nowhere/,
    );
  });

  it('service process - a service that never says it listens is killed after the start timeout', async () => {
    const started = Date.now();
    await expect(
      startServiceProcess({ script: script('silent.mjs'), portEnv: 'TEST_PORT', startTimeoutMs: 300 }),
    ).rejects.toThrow('service did not start in 300 ms');
    expect(Date.now() - started).toBeLessThan(5_000);
  });
});
