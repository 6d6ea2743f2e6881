import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ErrorCode, httpStatusOf, isMeshError, MeshError } from './errors.ts';

const allCodes = Object.values(ErrorCode);
const retryableCodes: ErrorCode[] = [ErrorCode.RateLimited, ErrorCode.Unavailable, ErrorCode.Timeout];

describe('MeshError', () => {
  it('errors - carries name, code, message, details and retryAfterMs', () => {
    const err = new MeshError(ErrorCode.RateLimited, 'too many requests', {
      details: { tenant: 'acme' },
      retryAfterMs: 250,
    });
    expect(err).toBeInstanceOf(Error);
    expect(err).toBeInstanceOf(MeshError);
    expect(err.name).toBe('MeshError');
    expect(err.code).toBe('rate_limited');
    expect(err.message).toBe('too many requests');
    expect(err.details).toEqual({ tenant: 'acme' });
    expect(err.retryAfterMs).toBe(250);
    expect(String(err)).toBe('MeshError: too many requests');
    expect(err.stack).toContain('too many requests');
  });

  it('errors - chains the cause when one is given, and has none otherwise', () => {
    const inner = new Error('connection refused');
    const err = new MeshError(ErrorCode.Unavailable, 'nats is down', { cause: inner });
    expect(err.cause).toBe(inner);
    expect(inspect(err)).toContain('connection refused');

    const plain = new MeshError(ErrorCode.NotFound, 'no such memory');
    expect('cause' in plain).toBe(false);
    expect(inspect(plain)).not.toContain('[cause]');
    expect(plain.details).toBeUndefined();
    expect(plain.retryAfterMs).toBeUndefined();
  });

  it('errors - only the operating codes (rate limited, unavailable, timeout) are retryable', () => {
    for (const code of allCodes) {
      expect(new MeshError(code, 'x').retryable, code).toBe(retryableCodes.includes(code));
    }
  });

  it('errors - codes are stable strings', () => {
    // They appear in API responses, so a rename is a breaking change.
    expect(ErrorCode).toEqual({
      BadRequest: 'bad_request',
      Unauthorized: 'unauthorized',
      Forbidden: 'forbidden',
      NotFound: 'not_found',
      MethodNotAllowed: 'method_not_allowed',
      VersionConflict: 'version_conflict',
      Conflict: 'conflict',
      WrongRegion: 'wrong_region',
      PayloadTooLarge: 'payload_too_large',
      RateLimited: 'rate_limited',
      Unavailable: 'unavailable',
      Timeout: 'timeout',
      InvalidEvent: 'invalid_event',
      Config: 'config',
      Upstream: 'upstream',
      Internal: 'internal',
    });
  });
});

describe('isMeshError', () => {
  it('errors - isMeshError narrows by class and, optionally, by code', () => {
    const err = new MeshError(ErrorCode.NotFound, 'x');
    expect(isMeshError(err)).toBe(true);
    expect(isMeshError(err, ErrorCode.NotFound)).toBe(true);
    expect(isMeshError(err, ErrorCode.Internal)).toBe(false);
    for (const other of [
      new Error('x'),
      { code: 'not_found', name: 'MeshError' },
      'not_found',
      undefined,
      null,
    ]) {
      expect(isMeshError(other)).toBe(false);
    }
  });
});

describe('httpStatusOf', () => {
  it('errors - httpStatusOf maps every code, and only codes', () => {
    expect(Object.keys(httpStatusOf).sort()).toEqual([...allCodes].sort());
    for (const code of allCodes) {
      const status = httpStatusOf[code];
      expect(Number.isInteger(status), code).toBe(true);
      expect(status, code).toBeGreaterThanOrEqual(400);
      expect(status, code).toBeLessThan(600);
    }
  });

  it('errors - httpStatusOf gives each code its HTTP meaning', () => {
    expect(httpStatusOf).toEqual({
      bad_request: 400,
      unauthorized: 401,
      forbidden: 403,
      not_found: 404,
      method_not_allowed: 405,
      version_conflict: 409,
      conflict: 409,
      wrong_region: 421,
      payload_too_large: 413,
      rate_limited: 429,
      unavailable: 503,
      timeout: 504,
      invalid_event: 400,
      config: 500,
      upstream: 502,
      internal: 500,
    });
  });

  it('errors - retryable codes map to retryable statuses and only bugs map to 500', () => {
    for (const code of allCodes) {
      const status = httpStatusOf[code];
      expect([429, 503, 504].includes(status), code).toBe(retryableCodes.includes(code));
      expect(status === 500, code).toBe(code === ErrorCode.Internal || code === ErrorCode.Config);
    }
  });
});
