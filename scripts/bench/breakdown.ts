/**
 * @module breakdown
 * The parts a search is made of, each measured alone in the same run: an HTTP round trip
 * through a bare Hono app, a NATS scatter/gather to idle responders, and one query
 * embedding. With the raw usearch figures they show where the agent's time goes.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { connectBus, requestQuery, serveQueries } from '@memmesh/bus';
import { shardNames } from '@memmesh/core';
import type { Embedder } from '@memmesh/embed';
import { Hono } from 'hono';
import type { BusTarget } from './baselines.ts';
import { closeServer, listen } from './env.ts';
import { type LatencySummary, type LoopBounds, measureLatency } from './stats.ts';

export interface BareHono {
  url: string;
  close(): Promise<void>;
}

/**
 * A Hono app with nothing behind it: POST /v1/search parses the JSON body and answers with
 * a recorded search response, so that the HTTP stack, body parsing and serialising a
 * response of the same size cost what they cost in the agent, and nothing else does.
 */
export async function startBareHono(recordedResponse: unknown): Promise<BareHono> {
  const app = new Hono();
  app.post('/v1/search', async (c) => {
    await c.req.json();
    return c.json(recordedResponse);
  });
  const server: Server = await listen(app.fetch);
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => closeServer(server),
  };
}

/**
 * One request to each of `shardCount` queue-group subscribers at once, as a search
 * scatters, with the agent's own request and reply helpers and payloads of its sizes. The
 * responders answer at once: this is the NATS part of a search and nothing else.
 */
export async function natsScatter(
  target: BusTarget,
  shardCount: number,
  request: Uint8Array,
  reply: Uint8Array,
  bounds: LoopBounds,
): Promise<LatencySummary> {
  const nc = await connectBus({ ...target, name: 'bench-scatter' });
  try {
    const subjects = shardNames(shardCount).map((shard) => `bench.q.${shard}`);
    for (const subject of subjects) {
      serveQueries(nc, { subject, queue: subject }, async (data) => {
        JSON.parse(new TextDecoder().decode(data));
        return reply;
      });
    }
    await nc.flush();
    return await measureLatency(async () => {
      await Promise.all(subjects.map((subject) => requestQuery(nc, subject, request, 2_000)));
    }, bounds);
  } finally {
    await nc.close();
  }
}

/** One query embedded at a time by the agent's embedder, distinct queries (no cache). */
export function embedLatency(
  embedder: Embedder,
  queries: readonly string[],
  bounds: LoopBounds,
): Promise<LatencySummary> {
  return measureLatency(async (i) => {
    await embedder.embed([queries[i % queries.length] as string]);
  }, bounds);
}
