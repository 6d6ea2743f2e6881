/**
 * @module tenants
 * Who is asking and where their data lives: API key → its record (tenant, scopes, expiry),
 * tenant → placement policy, both through the routing table's read cache. The gateway checks
 * keys itself, scopes included, so that bad keys never reach a region; failed attempts are
 * throttled per source address and per key prefix (lib/http auth-throttle). A lookup that
 * fails (the table is down and the entry is not cached) is the table's failure, not the
 * client's: 503, never 500.
 */
import { ErrorCode, isMeshError, MeshError, secretsEqual } from '@memmesh/core';
import { type AuthThrottle, bearerKeyOf, checkApiKey, missingBearer, sourceAddressOf } from '@memmesh/http';
import type { ApiKeyRecord, ApiKeyScope, RoutingTable, TenantPolicy } from '@memmesh/routing';
import type { Logger } from '@memmesh/telemetry';
import type { Context } from 'hono';
import { unavailable } from './dispatch.ts';

/** Who may manage a tenant's keys: the operator (the admin key), or the tenant's own admin key. */
export type KeyManager = { operator: true } | { operator: false; key: ApiKeyRecord };

export interface TenantLookups {
  /** The request's key, live and holding `scope` (else 401 or 403; 429 while throttled). */
  keyOf(c: Context, scope: ApiKeyScope): Promise<ApiKeyRecord>;
  /** The caller, if it may manage `tenant`'s keys (else 401 or 403; 429 while throttled). */
  keyManagerOf(c: Context, tenant: string): Promise<KeyManager>;
  /** The tenant's placement, or `wrong_region` when no region holds it. */
  policyOf(tenant: string): Promise<TenantPolicy>;
}

export interface TenantLookupOptions {
  routing: RoutingTable;
  log: Logger;
  throttle: AuthThrottle;
  trustedProxyHops: number;
  /** The operator's admin key: it manages every tenant's keys. */
  adminKey?: string | undefined;
}

export function createTenantLookups(options: TenantLookupOptions): TenantLookups {
  const { routing, log, throttle, trustedProxyHops, adminKey } = options;
  const lookup = async <T>(read: () => Promise<T>): Promise<T> => {
    try {
      return await read();
    } catch (err) {
      if (isMeshError(err) && err.code !== ErrorCode.Internal) throw err;
      log.warn('routing table lookup failed', { err });
      throw unavailable('the routing table cannot be read; retry later');
    }
  };
  /** Runs `check` on the request's key, through the throttle of its source and prefix. */
  const throttled = <T>(c: Context, check: (key: string) => Promise<T>): Promise<T> => {
    const key = bearerKeyOf(c.req.header('authorization'));
    return throttle.attempt(sourceAddressOf(c, trustedProxyHops), key, async () => {
      if (key === undefined) throw missingBearer();
      return check(key);
    });
  };
  const recordOf = async (key: string, scope: ApiKeyScope) =>
    checkApiKey(await lookup(() => routing.apiKeyOf(key)), scope, Date.now());
  return {
    keyOf: (c, scope) => throttled(c, (key) => recordOf(key, scope)),
    keyManagerOf: (c, tenant) =>
      throttled(c, async (key): Promise<KeyManager> => {
        // Compared in constant time: the admin key never leaks through timing.
        if (adminKey !== undefined && secretsEqual(key, adminKey)) return { operator: true };
        const record = await recordOf(key, 'admin');
        if (record.tenant !== tenant) {
          throw new MeshError(
            ErrorCode.Forbidden,
            `API key ${record.keyId} manages only tenant ${record.tenant}'s keys`,
          );
        }
        return { operator: false, key: record };
      }),
    async policyOf(tenant) {
      const policy = await lookup(() => routing.getTenant(tenant));
      if (!policy) throw new MeshError(ErrorCode.WrongRegion, `tenant ${tenant} has no placement policy`);
      return policy;
    },
  };
}

/**
 * The routing table as the admin and key routes use it: a call that fails for the table's
 * sake (unreachable, throttled, an unexpected answer) is 503 with Retry-After, the same as a
 * failed lookup; the table's own answers (404, 409, 400) pass through unchanged.
 */
export function unavailableWhenDown(routing: RoutingTable, log: Logger): RoutingTable {
  return new Proxy(routing, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        try {
          return await (value as (...a: unknown[]) => Promise<unknown>).apply(target, args);
        } catch (err) {
          if (isMeshError(err) && err.code !== ErrorCode.Internal) throw err;
          log.warn('routing table call failed', { err, call: String(property) });
          throw unavailable('the routing table cannot be reached; retry later');
        }
      };
    },
  });
}
