/**
 * The LangChain.js retriever with the real @langchain/core against a live gateway and region
 * agent (real, locked-down nats-server): a stored memory comes back for a matching query.
 */
import type { Server } from 'node:http';
import { serve } from '@hono/node-server';
import { createClient } from '@memmesh/client';
import { type Gateway, resolveGatewayConfig, startGateway } from '@memmesh/gateway';
import { type RegionAgent, resolveConfig, startRegionAgent } from '@memmesh/region-agent';
import { type LockedNats, startLockedNats } from '@memmesh/region-agent/testing';
import { silentLogger } from '@memmesh/telemetry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemmeshRetriever } from '../src/index.ts';

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

describe('langchain - retriever', () => {
  it('langchain - invoke answers the stored memory as a Document, within its scope', async () => {
    const client = createClient({ url, apiKey: 'acme-dev-key' });
    await client.add({
      id: 'lc-1',
      text: 'Invoices are approved by the finance lead on Fridays',
      scope: { userId: 'lc' },
    });
    await client.add({ id: 'lc-2', text: 'Invoices of another user', scope: { userId: 'someone-else' } });
    const retriever = new MemmeshRetriever({ client, topK: 2, filter: { scope: { userId: 'lc' } } });
    const docs = await retriever.invoke('who approves invoices?');
    expect(docs.map((d) => d.metadata.id)).toEqual(['lc-1']);
    expect(docs[0]?.pageContent).toBe('Invoices are approved by the finance lead on Fridays');
    expect(docs[0]?.metadata.scope).toEqual({ userId: 'lc' });
  });
});
