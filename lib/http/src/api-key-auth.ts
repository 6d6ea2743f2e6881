/**
 * @module api-key-auth
 * What a presented API key may do, the same in the agents and the gateway: the bearer key of
 * a request, and its record held against the route — unknown or revoked keys are 401, expired
 * ones 401 saying so, and a key whose scopes lack the route's kind (a read-only key on a
 * write route) 403. A tenant route of kind `read` needs the `read` scope, `write` the `write`
 * scope, `admin` (a tenant's own keys) the `admin` scope.
 */
import { ErrorCode, MeshError } from '@memmesh/core';
import type { ApiKeyRecord, ApiKeyScope } from '@memmesh/routing';
import type { RouteKind } from './route-table.ts';

/** The key of an `Authorization: Bearer <key>` header; undefined when there is none. */
export function bearerKeyOf(authorization: string | undefined): string | undefined {
  return /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '')?.[1];
}

/** The scope a tenant route of `kind` needs; ops routes take no key. */
export function scopeOfKind(kind: RouteKind): ApiKeyScope {
  if (kind === 'ops') throw new Error('ops routes take no API key');
  return kind;
}

/** The record, if it is a live key holding `scope`; else the error the client gets. */
export function checkApiKey(
  record: ApiKeyRecord | undefined,
  scope: ApiKeyScope,
  nowMs: number,
): ApiKeyRecord {
  if (!record) throw new MeshError(ErrorCode.Unauthorized, 'unknown API key');
  if (record.expiresAtMs !== undefined && record.expiresAtMs <= nowMs) {
    throw new MeshError(
      ErrorCode.Unauthorized,
      `API key ${record.keyId} expired at ${new Date(record.expiresAtMs).toISOString()}`,
    );
  }
  if (!record.scopes.includes(scope)) {
    throw new MeshError(
      ErrorCode.Forbidden,
      `API key ${record.keyId} may ${record.scopes.join(', ')}; this route needs the ${scope} scope`,
    );
  }
  return record;
}

/** `unauthorized` for a request without a bearer key. */
export function missingBearer(): MeshError {
  return new MeshError(ErrorCode.Unauthorized, 'missing bearer token: send Authorization: Bearer <api key>');
}
