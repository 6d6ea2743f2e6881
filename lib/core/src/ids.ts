/**
 * @module ids
 * Tenant names, document ids and the subject-safe `docKey` derived from a document id.
 */
import { createHash, randomBytes } from 'node:crypto';

/** Tenants are also NATS subject tokens and label-safe names. */
export const TENANT_PATTERN = /^[a-z0-9][a-z0-9_-]{0,62}$/;

/**
 * User document ids: printable, no whitespace, bounded. They never enter a subject directly
 * (the docKey does), so dots and slashes are allowed.
 */
export const DOC_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:@/+=-]{0,255}$/;

export function isTenant(value: string): boolean {
  return TENANT_PATTERN.test(value);
}

export function isDocId(value: string): boolean {
  return DOC_ID_PATTERN.test(value);
}

/**
 * A subject-safe key for a document: 32 hex characters (128 bits) of
 * sha256(tenant/docId). Collisions are out of reach at any realistic corpus size.
 */
export function docKeyOf(tenant: string, docId: string): string {
  return sha256Hex(`${tenant}/${docId}`).slice(0, 32);
}

/** A new random document id, sortable by creation time (ms timestamp prefix). */
export function newDocId(nowMs: number = Date.now()): string {
  return `m_${nowMs.toString(36).padStart(9, '0')}${randomBytes(8).toString('hex')}`;
}

export function sha256Hex(value: string | Uint8Array): string {
  return createHash('sha256').update(value).digest('hex');
}
