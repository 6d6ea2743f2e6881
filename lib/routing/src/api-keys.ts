/**
 * @module api-keys
 * What an API key is to the routing table: a record (public id, tenant, scopes, creation and
 * optional expiry) stored under the sha256 of the key, never the key itself, and the rules
 * both table implementations apply to it — at most two active keys per tenant (so that a
 * tenant can rotate: create the new key, move its clients, revoke the old one), a bounded
 * number of records kept per tenant, and scopes in one canonical order.
 *
 * Why sha256 and not a slow password hash (scrypt, argon2): keys made here carry 256 random
 * bits, so no dictionary or brute force can find one from its hash, and a slow hash would
 * only cost every request its time. Configured keys (tenants.json, MEMMESH_API_KEYS) are
 * checked for length and variety by ApiKeySchema; for them too the hash is only looked up,
 * never compared byte by byte in our code, so timing tells at most bits of the hash.
 */
import { randomBytes } from 'node:crypto';
import { describeIssues, ErrorCode, MeshError, sha256Hex, TenantSchema } from '@memmesh/core';
import { z } from 'zod';

/**
 * - `read`: the tenant's read routes (get, search, stats, regions);
 * - `write`: the tenant's write routes (store, batch, delete);
 * - `admin`: managing the tenant's own API keys (create, list, revoke) — nothing of any other
 *   tenant and nothing of placement policies, which stay the operator's (the admin key).
 */
export const API_KEY_SCOPES = ['read', 'write', 'admin'] as const;
export const ApiKeyScopeSchema = z.enum(API_KEY_SCOPES);
export type ApiKeyScope = z.infer<typeof ApiKeyScopeSchema>;

/** Scopes of a key stored without any (seeded, or written before scopes existed): the tenant's data. */
export const DEFAULT_API_KEY_SCOPES: readonly ApiKeyScope[] = ['read', 'write'];

/** Unexpired keys a tenant may hold at once: the old and the new one while clients move over. */
export const ACTIVE_API_KEYS_PER_TENANT_MAX = 2;
/** Records a tenant may hold, expired ones included (they stay listed until revoked). */
export const API_KEY_RECORDS_PER_TENANT_MAX = 10;
/** The longest expiry a key may be given: ten years. */
export const API_KEY_LIFETIME_MS_MAX = 10 * 365 * 24 * 3600 * 1000;

/** A key's public id: the first 16 hex characters (64 bits) of its hash. */
export const API_KEY_ID_PATTERN = /^[0-9a-f]{16}$/;
export const ApiKeyIdSchema = z.string().regex(API_KEY_ID_PATTERN, 'key ids are 16 hex characters');

const ScopesSchema = z
  .array(ApiKeyScopeSchema)
  .min(1)
  .max(API_KEY_SCOPES.length)
  .transform((scopes) => API_KEY_SCOPES.filter((s) => scopes.includes(s)));

/** What a key may do, as stored and as listed: never the key, never its hash. */
export const ApiKeyRecordSchema = z.strictObject({
  keyId: ApiKeyIdSchema,
  tenant: TenantSchema,
  scopes: ScopesSchema,
  createdAtMs: z.number().int().min(0),
  expiresAtMs: z.number().int().min(0).optional(),
});
export type ApiKeyRecord = z.infer<typeof ApiKeyRecordSchema>;

/** A key to create: the table makes the key itself and answers it once. */
export const ApiKeyInputSchema = z.strictObject({
  tenant: TenantSchema,
  scopes: ScopesSchema,
  expiresAtMs: z.number().int().min(0).optional(),
});
export type ApiKeyInput = z.input<typeof ApiKeyInputSchema>;

/** Seeding options: scopes default to DEFAULT_API_KEY_SCOPES, no expiry. */
export interface PutApiKeyOptions {
  scopes?: readonly ApiKeyScope[];
  expiresAtMs?: number;
}

export interface CreatedApiKey {
  /** The key itself: shown this once, stored nowhere. */
  key: string;
  record: ApiKeyRecord;
}

export const apiKeyHashOf = (apiKey: string): string => sha256Hex(apiKey);
export const apiKeyIdOf = (hash: string): string => hash.slice(0, 16);

export function isApiKeyActive(record: ApiKeyRecord, nowMs: number): boolean {
  return record.expiresAtMs === undefined || record.expiresAtMs > nowMs;
}

/**
 * A new key: 32 random bytes, base64url (43 characters). No fixed prefix: the first
 * characters of a presented key are what failed-authentication throttling counts per key
 * (lib/http auth-throttle), so they must be as random as the rest.
 */
export function generateApiKey(): string {
  return randomBytes(32).toString('base64url');
}

/** The record of a new key, after the input and the tenant's room for it have been checked. */
export function newApiKeyRecord(
  input: ApiKeyInput,
  existing: readonly ApiKeyRecord[],
  nowMs: number,
): CreatedApiKey & { hash: string } {
  const parsed = ApiKeyInputSchema.safeParse(input);
  if (!parsed.success) {
    throw new MeshError(ErrorCode.BadRequest, 'bad API key', { details: describeIssues(parsed.error) });
  }
  const { tenant, scopes, expiresAtMs } = parsed.data;
  if (expiresAtMs !== undefined && (expiresAtMs <= nowMs || expiresAtMs > nowMs + API_KEY_LIFETIME_MS_MAX)) {
    throw new MeshError(ErrorCode.BadRequest, 'expiresAtMs must be in the future and at most ten years away');
  }
  const active = existing.filter((r) => isApiKeyActive(r, nowMs)).length;
  if (active >= ACTIVE_API_KEYS_PER_TENANT_MAX) {
    throw new MeshError(
      ErrorCode.Conflict,
      `tenant ${tenant} already has ${active} active API keys (at most ${ACTIVE_API_KEYS_PER_TENANT_MAX}): revoke one before creating another`,
    );
  }
  if (existing.length >= API_KEY_RECORDS_PER_TENANT_MAX) {
    throw new MeshError(
      ErrorCode.Conflict,
      `tenant ${tenant} holds ${existing.length} API keys (at most ${API_KEY_RECORDS_PER_TENANT_MAX}, expired ones included): revoke expired keys first`,
    );
  }
  const key = generateApiKey();
  const hash = apiKeyHashOf(key);
  const record: ApiKeyRecord = {
    keyId: apiKeyIdOf(hash),
    tenant,
    scopes,
    createdAtMs: nowMs,
    ...(expiresAtMs === undefined ? {} : { expiresAtMs }),
  };
  return { key, hash, record };
}

/** The record of a seeded key (tenants.json, MEMMESH_API_KEYS). */
export function seededApiKeyRecord(
  hash: string,
  tenant: string,
  options: PutApiKeyOptions,
  nowMs: number,
): ApiKeyRecord {
  return ApiKeyRecordSchema.parse({
    keyId: apiKeyIdOf(hash),
    tenant,
    scopes: [...(options.scopes ?? DEFAULT_API_KEY_SCOPES)],
    createdAtMs: nowMs,
    ...(options.expiresAtMs === undefined ? {} : { expiresAtMs: options.expiresAtMs }),
  });
}

export function unknownKeyId(tenant: string, keyId: string): MeshError {
  return new MeshError(ErrorCode.NotFound, `tenant ${tenant} has no API key ${keyId}`);
}
