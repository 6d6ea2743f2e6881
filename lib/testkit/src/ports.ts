/**
 * @module ports
 * Free loopback ports for servers that cannot pick their own (DynamoDB Local, redis-server)
 * or whose ports peers must know before they start (NATS routes and gateways).
 *
 * A port is found by binding 127.0.0.1:0, reading the port the kernel chose and releasing
 * it. Between the release and the server's own bind another process may take it; callers
 * keep that window short and retry a bounded number of times when their server reports the
 * address in use.
 */
import { createServer, type Server } from 'node:net';

/** The most ports one call hands out: a topology of a few dozen servers, not a port scan. */
export const FREE_PORTS_MAX = 256;

/**
 * `count` distinct free ports. All listeners are held open until every port is known, so the
 * kernel cannot hand the same port out twice within one call.
 */
export async function freeLoopbackPorts(count: number): Promise<number[]> {
  if (!Number.isInteger(count) || count < 1 || count > FREE_PORTS_MAX) {
    throw new RangeError(`port count must be an integer in 1..${FREE_PORTS_MAX}, got ${count}`);
  }
  const servers: Server[] = [];
  try {
    for (let i = 0; i < count; i++) servers.push(await listenOnAnyPort());
    return servers.map(portOf);
  } finally {
    await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  }
}

export async function freeLoopbackPort(): Promise<number> {
  const [port] = await freeLoopbackPorts(1);
  return port!;
}

function listenOnAnyPort(): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    // A probe listener must never keep the test process alive.
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => resolve(server));
  });
}

function portOf(server: Server): number {
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  if (port <= 0) throw new Error('no port from 127.0.0.1:0');
  return port;
}
