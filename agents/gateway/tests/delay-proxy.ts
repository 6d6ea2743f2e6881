/**
 * @module delay-proxy
 * A TCP proxy on loopback that delays every chunk, both ways, by a settable number of
 * milliseconds: distance, for tests. Chunks keep their order when the delay changes, and
 * hang-ups travel behind the data.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net';

export interface DelayProxy {
  readonly port: number;
  delayMs: number;
  close(): Promise<void>;
}

export async function startDelayProxy(targetPort: number, delayMs: number): Promise<DelayProxy> {
  const sockets = new Set<Socket>();
  const proxy = { delayMs } as { delayMs: number };
  const pipe = (from: Socket, to: Socket) => {
    let lastAt = 0;
    const later = (action: () => void) => {
      const at = Math.max(Date.now() + proxy.delayMs, lastAt);
      lastAt = at;
      setTimeout(action, at - Date.now());
    };
    from.on('data', (chunk) => later(() => to.writable && to.write(chunk)));
    // Bytes sent before a sender hangs up still arrive, late, as on a real network: a
    // request aborted by a client's timeout may still reach the server and be acted on.
    from.on('end', () => later(() => to.end()));
    from.on('close', () => later(() => to.end()));
    // A reset (or a refused upstream) is passed on as a reset.
    from.on('error', () => later(() => to.destroy()));
  };
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: '127.0.0.1', port: targetPort });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
    }
    pipe(client, upstream);
    pipe(upstream, client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return Object.assign(proxy, {
    port: typeof address === 'object' && address ? address.port : 0,
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  });
}
