/**
 * The `memmesh` command as a real child process (its bin, on the project's Node) against a
 * live gateway in front of a live region agent (real, locked-down nats-server): every
 * command, --json, exit codes, and `memmesh mcp` over stdio with the SDK's v2 client (and
 * the 1.x client, of the 2025 revisions). The README documents every variable it reads.
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { createClient } from '@memmesh/client';
import { type LiveStack, startLiveStack } from '@memmesh/gateway/testing';
import { Client as ClientV2 } from '@modelcontextprotocol/client';
import { StdioClientTransport as StdioV2 } from '@modelcontextprotocol/client/stdio';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport as StdioV1 } from '@modelcontextprotocol/sdk/client/stdio.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI_ENV_NAMES, EXIT } from '../src/index.ts';

const BIN = new URL('../bin/memmesh.ts', import.meta.url).pathname;
const ADMIN_KEY = 'operator-admin-key-7f3a';
let stack: LiveStack;
let url = '';

beforeAll(async () => {
  stack = await startLiveStack({ adminKey: ADMIN_KEY });
  url = stack.url;
}, 60_000);

afterAll(async () => {
  await stack?.stop();
});

const env = (overrides: Record<string, string> = {}) => ({
  PATH: process.env.PATH ?? '',
  [CLI_ENV_NAMES.url]: url,
  [CLI_ENV_NAMES.apiKey]: 'acme-dev-key',
  ...overrides,
});

/** Runs `memmesh …` and answers its exit code and output, never throwing on a non-zero exit. */
async function memmesh(args: string[], overrides: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, [BIN, ...args], {
      env: env(overrides),
      timeout: 30_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const failed = err as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe('cli - commands', () => {
  it('cli - add, search, get, list, history, delete, with exit codes', async () => {
    const text = 'The night ferry to the islands leaves from pier seven';
    const add = await memmesh([
      'add',
      text,
      '--id',
      'cli/ferry',
      '--user',
      'ann',
      '--meta',
      'kind=note',
      '--wait',
      '--json',
    ]);
    expect(add.code, add.stderr).toBe(EXIT.ok);
    const { version } = JSON.parse(add.stdout);
    const search = await memmesh(['search', 'ferry to the islands', '--top-k', '3', '--user', 'ann']);
    expect(search.stdout).toContain('cli/ferry');
    const get = await memmesh(['get', 'cli/ferry', '--json']);
    expect(JSON.parse(get.stdout)).toMatchObject({
      id: 'cli/ferry',
      text,
      version,
      metadata: { kind: 'note' },
    });
    const list = await memmesh(['list', '--user', 'ann', '--all', '--json']);
    expect(JSON.parse(list.stdout).memories.map((m: { id: string }) => m.id)).toEqual(['cli/ferry']);
    const history = await memmesh(['history', 'cli/ferry']);
    expect(history.stdout).toContain(`${version}\tupsert`);
    const conflict = await memmesh(['delete', 'cli/ferry', '--if-version', String(version + 99)]);
    expect(conflict.code).toBe(EXIT.conflict);
    expect(conflict.stderr).toContain('version_conflict');
    expect((await memmesh(['delete', 'cli/ferry', '--wait'])).code).toBe(EXIT.ok);
    const gone = await memmesh(['get', 'cli/ferry']);
    expect(gone.code).toBe(EXIT.notFound);
    expect(gone.stderr).toMatch(/^memmesh: not_found: /);
  });

  it('cli - usage, configuration and key errors have their own exit codes', async () => {
    expect((await memmesh(['frobnicate'])).code).toBe(EXIT.usage);
    expect((await memmesh(['get', 'a', '--no-such-flag'])).code).toBe(EXIT.usage);
    const noKey = await memmesh(['get', 'a'], { [CLI_ENV_NAMES.apiKey]: '' });
    expect(noKey.code).toBe(EXIT.usage);
    expect(noKey.stderr).toContain(CLI_ENV_NAMES.apiKey);
    const wrongKey = await memmesh(['get', 'a'], { [CLI_ENV_NAMES.apiKey]: 'not-a-known-key-1' });
    expect(wrongKey.code).toBe(EXIT.auth);
    const bad = await memmesh(['add', '   ']);
    expect(bad.code).toBe(EXIT.failed);
    expect(bad.stderr).toContain('bad_request');
    expect((await memmesh(['--help'])).stdout).toContain('Usage: memmesh');
  });

  it('cli - regions, stats, an erasure receipt, and the admin reads with the admin key', async () => {
    const regions = await memmesh(['regions', '--json']);
    expect(regions.code, regions.stderr).toBe(EXIT.ok);
    expect(JSON.parse(regions.stdout).regions.map((r: { region: string }) => r.region)).toEqual([
      'us-east-1',
    ]);
    expect((await memmesh(['regions'])).stdout).toMatch(/^us-east-1\t\w+\thealthy\t/);
    await memmesh(['add', 'A note for the stats', '--id', 'cli/stats', '--wait']);
    const stats = JSON.parse((await memmesh(['stats', '--json'])).stdout);
    expect(stats.region).toBe('us-east-1');
    expect(stats.shards.reduce((sum: number, s: { docs: number }) => sum + s.docs, 0)).toBeGreaterThan(0);
    expect((await memmesh(['stats'])).stdout).toMatch(/^us-east-1\tready\t\d+ memories in \d+ shards/);

    const client = createClient({ url, apiKey: 'acme-dev-key' });
    await client.add({ id: 'cli/erased', text: 'erase me', scope: { userId: 'cli-erased' } }, { wait: true });
    const { id } = await client.erase({ userId: 'cli-erased' });
    const receipt = await memmesh(['erasure', id, '--json']);
    expect(receipt.code, receipt.stderr).toBe(EXIT.ok);
    expect(JSON.parse(receipt.stdout)).toMatchObject({ id, tenant: 'acme', scope: { userId: 'cli-erased' } });
    const admin = { [CLI_ENV_NAMES.apiKey]: ADMIN_KEY };
    expect(JSON.parse((await memmesh(['admin', 'erasure', id, '--json'], admin)).stdout).id).toBe(id);
    const policy = await memmesh(['admin', 'policy', 'acme', '--json'], admin);
    expect(policy.code, policy.stderr).toBe(EXIT.ok);
    expect(JSON.parse(policy.stdout)).toMatchObject({ tenant: 'acme', home: 'us-east-1' });
    const keys = await memmesh(['admin', 'keys', 'acme', '--json'], admin);
    expect(keys.code, keys.stderr).toBe(EXIT.ok);
    expect(Array.isArray(JSON.parse(keys.stdout).keys)).toBe(true);
    const job = await memmesh(['admin', 'reindex', 'rx-us-east-1-000000000000'], admin);
    expect(job.code).toBe(EXIT.notFound);
    // A tenant key is not the operator's.
    expect((await memmesh(['admin', 'policy', 'acme'])).code).toBe(EXIT.auth);
  });

  it('cli - the README documents every variable the CLI reads', async () => {
    const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
    for (const name of Object.values(CLI_ENV_NAMES)) expect(readme).toContain(`\`${name}\``);
  });
});

const STDIO_CLIENTS = {
  v2: async () => {
    const client = new ClientV2({ name: 'cli-test', version: '1.0.0' });
    await client.connect(new StdioV2({ command: process.execPath, args: [BIN, 'mcp'], env: env() }));
    return client;
  },
  v1: async () => {
    const client = new ClientV1({ name: 'cli-test-v1', version: '1.0.0' });
    await client.connect(new StdioV1({ command: process.execPath, args: [BIN, 'mcp'], env: env() }));
    return client;
  },
};

for (const [label, connect] of Object.entries(STDIO_CLIENTS)) {
  describe(`cli - memmesh mcp over stdio, ${label} client`, () => {
    it('cli - lists the tools, adds a memory and finds it, and a bad argument is a tool error', async () => {
      const mcp = await connect();
      try {
        const { tools } = await mcp.listTools();
        expect(tools.map((t) => t.name)).toContain('search_memories');
        const text = `Stdio ${label} note: the spare key hangs behind the boiler`;
        const added = (await mcp.callTool({ name: 'add_memory', arguments: { text, wait: true } })) as {
          structuredContent?: { id: string };
        };
        const found = (await mcp.callTool({ name: 'search_memories', arguments: { query: text } })) as {
          structuredContent?: { results: Array<{ id: string }> };
        };
        expect(found.structuredContent?.results.map((r) => r.id)).toContain(added.structuredContent?.id);
        const bad = (await mcp.callTool({ name: 'get_memory', arguments: { id: '../nope' } })) as {
          isError?: boolean;
          content: Array<{ text?: string }>;
        };
        expect(bad.isError).toBe(true);
        expect(JSON.parse(bad.content[0]?.text ?? '{}').error.code).toBe('bad_request');
      } finally {
        await mcp.close();
      }
    });
  });
}
