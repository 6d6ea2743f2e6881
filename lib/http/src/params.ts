/**
 * @module params
 * Parameters of API requests as the route table documents them: a boolean query flag, a
 * non-negative integer (query or header), and a path parameter that takes the rest of the path
 * percent-decoded (document ids may contain `/`). Bad values are 400 naming the parameter.
 */
import { DocIdSchema, describeIssues, ErrorCode, LIMITS, MeshError } from '@memmesh/core';
import type { Context } from 'hono';

/** `true`, `1` or empty is true; absent, `false` or `0` is false; anything else is 400. */
export function booleanParam(value: string | undefined, name: string): boolean {
  if (value === undefined || value === 'false' || value === '0') return false;
  if (value === 'true' || value === '1' || value === '') return true;
  throw new MeshError(ErrorCode.BadRequest, `${name} must be true or false, got '${value}'`);
}

/** A non-negative safe integer, or undefined when absent. */
export function integerParam(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(n)) {
    throw new MeshError(ErrorCode.BadRequest, `${name} must be a non-negative integer, got '${value}'`);
  }
  return n;
}

/**
 * The `max-stale` directive of a Cache-Control header (RFC 9111 §5.2.1.2), in seconds, capped
 * at LIMITS.maxStaleSecondsMax; without a value it accepts any age, so the cap. Undefined
 * when absent. A directive list this small is parsed here rather than with a library: only
 * one directive matters, and a malformed one is a 400 naming it.
 */
export function maxStaleParam(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  for (const directive of value.split(',').slice(0, 32)) {
    const [name, raw] = directive.trim().split('=', 2) as [string, string | undefined];
    if (name.toLowerCase() !== 'max-stale') continue;
    if (raw === undefined) return LIMITS.maxStaleSecondsMax;
    const seconds = integerParam(raw.replace(/^"(.*)"$/, '$1'), 'Cache-Control max-stale') as number;
    return Math.min(seconds, LIMITS.maxStaleSecondsMax);
  }
  return undefined;
}

/**
 * The memory id of `/v1/memories/{id}`: the rest of the path after `prefix` (and before
 * `suffix`, for `/v1/memories/{id}/history`), percent-decoded.
 */
export function memoryIdParam(c: Context, prefix = '/v1/memories/', suffix = ''): string {
  const pathname = new URL(c.req.url).pathname;
  const raw = pathname.slice(prefix.length, pathname.length - suffix.length);
  let id: string;
  try {
    id = decodeURIComponent(raw);
  } catch {
    throw new MeshError(ErrorCode.BadRequest, 'memory id is not valid percent-encoding');
  }
  const parsed = DocIdSchema.safeParse(id);
  if (!parsed.success) {
    throw new MeshError(ErrorCode.BadRequest, 'bad memory id', { details: describeIssues(parsed.error) });
  }
  return parsed.data;
}
