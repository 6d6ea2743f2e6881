import { describe, expect, it } from 'vitest';
import { jsonSender, sendJson, serveHttp } from './http.ts';

/** Echoes what it received, with the headers a region's answer carries. */
const echo = async (request: Request) => {
  const text = await request.text();
  const body = request.url.endsWith('/text')
    ? 'not json'
    : JSON.stringify({
        method: request.method,
        body: text,
        authorization: request.headers.get('authorization'),
        contentType: request.headers.get('content-type'),
      });
  return new Response(body, {
    status: 201,
    headers: { 'x-memmesh-region': 'eu-central-1', 'retry-after': '2' },
  });
};

describe('http', () => {
  it('http - sendJson gives the same reply from an app in process and over HTTP', async () => {
    const http = await serveHttp(echo);
    try {
      const app = {
        request: (path: string, init: RequestInit) => echo(new Request(`http://app${path}`, init)),
      };
      for (const target of [app, http.url]) {
        const r = await sendJson(
          target,
          'POST',
          '/v1/memories',
          { text: 'x' },
          { authorization: 'Bearer k' },
        );
        expect([r.status, r.region, r.retryAfter, r.headers.get('x-memmesh-region')]).toEqual([
          201,
          'eu-central-1',
          '2',
          'eu-central-1',
        ]);
        expect(r.body).toEqual({
          method: 'POST',
          body: '{"text":"x"}',
          authorization: 'Bearer k',
          contentType: 'application/json',
        });
        expect(r.ms).toBeGreaterThanOrEqual(0);
        // A string goes as it is; no body means no Content-Type; a body that is not JSON stays text.
        expect((await sendJson(target, 'POST', '/', '{not json')).body.body).toBe('{not json');
        expect((await sendJson(target, 'GET', '/')).body).toMatchObject({ body: '', contentType: null });
        expect((await sendJson(target, 'GET', '/text')).body).toBe('not json');
      }
    } finally {
      await http.close();
    }
  });

  it('http - jsonSender adds its headers, and a request overrides them (empty included)', async () => {
    const send = jsonSender({ authorization: 'Bearer default' });
    const app = {
      request: (path: string, init: RequestInit) => echo(new Request(`http://app${path}`, init)),
    };
    expect((await send(app, 'GET', '/')).body.authorization).toBe('Bearer default');
    expect(
      (await send(app, 'GET', '/', undefined, { authorization: 'Bearer other' })).body.authorization,
    ).toBe('Bearer other');
    expect((await send(app, 'GET', '/', undefined, { authorization: '' })).body.authorization).toBe('');
  });

  it('http - a closed server refuses connections, and serves again on the same port', async () => {
    const first = await serveHttp(echo);
    await first.close();
    await expect(fetch(first.url)).rejects.toThrow();
    const again = await serveHttp(echo, first.port);
    try {
      expect([again.port, again.url]).toEqual([first.port, first.url]);
      expect((await sendJson(again.url, 'GET', '/')).status).toBe(201);
    } finally {
      await again.close();
    }
  });
});
