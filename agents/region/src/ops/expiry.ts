/**
 * @module expiry
 * When a memory written now expires: its own `ttlSeconds` or `expiresAt`, else the tenant's
 * default for its scope kind. The write's agent computes the instant once and puts it in the
 * event (`expiresAt`, ms since the epoch), so every region, replica and view applies the same
 * expiry, however late it reads the event.
 */
import { ErrorCode, LIMITS, type MemoryInput, MeshError } from '@memmesh/core';
import type { TenantPolicy } from '@memmesh/routing';

const SECOND_MS = 1_000;

export interface Expiry {
  /** The instant, ms since the epoch. */
  atMs: number;
  /** How it was chosen, for logs and errors: `ttl:<s>`, `at:<ms>` or `default:<kind>:<s>`. */
  spec: string;
}

export function expiryOf(input: MemoryInput, policy: TenantPolicy, nowMs: number): Expiry | undefined {
  if (input.ttlSeconds !== undefined) {
    return { atMs: nowMs + input.ttlSeconds * SECOND_MS, spec: `ttl:${input.ttlSeconds}` };
  }
  if (input.expiresAt !== undefined) {
    const atMs = Date.parse(input.expiresAt);
    if (!Number.isSafeInteger(atMs)) {
      throw new MeshError(ErrorCode.BadRequest, `expiresAt '${input.expiresAt}' is not a date-time`);
    }
    if (atMs <= nowMs) {
      throw new MeshError(ErrorCode.BadRequest, `expiresAt ${input.expiresAt} is not in the future`);
    }
    if (atMs - nowMs > LIMITS.ttlSecondsMax * SECOND_MS) {
      throw new MeshError(
        ErrorCode.BadRequest,
        `expiresAt ${input.expiresAt} is more than ${LIMITS.ttlSecondsMax} seconds (ten years) away`,
      );
    }
    return { atMs, spec: `at:${atMs}` };
  }
  const fallback = defaultTtl(input, policy);
  if (fallback === undefined) return undefined;
  return { atMs: nowMs + fallback.seconds * SECOND_MS, spec: `default:${fallback.kind}:${fallback.seconds}` };
}

/** The most specific scope kind of the memory that has a default in the policy. */
function defaultTtl(input: MemoryInput, policy: TenantPolicy): { kind: string; seconds: number } | undefined {
  const { ttl } = policy;
  if (ttl === undefined) return undefined;
  const scope = input.scope ?? {};
  const kinds = [
    { kind: 'session', present: scope.sessionId !== undefined, seconds: ttl.sessionSeconds },
    { kind: 'user', present: scope.userId !== undefined, seconds: ttl.userSeconds },
    { kind: 'agent', present: scope.agentId !== undefined, seconds: ttl.agentSeconds },
  ];
  const chosen = kinds.find((k) => k.present && k.seconds !== undefined);
  return chosen === undefined ? undefined : { kind: chosen.kind, seconds: chosen.seconds as number };
}
