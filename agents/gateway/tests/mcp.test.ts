/**
 * MCP at the gateway's /mcp, with the SDK's own clients: the v2 client (current protocol
 * revision) and the v1 client `@modelcontextprotocol/sdk` (2025 revisions), against the same
 * endpoint of a live gateway in front of a live region agent (real, locked-down nats-server).
 * Each lists the tools with their schemas and hints, adds memories and finds them by search,
 * gets, updates (ifVersion), lists, reads the history of and deletes one; a bad argument is a
 * tool error with the API's code; a second tenant's key sees none of it; no key or a wrong
 * key is refused with 401 before any MCP is spoken. forget_memories counts before it erases
 * (dry run by default) and get_erasure reads the receipt; the region agent's own /mcp serves
 * the same tools behind its key check.
 */
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { TOOL_NAMES } from '@memmesh/mcp';
import { type RegionAgent, resolveConfig, startRegionAgent } from '@memmesh/region-agent';
import { type LockedNats, startLockedNats } from '@memmesh/region-agent/testing';
import { silentLogger } from '@memmesh/telemetry';
import {
  Client as ClientV2,
  StreamableHTTPClientTransport as TransportV2,
} from '@modelcontextprotocol/client';
import { Client as ClientV1 } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport as TransportV1 } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Gateway, resolveGatewayConfig, startGateway } from '../src/index.ts';

let nats: LockedNats;
let agent: RegionAgent;
let gateway: Gateway;
let server: Server;
let url = '';
/** The region agent's own /mcp, the same handler behind the agent's key check. */
let agentMcpUrl = '';
const OTHER_KEY = 'other-tenant-key-1';

