/**
 * @module config
 * Typed configuration validated once at start-up. A bad value stops the process with a
 * message that names the field (and the environment variable it came from).
 */
import type { z } from 'zod';
import { ErrorCode, MeshError } from './errors.ts';

/**
 * Validates `raw` against `schema`. `names` maps config fields to where they came from
 * (e.g. `port` → `MEMMESH_PORT`) so that the message names what the operator set.
 */
export function parseConfig<S extends z.ZodType>(
  schema: S,
  raw: unknown,
  names: Readonly<Record<string, string>> = {},
): z.infer<S> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const lines = result.error.issues.map((issue) => {
    const field = issue.path.map(String).join('.');
    const origin = names[field] ?? names[String(issue.path[0] ?? '')];
    return `  ${field || '(root)'}${origin ? ` (${origin})` : ''}: ${issue.message}`;
  });
  throw new MeshError(ErrorCode.Config, `invalid configuration:\n${lines.join('\n')}`, {
    details: result.error.issues,
  });
}

/** Parses `a=1,b=2` lists used for API keys in environment variables. */
export function parsePairs(value: string): Record<string, string> {
  const pairs: Record<string, string> = {};
  for (const item of value.split(',')) {
    const trimmed = item.trim();
    if (trimmed === '') continue;
    const at = trimmed.indexOf('=');
    if (at <= 0 || at === trimmed.length - 1) {
      throw new MeshError(ErrorCode.Config, `expected key=value, got '${trimmed}'`);
    }
    pairs[trimmed.slice(0, at)] = trimmed.slice(at + 1);
  }
  return pairs;
}
