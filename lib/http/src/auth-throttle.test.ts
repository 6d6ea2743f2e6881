import { ErrorCode, isMeshError, MeshError } from '@memmesh/core';
import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import { createAuthThrottle, sourceAddressOf, UNKNOWN_SOURCE } from './auth-throttle.ts';

const WINDOW_MS = 60_000;
const refused = () => Promise.reject(new MeshError(ErrorCode.Unauthorized, 'unknown API key'));
const accepted = () => Promise.resolve('acme');

function throttle(failuresMax = 3, entriesMax = 100) {
  let t = 1_000_000;
  const clock = { advance: (ms: number) => (t += ms) };
  return {
    clock,
    throttle: createAuthThrottle({ failuresMax, windowMs: WINDOW_MS, entriesMax, now: () => t }),
  };
}

const codeOf = async (attempt: Promise<unknown>) =>
  attempt.then(
    () => 'ok',
    (err: unknown) => (isMeshError(err) ? err.code : 'other'),
  );

describe('auth throttle', () => {
  it('auth throttle - past the failures of one source, its attempts are refused unchecked until the window ends', async () => {
    const { clock, throttle: t } = throttle();
    for (let i = 0; i < 3; i++)
      expect(await codeOf(t.attempt('10.0.0.1', `bad-key-${i}-xxxx`, refused))).toBe('unauthorized');
    let checked = false;
    const err = await t
      .attempt('10.0.0.1', 'good-key-0123', async () => {
        checked = true;
        return 'acme';
      })
      .catch((e: unknown) => e as MeshError);
    expect(isMeshError(err, ErrorCode.RateLimited)).toBe(true);
    expect((err as MeshError).retryAfterMs).toBe(WINDOW_MS);
    expect(checked).toBe(false);
    // Another source is not affected, and a success there clears nothing here.
    expect(await codeOf(t.attempt('10.0.0.2', 'good-key-0123', accepted))).toBe('ok');
    expect(await codeOf(t.attempt('10.0.0.1', 'good-key-0123', accepted))).toBe('rate_limited');
    clock.advance(WINDOW_MS);
    expect(await codeOf(t.attempt('10.0.0.1', 'good-key-0123', accepted))).toBe('ok');
  });

  it('auth throttle - guesses sharing a key prefix are refused from any source', async () => {
    const { throttle: t } = throttle();
    for (let i = 0; i < 3; i++) await codeOf(t.attempt(`10.0.1.${i}`, `prefix01-guess-${i}`, refused));
    expect(await codeOf(t.attempt('10.0.2.1', 'prefix01-real-key', accepted))).toBe('rate_limited');
    expect(await codeOf(t.attempt('10.0.2.1', 'another1-real-key', accepted))).toBe('ok');
  });

  it('auth throttle - only presented keys that fail count: no key, successes and other errors do not', async () => {
    const { throttle: t } = throttle();
    for (let i = 0; i < 5; i++) await codeOf(t.attempt('10.0.0.3', undefined, refused));
    for (let i = 0; i < 5; i++) {
      await codeOf(
        t.attempt('10.0.0.3', `key-${i}-forbidden`, () =>
          Promise.reject(new MeshError(ErrorCode.Forbidden, 'no')),
        ),
      );
    }
    for (let i = 0; i < 5; i++) await codeOf(t.attempt('10.0.0.3', 'good-key-0123', accepted));
    expect(await codeOf(t.attempt('10.0.0.3', 'good-key-0123', accepted))).toBe('ok');
  });

  it('auth throttle - memory is bounded: past entriesMax the least recently failed source is forgotten', async () => {
    const { throttle: t } = throttle(1, 100);
    await codeOf(t.attempt('10.9.9.9', 'first-key-000', refused));
    expect(await codeOf(t.attempt('10.9.9.9', 'other-key-000', accepted))).toBe('rate_limited');
    for (let i = 0; i < 100; i++)
      await codeOf(t.attempt(`10.1.${Math.floor(i / 250)}.${i % 250}`, `k${i}-xxxxxxxx`, refused));
    expect(await codeOf(t.attempt('10.9.9.9', 'other-key-000', accepted))).toBe('ok');
  });

  it('auth throttle - the source is the peer unless trusted proxies are configured', async () => {
    const app = new Hono();
    app.get('/:hops', (c) => c.text(sourceAddressOf(c, Number(c.req.param('hops')))));
    const env = { incoming: { socket: { remoteAddress: '10.0.0.9' } } };
    const xff = { 'x-forwarded-for': '1.1.1.1, 2.2.2.2, 3.3.3.3' };
    const ask = async (hops: number, withEnv = true) =>
      (await app.request(`/${hops}`, { headers: xff }, withEnv ? env : undefined)).text();
    // Off by default: X-Forwarded-For is whatever the client wrote.
    expect(await ask(0)).toBe('10.0.0.9');
    expect(await ask(1)).toBe('3.3.3.3');
    expect(await ask(2)).toBe('2.2.2.2');
    expect(await ask(5)).toBe('10.0.0.9');
    expect(await ask(0, false)).toBe(UNKNOWN_SOURCE);
  });
});
