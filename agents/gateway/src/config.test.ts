import { isMeshError } from '@memmesh/core';
import { describe, expect, it } from 'vitest';
import { DEFAULT_GATEWAY_CONFIG, GATEWAY_ENV_NAMES, gatewayConfigFromEnv } from './config.ts';

const configError = (env: Record<string, string>): string => {
  try {
    gatewayConfigFromEnv(env);
  } catch (err) {
    if (isMeshError(err, 'config')) return err.message;
    throw err;
  }
  throw new Error('expected a configuration error');
};

describe('config', () => {
  it('config - an empty environment gives the defaults', () => {
    expect(gatewayConfigFromEnv({})).toMatchObject(DEFAULT_GATEWAY_CONFIG);
  });

  it('config - variables are parsed into their fields', () => {
    const config = gatewayConfigFromEnv({
      MEMMESH_REGION_ENDPOINTS: 'us-east-1=http://127.0.0.1:8081, eu-central-1=http://127.0.0.1:8082',
      MEMMESH_GATEWAY_LOCATION: '50.1,8.7',
      MEMMESH_HEDGE_AFTER_MS: '40',
      MEMMESH_CLIENT_REGION_HEADER: 'X-Edge-Region',
      MEMMESH_GATEWAY_ADMIN_KEY: 'admin-key-0123456',
    });
    expect(config.endpoints).toEqual({
      'us-east-1': 'http://127.0.0.1:8081',
      'eu-central-1': 'http://127.0.0.1:8082',
    });
    expect(config.location).toEqual({ latitude: 50.1, longitude: 8.7 });
    expect([config.hedgeAfterMs, config.clientRegionHeader]).toEqual([40, 'X-Edge-Region']);
    expect(config.adminKey).toBe('admin-key-0123456');
  });

  it('config - failed-authentication throttling: defaults, variables, and bad values named', () => {
    expect(gatewayConfigFromEnv({})).toMatchObject({
      authFailuresMax: 10,
      authFailureWindowMs: 60_000,
      httpTrustedProxyHops: 0,
    });
    const config = gatewayConfigFromEnv({
      MEMMESH_AUTH_FAILURES_MAX: '3',
      MEMMESH_AUTH_FAILURE_WINDOW_MS: '5000',
      MEMMESH_AUTH_THROTTLE_ENTRIES_MAX: '500',
      MEMMESH_HTTP_TRUSTED_PROXY_HOPS: '1',
    });
    expect(config).toMatchObject({
      authFailuresMax: 3,
      authFailureWindowMs: 5_000,
      authThrottleEntriesMax: 500,
      httpTrustedProxyHops: 1,
    });
    expect(configError({ MEMMESH_AUTH_FAILURES_MAX: '0' })).toContain('MEMMESH_AUTH_FAILURES_MAX');
    expect(configError({ MEMMESH_AUTH_FAILURE_WINDOW_MS: '10' })).toContain('MEMMESH_AUTH_FAILURE_WINDOW_MS');
    expect(configError({ MEMMESH_HTTP_TRUSTED_PROXY_HOPS: '-1' })).toContain(
      'MEMMESH_HTTP_TRUSTED_PROXY_HOPS',
    );
  });

  it('config - a bad value is refused with the name of its variable', () => {
    expect(configError({ MEMMESH_PROBE_EWMA_ALPHA: '2' })).toContain(GATEWAY_ENV_NAMES.ewmaAlpha);
    expect(configError({ MEMMESH_GATEWAY_LOCATION: 'frankfurt' })).toContain('MEMMESH_GATEWAY_LOCATION');
    expect(configError({ MEMMESH_READ_TIMEOUT_MS: '1s' })).toContain('MEMMESH_READ_TIMEOUT_MS');
    expect(configError({ MEMMESH_REGION_ENDPOINTS: 'us-east-1=not a url' })).toContain(
      'MEMMESH_REGION_ENDPOINTS',
    );
    expect(configError({ MEMMESH_GATEWAY_ATTEMPTS_MAX: '0' })).toContain('MEMMESH_GATEWAY_ATTEMPTS_MAX');
    expect(configError({ MEMMESH_GATEWAY_REGION: 'Frankfurt' })).toContain('MEMMESH_GATEWAY_REGION');
  });

  it('config - the region of the metrics label is optional and read from MEMMESH_GATEWAY_REGION', () => {
    expect(gatewayConfigFromEnv({}).region).toBeUndefined();
    expect(gatewayConfigFromEnv({ MEMMESH_GATEWAY_REGION: 'eu-central-1' }).region).toBe('eu-central-1');
  });
});

describe('config - log level', () => {
  it('config - MEMMESH_LOG_LEVEL is validated: a known level is taken, any other value names the variable', () => {
    expect(gatewayConfigFromEnv({ MEMMESH_LOG_LEVEL: 'debug' }).logLevel).toBe('debug');
    expect(configError({ MEMMESH_LOG_LEVEL: 'loud' })).toContain('MEMMESH_LOG_LEVEL');
  });
});

describe('config - socket limits', () => {
  it('config - the socket limits are read, and a headers timeout longer than the request timeout names its variable', () => {
    const config = gatewayConfigFromEnv({
      MEMMESH_HTTP_CONNECTIONS_MAX: '64',
      MEMMESH_HTTP_HEADERS_TIMEOUT_MS: '2000',
    });
    expect([config.httpConnectionsMax, config.httpHeadersTimeoutMs]).toEqual([64, 2000]);
    expect(
      configError({ MEMMESH_HTTP_HEADERS_TIMEOUT_MS: '40000', MEMMESH_HTTP_REQUEST_TIMEOUT_MS: '30000' }),
    ).toContain('MEMMESH_HTTP_HEADERS_TIMEOUT_MS');
  });
});

describe('config - documentation', () => {
  it('config - every variable the gateway reads is in the README', async () => {
    const { readFile } = await import('node:fs/promises');
    const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
    const missing = Object.values(GATEWAY_ENV_NAMES).filter((name) => !readme.includes(`\`${name}\``));
    expect(missing).toEqual([]);
  });
});
