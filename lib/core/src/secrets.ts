/**
 * @module secrets
 * Comparing secrets (the configured admin key, stored key hashes) without a timing signal.
 */
import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Whether two secrets are equal, in time that depends on neither: both are hashed first, so
 * the compared buffers always have the same length (timingSafeEqual requires it, and a length
 * check of its own would tell an attacker the secret's length), and the comparison then
 * looks at every byte whatever the first difference.
 */
export function secretsEqual(given: string, expected: string): boolean {
  return timingSafeEqual(sha256(given), sha256(expected));
}

function sha256(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}
