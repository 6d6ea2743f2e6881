/**
 * The AI SDK tools with the real `ai` package (its tool()) against a live gateway and region
 * agent (real, locked-down nats-server): remember stores, recall finds, within the scope.
 */
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { createClient } from '@memmesh/client';
import { type Gateway, resolveGatewayConfig, startGateway } from '@memmesh/gateway';
import { type RegionAgent, resolveConfig, startRegionAgent } from '@memmesh/region-agent';
import { type LockedNats, startLockedNats } from '@memmesh/region-agent/testing';
import { silentLogger } from '@memmesh/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { memmeshTools } from '../src/index.ts';

let nats: LockedNats;
let agent: RegionAgent;
let gateway: Gateway;
const servers: Server[] = [];
let url = '';

async function listen(fetch: (request: Request) => Response | Promise<Response>): Promise<string> {
  const server = serve({ fetch, hostname: '127.0.0.1', port: 0 }) as Server;
  await new Promise((resolve) => server.once('listening', resolve));
  servers.push(server);
  return `http://127.0.0.1:${(server.address() as { port: number }).port}`;
}

beforeAll(async () => {
  nats = await startLockedNats('us-east-1');
  agent = await startRegionAgent(
    resolveConfig({ region: 'us-east-1', ...nats.agent, port: 0 }),
    silentLogger,
  );
  const config = resolveGatewayConfig({ endpoints: { 'us-east-1': await listen(agent.app.fetch) } });
  gateway = await startGateway(config, silentLogger, agent.routing);
  url = await listen(gateway.app.fetch);
}, 60_000);

afterAll(async () => {
  for (const server of servers) {
    server.closeAllConnections();
    server.close();
  }
  await gateway?.close();
  await agent?.close();
  await nats?.stop();
});

/** A tool's answer: these tools answer once (a promise), never a stream of partial results. */
async function answered<T>(result: T | PromiseLike<T> | AsyncIterable<T>): Promise<T> {
  const value = await result;
  if (value && typeof value === 'object' && Symbol.asyncIterator in value) throw new Error('streamed answer');
  return value as T;
}

describe('ai-sdk - tools', () => {
  it('ai-sdk - remember stores under the scope, recall finds it and nothing of another scope', async () => {
    const client = createClient({ url, apiKey: 'acme-dev-key' });
    const tools = memmeshTools({ client, scope: { userId: 'ai-user' } });
    const options = { toolCallId: 'call-1', messages: [], context: {} };
    const stored = await answered(
      tools.remember.execute({ text: 'Ann prefers window seats on night trains' }, options),
    );
    expect(stored.version).toBeGreaterThan(0);
    await memmeshTools({ client, scope: { userId: 'ai-other' } }).remember.execute(
      { text: 'Bob prefers window seats on night trains' },
      options,
    );
    const recalled = await answered(
      tools.recall.execute({ query: 'which seat does Ann like on trains?' }, options),
    );
    expect(recalled.memories.map((m) => m.id)).toEqual([stored.id]);
    expect(recalled.memories[0]?.text).toBe('Ann prefers window seats on night trains');
  });
});
