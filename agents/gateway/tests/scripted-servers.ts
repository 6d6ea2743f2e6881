/**
 * @module scripted-servers
 * Real HTTP servers on loopback that play a region with scripted answers (429, 503, a hang,
 * a reset), for the rules that real agents cannot be made to break on demand. Each counts
 * the requests it received.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { RegionConfig } from '@memmesh/routing';

export interface TestServer {
  readonly url: string;
  readonly port: number;
  /** Requests received, `/readyz` probes excluded. */
  readonly requests: number;
  close(): Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => void;

export const answer =
  (status: number, body: unknown = {}, headers: Record<string, string> = {}): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json', ...headers });
    res.end(JSON.stringify(body));
  };

/** `readyStatus` is what `/readyz` answers (200 unless told). */
export async function startTestServer(handler: Handler, readyStatus = () => 200): Promise<TestServer> {
  let requests = 0;
  const server: Server = createServer((req, res) => {
    if (req.url === '/readyz') return answer(readyStatus())(req, res);
    requests++;
    // Read the body first, as a real server would, then answer.
    req.resume();
    req.on('end', () => handler(req, res));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    get requests() {
      return requests;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A port that nothing listens on: connections to it are refused. */
export async function closedPort(): Promise<number> {
  const server = await startTestServer(answer(200));
  await server.close();
  return server.port;
}

export function regionConfig(id: string, latitude: number, longitude: number): RegionConfig {
  return {
    id,
    location: { latitude, longitude },
    residency: 'test',
    nats: { cluster: id, servers: 1 },
    shardCount: 1,
    streamReplicas: 1,
    backends: { index: 'embedded', cache: 'lru', embedder: 'local' },
  };
}
