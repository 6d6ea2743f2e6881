/**
 * @module env
 * The real processes the bench measures: a nats-server from the test kit and a region agent
 * started in this process, served over HTTP on a random loopback port. Also the teardown
 * list that stops them, which runs on success, on error and on SIGINT/SIGTERM.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { sleep } from '@memmesh/core';
import type { VectorIndex } from '@memmesh/index';
import { silentLogger } from '@memmesh/telemetry';
import {
  embeddedParts,
  type RegionAgent,
  type RegionAgentConfig,
  startRegionAgent,
} from '../../agents/region/src/index.ts';

/** Longest wait for a started agent to report ready (its shard consumers caught up). */
const READY_WAIT_MS_MAX = 60_000;
const READY_POLL_MS = 10;

export interface Teardown {
  /** Registers a step; steps run last-registered first. */
  add(name: string, step: () => Promise<void> | void): void;
  /** Runs every step once, each even if an earlier one failed. */
  run(): Promise<void>;
}

export function createTeardown(): Teardown {
  const steps: { name: string; step: () => Promise<void> | void }[] = [];
  let ran: Promise<void> | undefined;
  return {
    add: (name, step) => steps.push({ name, step }),
    run() {
      ran ??= (async () => {
        for (const { name, step } of steps.reverse()) {
          try {
            await step();
          } catch (err) {
            console.error(`bench teardown: ${name} failed: ${err instanceof Error ? err.message : err}`);
          }
        }
      })();
      return ran;
    },
  };
}

export interface ServedAgent {
  agent: RegionAgent;
  url: string;
  /** The agent's own shard indexes (its embedded parts, only observed), for in-process figures. */
  indexes: VectorIndex[];
  /** Start → ready (every shard consumer caught up), in ms. */
  readyMs: number;
  close(): Promise<void>;
}

/** Starts a region agent in this process and serves its app on a random loopback port. */
export async function startServedAgent(config: RegionAgentConfig): Promise<ServedAgent> {
  const started = performance.now();
  const parts = embeddedParts(config);
  const indexes: VectorIndex[] = [];
  const openIndex: typeof parts.openIndex = async (origin, shard, dir, model) => {
    const index = await parts.openIndex(origin, shard, dir, model);
    indexes.push(index);
    return index;
  };
  const agent = await startRegionAgent(config, silentLogger, { parts: { ...parts, openIndex } });
  const server = await serveWhenReady(agent);
  const readyMs = performance.now() - started;
  let closed: Promise<void> | undefined;
  return {
    agent,
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    indexes,
    readyMs,
    close() {
      closed ??= (async () => {
        await closeServer(server);
        await agent.close();
      })();
      return closed;
    },
  };
}

/**
 * Serves the agent's app on a loopback port and waits (bounded) until the agent is ready;
 * on failure the agent is closed.
 */
export async function serveWhenReady(agent: RegionAgent): Promise<Server> {
  try {
    const server = await listen(agent.app.fetch);
    const deadline = Date.now() + READY_WAIT_MS_MAX;
    while (!agent.region.ready) {
      if (Date.now() > deadline) {
        await closeServer(server);
        throw new Error('the region agent did not become ready in time');
      }
      await sleep(READY_POLL_MS);
    }
    return server;
  } catch (err) {
    await agent.close();
    throw err;
  }
}

/** Serves a fetch handler with @hono/node-server on 127.0.0.1 and a port the OS picks. */
export async function listen(fetch: (request: Request) => Response | Promise<Response>): Promise<Server> {
  const server = serve({ fetch, hostname: '127.0.0.1', port: 0 }) as Server;
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  return server;
}

export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    // Keep-alive connections would hold close() open until they idle out.
    server.closeAllConnections();
  });
}
