/**
 * The socket limits of both services, against a real server on loopback: a client that sends
 * its headers slowly, or its body slowly, is cut off within its timeout (plus Node's check
 * interval), and connections past the cap are closed as soon as they are accepted. Bodies are
 * read from the Node request itself: whole across chunks, and refused past their limit.
 */
import { connect, type Socket } from 'node:net';
import { silentLogger } from '@memmesh/telemetry';
import { Hono } from 'hono';
import { afterEach, describe, expect, it } from 'vitest';
import { answerErrors, type HttpServerLimits, readBody, type Served, serveApp } from '../src/index.ts';

const LIMITS: HttpServerLimits = {
  headersTimeoutMs: 500,
  requestTimeoutMs: 1_000,
  keepAliveTimeoutMs: 5_000,
  connectionsMax: 3,
};
/** Timeout plus Node's check interval plus slack for a loaded machine. */
const CUT_WITHIN_MS = 4_000;

const opened: { served?: Served; sockets: Socket[] } = { sockets: [] };
afterEach(async () => {
  for (const socket of opened.sockets) socket.destroy();
  opened.sockets = [];
  await opened.served?.close();
});

async function start(limits: HttpServerLimits): Promise<number> {
  const app = new Hono();
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  answerErrors(app, silentLogger);
  app.post('/echo', async (c) => c.text(new TextDecoder().decode(await readBody(c, 1_000))));
  opened.served = serveApp({ fetch: app.fetch, host: '127.0.0.1', port: 0, log: silentLogger, limits });
  return opened.served.listening;
}

/** A raw connection that has sent `data`; resolves with the milliseconds until the server closed it. */
async function heldOpen(
  port: number,
  data: string,
): Promise<{ closedAfterMs: Promise<number>; socket: Socket }> {
  const socket = connect(port, '127.0.0.1');
  opened.sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  socket.on('data', () => undefined);
  const started = performance.now();
  const closedAfterMs = new Promise<number>((resolve) =>
    socket.once('close', () => resolve(performance.now() - started)),
  );
  socket.write(data);
  return { closedAfterMs, socket };
}

const within = (ms: number) =>
  new Promise<number>((resolve) => setTimeout(() => resolve(Number.POSITIVE_INFINITY), ms));

describe('serve', () => {
  it('serve - a client that sends its headers slowly is cut off after the headers timeout', async () => {
    const port = await start(LIMITS);
    const { closedAfterMs } = await heldOpen(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n');
    const ms = await Promise.race([closedAfterMs, within(CUT_WITHIN_MS)]);
    expect(ms).toBeGreaterThanOrEqual(LIMITS.headersTimeoutMs - 50);
    expect(ms).toBeLessThan(CUT_WITHIN_MS);
  });

  it('serve - a client that sends its body slowly is cut off after the request timeout', async () => {
    const port = await start(LIMITS);
    const head = 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 100\r\n\r\n';
    const { closedAfterMs, socket } = await heldOpen(port, `${head}0123456789`);
    // A trickle keeps the connection busy, but the whole request never arrives in time.
    const trickle = setInterval(() => socket.writable && socket.write('x'), 200);
    try {
      const ms = await Promise.race([closedAfterMs, within(CUT_WITHIN_MS + LIMITS.requestTimeoutMs)]);
      expect(ms).toBeGreaterThanOrEqual(LIMITS.requestTimeoutMs - 50);
      expect(ms).toBeLessThan(CUT_WITHIN_MS + LIMITS.requestTimeoutMs);
    } finally {
      clearInterval(trickle);
    }
  });

  it('serve - connections past the cap are closed at once; those within it are served', async () => {
    const port = await start({ ...LIMITS, headersTimeoutMs: 10_000, requestTimeoutMs: 10_000 });
    const held = [];
    for (let i = 0; i < LIMITS.connectionsMax; i++)
      held.push(await heldOpen(port, 'GET /healthz HTTP/1.1\r\n'));
    const extra = await heldOpen(port, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    expect(await Promise.race([extra.closedAfterMs, within(CUT_WITHIN_MS)])).toBeLessThan(CUT_WITHIN_MS);
    // The held ones are still open, and once they go a new client is served again.
    const stillOpen = await Promise.race([held[0]?.closedAfterMs, within(200)]);
    expect(stillOpen).toBe(Number.POSITIVE_INFINITY);
    for (const { socket } of held) socket.destroy();
    await Promise.all(held.map((h) => h.closedAfterMs));
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, {
      signal: AbortSignal.timeout(CUT_WITHIN_MS),
    });
    expect(res.status).toBe(200);
  });

  it('serve - a chunked body is read whole; one past its limit is 413 and its connection closes', async () => {
    const port = await start(LIMITS);
    const chunked = (parts: string[]) =>
      'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n' +
      parts.map((p) => `${p.length.toString(16)}\r\n${p}\r\n`).join('') +
      '0\r\n\r\n';
    const whole = await heldOpen(port, chunked(['abc', 'def', 'x'.repeat(400)]));
    const echoed = await answerOf(whole.socket);
    expect(echoed).toMatch(/^HTTP\/1\.1 200/);
    expect(echoed.endsWith(`abcdef${'x'.repeat(400)}`)).toBe(true);

    const over = await heldOpen(port, chunked(['y'.repeat(600), 'y'.repeat(600), 'y'.repeat(600)]));
    const refused = await answerOf(over.socket);
    expect(refused).toMatch(/^HTTP\/1\.1 413/);
    expect(refused.toLowerCase()).toContain('connection: close');
    expect(await Promise.race([over.closedAfterMs, within(CUT_WITHIN_MS)])).toBeLessThan(CUT_WITHIN_MS);
  });
});

/** The first answer on a raw connection (its head and body, as text), once it stops arriving. */
async function answerOf(socket: Socket): Promise<string> {
  let text = '';
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('utf8');
  });
  // Bounded: at most 40 polls of 50 ms.
  for (let i = 0; i < 40 && !/\r\n\r\n/.test(text); i++) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 100));
  return text;
}
