import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { numberParsersOf, parseConfig, parsePairs, readEnv } from './config.ts';
import { ErrorCode, isMeshError, MeshError } from './errors.ts';

const schema = z.strictObject({
  port: z.number().int().min(0).max(65_535),
  natsUrl: z.string().min(1),
  nats: z.object({ replicas: z.number().int().min(1) }).optional(),
  tags: z.array(z.string()).optional(),
});

const names = { port: 'MEMMESH_PORT', natsUrl: 'MEMMESH_NATS_URL', nats: 'MEMMESH_NATS' };

/** The MeshError that parseConfig throws for `raw`. */
function configError(raw: unknown): MeshError {
  try {
    parseConfig(schema, raw, names);
  } catch (err) {
    if (isMeshError(err)) return err;
    throw err;
  }
  throw new Error('expected parseConfig to throw');
}

describe('parseConfig', () => {
  it('config - returns the parsed value when it is valid', () => {
    const raw = { port: 8080, natsUrl: 'nats://127.0.0.1:4222' };
    expect(parseConfig(schema, raw, names)).toEqual(raw);
    expect(parseConfig(z.object({ n: z.coerce.number() }), { n: '3' })).toEqual({ n: 3 });
  });

  it('config - the error is a config MeshError that names the field and its environment variable', () => {
    const err = configError({ port: 70_000, natsUrl: 'nats://x' });
    expect(err.code).toBe(ErrorCode.Config);
    expect(err.retryable).toBe(false);
    expect(err.message).toMatch(/^invalid configuration:\n {2}port \(MEMMESH_PORT\): .*65535/);
    expect(Array.isArray(err.details)).toBe(true);
  });

  it('config - every bad field gets its own line', () => {
    const lines = configError({ port: -1, natsUrl: '' }).message.split('\n').slice(1);
    expect(lines).toHaveLength(2);
    expect(lines.some((l) => l.startsWith('  port (MEMMESH_PORT): '))).toBe(true);
    expect(lines.some((l) => l.startsWith('  natsUrl (MEMMESH_NATS_URL): '))).toBe(true);
  });

  it('config - nested fields use the dotted path and the name of their top-level field', () => {
    const message = configError({ port: 1, natsUrl: 'n', nats: { replicas: 0 } }).message;
    expect(message).toContain('  nats.replicas (MEMMESH_NATS): ');
    const tags = configError({ port: 1, natsUrl: 'n', tags: ['ok', 7] }).message;
    expect(tags).toContain('  tags.1: ');
  });

  it('config - fields without a name, unknown keys and a bad root are still reported', () => {
    expect(configError({ port: 1, natsUrl: 'n', colour: 'blue' }).message).toMatch(/\(root\): .*colour/);
    expect(configError('nope').message).toContain('  (root): ');
    // No names map at all: the field alone.
    expect(() => parseConfig(schema, { port: 'x', natsUrl: 'n' })).toThrow(/\n {2}port: /);
  });
});

describe('parsePairs', () => {
  it('config - parsePairs reads comma-separated key=value pairs, ignoring spaces and empty items', () => {
    expect(parsePairs('a=1,b=2')).toEqual({ a: '1', b: '2' });
    expect(parsePairs(' a=1 , b=2 ,')).toEqual({ a: '1', b: '2' });
    expect(parsePairs('a = 1,, ,b= 2')).toEqual({ a: '1', b: '2' });
    expect(parsePairs('')).toEqual({});
    expect(parsePairs(' , ')).toEqual({});
  });

  it('config - parsePairs splits at the first = so values may contain =', () => {
    expect(parsePairs('k=a=b')).toEqual({ k: 'a=b' });
    expect(parsePairs('us-east-1=http://10.0.0.1:8080/?x=1')).toEqual({
      'us-east-1': 'http://10.0.0.1:8080/?x=1',
    });
  });

  it('config - parsePairs rejects items without a key or a value', () => {
    for (const value of ['novalue', '=x', 'x=', ' = ', 'a=1,b', 'a=1,=2']) {
      expect(() => parsePairs(value), value).toThrow(MeshError);
    }
    expect(() => parsePairs('a=1,oops')).toThrow(/expected key=value, got 'oops'/);
  });

  it('config - parsePairs rejects a repeated key without echoing it', () => {
    // For MEMMESH_API_KEYS a repeated key would hand one API key to one of two tenants.
    let caught: unknown;
    try {
      parsePairs('secret-key-1=acme,other=x,secret-key-1=globex');
    } catch (err) {
      caught = err;
    }
    expect(isMeshError(caught, ErrorCode.Config)).toBe(true);
    expect((caught as Error).message).toContain('item 3');
    expect((caught as Error).message).not.toContain('secret-key-1');
    expect(() => parsePairs('a=1, a =1')).toThrow(MeshError);
  });

  it('config - parsePairs keeps keys that are Object.prototype names as plain keys', () => {
    const pairs = parsePairs('__proto__=x,constructor=y');
    expect(Object.keys(pairs)).toEqual(['__proto__', 'constructor']);
    expect(Object.getPrototypeOf(pairs)).toBe(Object.prototype);
    expect(pairs.constructor).toBe('y');
  });
});

describe('readEnv', () => {
  it('config - readEnv reads each named variable with its parser and leaves unset or empty ones out', () => {
    const env = { A_PORT: '8080', A_HOST: 'h', A_KEYS: 'k1=t1,k2=t2', A_EMPTY: '', A_AT: '1,2' };
    const names = {
      port: 'A_PORT',
      host: 'A_HOST',
      keys: 'A_KEYS',
      empty: 'A_EMPTY',
      unset: 'A_UNSET',
      at: 'A_AT',
    };
    const values = readEnv(env, names, {
      port: 'number',
      keys: 'pairs',
      at: (v) => v.split(',').map(Number),
    });
    expect(values).toEqual({ port: 8080, host: 'h', keys: { k1: 't1', k2: 't2' }, at: [1, 2] });
    // A number that does not parse becomes NaN, for the schema to refuse with the variable's name.
    expect(readEnv({ A_PORT: '2s' }, { port: 'A_PORT' }, { port: 'number' }).port).toBeNaN();
  });
});

describe('numberParsersOf', () => {
  it('config - numberParsersOf names the numeric fields, optional and defaulted ones included', () => {
    const schema = z.strictObject({
      port: z.number().int(),
      ratio: z.number().optional(),
      retries: z.number().default(3),
      host: z.string(),
      flags: z.array(z.number()),
    });
    expect(numberParsersOf(schema)).toEqual({ port: 'number', ratio: 'number', retries: 'number' });
  });
});