beforeAll(async () => {
  nats = await startLockedNats('us-east-1');
  agent = await startRegionAgent(
    resolveConfig({ region: 'us-east-1', ...nats.agent, port: 0 }),
    silentLogger,
  );
  await agent.routing.putTenant({ tenant: 'other', home: 'us-east-1' });
  await agent.routing.putApiKey(OTHER_KEY, 'other');
  const agentServer = serve({ fetch: agent.app.fetch, hostname: '127.0.0.1', port: 0 }) as Server;
  await new Promise((resolve) => agentServer.once('listening', resolve));
  const agentPort = (agentServer.address() as { port: number }).port;
  agentMcpUrl = `http://127.0.0.1:${agentPort}/mcp`;
  const config = resolveGatewayConfig({ endpoints: { 'us-east-1': `http://127.0.0.1:${agentPort}` } });
  gateway = await startGateway(config, silentLogger, agent.routing);
  server = serve({ fetch: gateway.app.fetch, hostname: '127.0.0.1', port: 0 }) as Server;
  await new Promise((resolve) => server.once('listening', resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}/mcp`;
  afterAll(() => new Promise((resolve) => agentServer.close(resolve)));
}, 60_000);

afterAll(async () => {
  server?.closeAllConnections();
  server?.close();
  await gateway?.close();
  await agent?.close();
  await nats?.stop();
});

interface McpCaller {
  listTools(): Promise<{ tools: Array<Record<string, unknown> & { name: string }> }>;
  callTool(params: { name: string; arguments: Record<string, unknown> }): Promise<unknown>;
  close(): Promise<void>;
}
type Result = {
  isError?: boolean;
  structuredContent?: Record<string, unknown>;
  content: Array<{ type: string; text?: string }>;
};

const headers = (key: string) => ({ authorization: `Bearer ${key}` });
const CLIENTS = {
  'v2 client (current revision)': async (key: string): Promise<McpCaller> => {
    const client = new ClientV2({ name: 'memmesh-test', version: '1.0.0' });
    await client.connect(new TransportV2(new URL(url), { requestInit: { headers: headers(key) } }));
    return client as unknown as McpCaller;
  },
  'v1 client (2025 revisions)': async (key: string): Promise<McpCaller> => {
    const client = new ClientV1({ name: 'memmesh-test-v1', version: '1.0.0' });
    await client.connect(new TransportV1(new URL(url), { requestInit: { headers: headers(key) } }));
    return client as unknown as McpCaller;
  },
};

for (const [label, connect] of Object.entries(CLIENTS)) {
  describe(`mcp - ${label}`, () => {
    const tag = label.startsWith('v2') ? 'v2' : 'v1';
    const call = async (mcp: McpCaller, name: string, args: Record<string, unknown>) =>
      (await mcp.callTool({ name, arguments: args })) as Result;

    it('mcp - lists the tools with titles, schemas and hints', async () => {
      const mcp = await connect('acme-dev-key');
      const { tools } = await mcp.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual([...TOOL_NAMES].sort());
      for (const tool of tools) {
        expect(tool.title, tool.name).toBeTruthy();
        expect((tool.inputSchema as { type: string }).type).toBe('object');
        expect((tool.outputSchema as { type: string }).type).toBe('object');
        const hints = tool.annotations as Record<string, boolean>;
        expect(typeof hints.readOnlyHint, tool.name).toBe('boolean');
        expect(typeof hints.destructiveHint, tool.name).toBe('boolean');
        expect(typeof hints.idempotentHint, tool.name).toBe('boolean');
      }
      const byName = Object.fromEntries(tools.map((t) => [t.name, t.annotations as Record<string, boolean>]));
      expect(byName.search_memories?.readOnlyHint).toBe(true);
      expect(byName.delete_memory?.destructiveHint).toBe(true);
      await mcp.close();
    });

    it('mcp - add, search, get, update, list, history, delete', async () => {
      const mcp = await connect('acme-dev-key');
      const id = `mcp-${tag}-1`;
      const text = `The ${tag} lighthouse keeper logs the fog horn at dawn`;
      const added = await call(mcp, 'add_memory', { id, text, scope: { userId: `u-${tag}` }, wait: true });
      expect(added.isError).toBeFalsy();
      const version = added.structuredContent?.version as number;
      const found = await call(mcp, 'search_memories', { query: text, topK: 3, minVersion: version });
      const hits = found.structuredContent?.results as Array<{ id: string }>;
      expect(hits.map((h) => h.id)).toContain(id);
      expect((await call(mcp, 'get_memory', { id })).structuredContent?.text).toBe(text);
      const stale = await call(mcp, 'update_memory', { id, text: 'lost update', ifVersion: version + 1000 });
      expect(stale.isError).toBe(true);
      expect(JSON.parse(stale.content[0]?.text ?? '{}').error.code).toBe('version_conflict');
      const updated = await call(mcp, 'update_memory', {
        id,
        text: `${text}, twice`,
        scope: { userId: `u-${tag}` },
        ifVersion: version,
        wait: true,
      });
      expect(updated.isError).toBeFalsy();
      const listed = await call(mcp, 'list_memories', { userId: `u-${tag}` });
      expect(
        (listed.structuredContent?.memories as Array<{ id: string }> | undefined)?.map((m) => m.id),
      ).toEqual([id]);
      const history = await call(mcp, 'memory_history', { id });
      expect(history.structuredContent?.versions).toHaveLength(2);
      expect((await call(mcp, 'delete_memory', { id, wait: true })).isError).toBeFalsy();
      const gone = await call(mcp, 'get_memory', { id });
      expect(gone.isError).toBe(true);
      expect(JSON.parse(gone.content[0]?.text ?? '{}').error.code).toBe('not_found');
      await mcp.close();
    });

    it('mcp - a bad argument is a tool error with the API code; the server keeps serving', async () => {
      const mcp = await connect('acme-dev-key');
      const empty = await call(mcp, 'add_memory', { text: '   ' });
      expect(empty.isError).toBe(true);
      expect(JSON.parse(empty.content[0]?.text ?? '{}').error).toMatchObject({ code: 'bad_request' });
      const topK = await call(mcp, 'search_memories', { query: 'x', topK: 5000 });
      expect(JSON.parse(topK.content[0]?.text ?? '{}').error.code).toBe('bad_request');
      expect((await call(mcp, 'search_memories', { query: 'fog horn' })).isError).toBeFalsy();
      await mcp.close();
    });

    it('mcp - forget_memories counts first (dry run), then erases the scope; get_erasure is its receipt', async () => {
      const mcp = await connect('acme-dev-key');
      const userId = `forget-${tag}`;
      for (const n of [1, 2, 3]) {
        const text = `${tag} forgettable note ${n} about the attic window`;
        await call(mcp, 'add_memory', { id: `${userId}-${n}`, text, scope: { userId }, wait: true });
      }
      await call(mcp, 'add_memory', {
        id: `${userId}-kept`,
        text: 'kept',
        scope: { userId: `${userId}-x` },
        wait: true,
      });
      const dry = await call(mcp, 'forget_memories', { userId });
      expect(dry.isError, dry.content[0]?.text).toBeFalsy();
      expect(dry.structuredContent).toMatchObject({ dryRun: true, matched: 3, matchedAtLeast: false });
      expect(((dry.structuredContent?.sampleIds ?? []) as string[]).sort()).toEqual(
        [1, 2, 3].map((n) => `${userId}-${n}`),
      );
      // The dry run erased nothing.
      expect((await call(mcp, 'get_memory', { id: `${userId}-1` })).isError).toBeFalsy();
      const erased = await call(mcp, 'forget_memories', { userId, dryRun: false });
      const erasure = erased.structuredContent?.erasure as { id: string; state: string };
      expect(erasure.id).toMatch(/^er-us-east-1-/);
      let receipt: Result | undefined;
      // Bounded: at most 60 polls, 250 ms apart.
      for (let poll = 0; poll < 60; poll++) {
        receipt = await call(mcp, 'get_erasure', { id: erasure.id });
        if (receipt.structuredContent?.state === 'done') break;
        await new Promise((resolve) => setTimeout(resolve, 250));
      }
      expect(receipt?.structuredContent).toMatchObject({ id: erasure.id, state: 'done', documents: 3 });
      expect((await call(mcp, 'forget_memories', { userId })).structuredContent?.matched).toBe(0);
      expect((await call(mcp, 'get_memory', { id: `${userId}-kept` })).isError).toBeFalsy();
      await mcp.close();
    });

    it('mcp - forget_memories without a scope id is a tool error with the code, and erases nothing', async () => {
      const mcp = await connect('acme-dev-key');
      for (const args of [{}, { dryRun: false }]) {
        const bad = await call(mcp, 'forget_memories', args);
        expect(bad.isError, JSON.stringify(args)).toBe(true);
        expect(JSON.parse(bad.content[0]?.text ?? '{}').error.code).toBe('bad_request');
      }
      const wrongType = await call(mcp, 'forget_memories', { userId: 7 });
      expect(wrongType.isError).toBe(true);
      const receipt = await call(mcp, 'get_erasure', { id: 'not-an-erasure' });
      expect(JSON.parse(receipt.content[0]?.text ?? '{}').error.code).toBe('bad_request');
      await mcp.close();
    });

    it('mcp - another tenant’s key sees none of these memories', async () => {
      const acme = await connect('acme-dev-key');
      const id = `mcp-${tag}-private`;
      await call(acme, 'add_memory', { id, text: `acme's private ${tag} recipe for plum jam`, wait: true });
      const other = await connect(OTHER_KEY);
      const got = await call(other, 'get_memory', { id });
      expect(JSON.parse(got.content[0]?.text ?? '{}').error.code).toBe('not_found');
      const found = await call(other, 'search_memories', {
        query: `acme's private ${tag} recipe for plum jam`,
      });
      expect(found.structuredContent?.results).toEqual([]);
      const scope = { userId: `iso-${tag}` };
      await call(acme, 'add_memory', { text: `acme ${tag} isolation note`, scope, wait: true });
      expect((await call(other, 'forget_memories', scope)).structuredContent?.matched).toBe(0);
      expect((await call(other, 'list_memories', scope)).structuredContent?.memories).toEqual([]);
      expect((await call(acme, 'forget_memories', scope)).structuredContent?.matched).toBe(1);
      await acme.close();
      await other.close();
    });
  });
}

