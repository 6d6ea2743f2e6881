/**
 * @module harness
 * Test harness: a real nats-server and an in-process region agent, with a small client for
 * `app.request()` (no sockets; the HTTP stack is exercised in process, as hono does).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type NatsServer, startNatsServer } from '@memmesh/testkit';
import {
  type RegionAgent,
  type RegionAgentConfig,
  resolveConfig,
  silentLogger,
  startRegionAgent,
} from '../src/index.ts';

export const ACME = 'acme-dev-key';
export const GLOBEX = 'globex-dev-key';

export interface Harness {
  nats: NatsServer;
  agent: RegionAgent;
  dataDir: string;
  call(
    method: string,
    path: string,
    body?: unknown,
    key?: string,
  ): Promise<{ status: number; body: any; headers: Headers }>;
  stop(): Promise<void>;
}

export async function startHarness(overrides: Partial<RegionAgentConfig> = {}): Promise<Harness> {
  const nats = await startNatsServer();
  const dataDir = await mkdtemp(join(tmpdir(), 'memmesh-agent-'));
  const config = resolveConfig({
    natsUrl: nats.url,
    dataDir,
    port: 0,
    snapshotIntervalMs: 500,
    ...overrides,
  });
  const agent = await startRegionAgent(config, silentLogger);
  return {
    nats,
    agent,
    dataDir,
    async call(method, path, body, key = ACME) {
      const init: RequestInit = { method, headers: { authorization: `Bearer ${key}` } };
      if (body !== undefined) {
        init.body = typeof body === 'string' ? body : JSON.stringify(body);
        (init.headers as Record<string, string>)['content-type'] = 'application/json';
      }
      const res = await agent.app.request(path, init);
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // Leave non-JSON bodies as text so that a test can show what came back.
      }
      return { status: res.status, body: parsed, headers: res.headers };
    },
    async stop() {
      await agent.close();
      await nats.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

/** A sentence no other generated document shares: rare words derived from the index. */
export function distinctiveSentence(i: number): string {
  const syllables = ['ka', 'zu', 'mor', 'vel', 'tri', 'quo', 'plin', 'dex', 'ro', 'sha', 'bix', 'nel'];
  const word = (n: number) => {
    let s = '';
    let x = n;
    for (let k = 0; k < 4; k++) {
      s += syllables[x % syllables.length];
      x = Math.floor(x / syllables.length) + k * 7 + 3;
    }
    return s;
  };
  return `The ${word(i * 3 + 1)} keeps ${word(i * 5 + 2)} beside the ${word(i * 7 + 3)} number ${i}.`;
}