describe('mcp - on a region agent', () => {
  const connectAgent = async (key: string) => {
    const client = new ClientV2({ name: 'memmesh-test-agent', version: '1.0.0' });
    await client.connect(new TransportV2(new URL(agentMcpUrl), { requestInit: { headers: headers(key) } }));
    return client;
  };

  it('mcp - the agent serves the same tools behind its own key check, tenant from the key', async () => {
    const acme = await connectAgent('acme-dev-key');
    const { tools } = await acme.listTools();
    expect(tools.map((t) => t.name).sort()).toEqual([...TOOL_NAMES].sort());
    const text = 'Region-direct note: the generator is tested on the first Monday';
    const added = (await acme.callTool({ name: 'add_memory', arguments: { text, wait: true } })) as Result;
    const id = added.structuredContent?.id as string;
    const found = (await acme.callTool({ name: 'search_memories', arguments: { query: text } })) as Result;
    expect(((found.structuredContent?.results ?? []) as Array<{ id: string }>).map((r) => r.id)).toContain(
      id,
    );
    const other = await connectAgent(OTHER_KEY);
    const got = (await other.callTool({ name: 'get_memory', arguments: { id } })) as Result;
    expect(JSON.parse(got.content[0]?.text ?? '{}').error.code).toBe('not_found');
    await acme.close();
    await other.close();
  });

  it('mcp - the agent refuses no key or a wrong key with 401', async () => {
    for (const authorization of [undefined, 'Bearer not-a-real-key-0000']) {
      const response = await fetch(agentMcpUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: '{}',
      });
      expect(response.status, String(authorization)).toBe(401);
    }
  });
});

describe('mcp - authentication', () => {
  const initialize = (authorization?: string) =>
    fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
        ...(authorization ? { authorization } : {}),
      },
      body: JSON.stringify({
        jsonrpc: '2.0',
        id: 1,
        method: 'initialize',
        params: {
          protocolVersion: '2025-06-18',
          capabilities: {},
          clientInfo: { name: 'raw', version: '1' },
        },
      }),
    });

  it('mcp - no key or a wrong key is 401 with WWW-Authenticate', async () => {
    for (const authorization of [undefined, 'Bearer not-a-real-key-0000']) {
      const response = await initialize(authorization);
      expect(response.status, String(authorization)).toBe(401);
      expect(response.headers.get('www-authenticate')).toMatch(/Bearer/);
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe('unauthorized');
    }
  });

  it('mcp - the SDK clients refuse to connect without a key', async () => {
    await expect(CLIENTS['v2 client (current revision)']('wrong-key-123456')).rejects.toThrow();
  });

  it('mcp - stateless: no session id, and GET (a 2025 session stream) is 405', async () => {
    const response = await initialize('Bearer acme-dev-key');
    expect(response.status).toBe(200);
    expect(response.headers.get('mcp-session-id')).toBeNull();
    const get = await fetch(url, { headers: { ...headers('acme-dev-key'), accept: 'text/event-stream' } });
    expect(get.status).toBe(405);
  });
});
