/**
 * @module config
 * Typed configuration validated once at start-up. A bad value stops the process with a
 * message that names the field (and the environment variable it came from).
 */
import { accessSync, constants, statSync } from 'node:fs';
import { z } from 'zod';
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

/**
 * Parses `a=1,b=2` lists used for API keys in environment variables. Spaces around items and
 * around `=` are ignored. A repeated key is an error rather than "last one wins": for API keys
 * it would silently give a key to one of two tenants.
 */
export function parsePairs(value: string): Record<string, string> {
  const pairs = new Map<string, string>();
  for (const [index, item] of value.split(',').entries()) {
    const trimmed = item.trim();
    if (trimmed === '') continue;
    const at = trimmed.indexOf('=');
    const key = trimmed.slice(0, Math.max(at, 0)).trim();
    const pairValue = trimmed.slice(at + 1).trim();
    if (at < 0 || key === '' || pairValue === '') {
      throw new MeshError(ErrorCode.Config, `expected key=value, got '${trimmed}'`);
    }
    // The key may be a secret (an API key), so the message names the item, not the key.
    if (pairs.has(key)) {
      throw new MeshError(ErrorCode.Config, `item ${index + 1} repeats the key of an earlier item`);
    }
    pairs.set(key, pairValue);
  }
  // fromEntries defines own properties, so even a key named __proto__ is kept as a key.
  return Object.fromEntries(pairs);
}

/** How one environment variable becomes a configuration value. */
export type EnvParser = 'string' | 'number' | 'pairs' | ((value: string) => unknown);

/**
 * Reads the variables of `names` (config field → variable) from `env`; unset and empty ones
 * are left out, so the defaults apply. Values are converted by `parsers` (strings when a field
 * has none) but not validated: the service's schema does that once, through `parseConfig`,
 * and names the variable of a bad value (`Number('2s')` is NaN, which the schema refuses).
 * The one environment reader of every service.
 */
export function readEnv<F extends string>(
  env: Readonly<Record<string, string | undefined>>,
  names: Readonly<Record<F, string>>,
  parsers: Readonly<Partial<Record<F, EnvParser>>> = {} as Partial<Record<F, EnvParser>>,
): Partial<Record<F, unknown>> {
  const values: Partial<Record<F, unknown>> = {};
  for (const field of Object.keys(names) as F[]) {
    const value = env[names[field]];
    if (value === undefined || value === '') continue;
    const parser = parsers[field] ?? 'string';
    if (parser === 'string') values[field] = value;
    else if (parser === 'number') values[field] = Number(value);
    else if (parser === 'pairs') values[field] = parsePairs(value);
    else values[field] = parser(value);
  }
  return values;
}

/** The inner type of an optional or defaulted field, as zod describes it. */
function innerType(schema: z.ZodType): string {
  let current = schema;
  // Bounded: each step removes one wrapper, and zod schemas are finite.
  for (let depth = 0; depth < 8; depth++) {
    const def = current.def as { type: string; innerType?: z.ZodType };
    if (!def.innerType || (def.type !== 'optional' && def.type !== 'default')) return def.type;
    current = def.innerType;
  }
  return 'unknown';
}

/** `number` for every numeric field of an object schema: what `readEnv` converts with Number. */
export function numberParsersOf<F extends string>(
  schema: z.ZodObject<Record<F, z.ZodType>>,
): Partial<Record<F, EnvParser>> {
  const parsers: Partial<Record<F, EnvParser>> = {};
  for (const [field, fieldSchema] of Object.entries(schema.shape) as [F, z.ZodType][]) {
    if (innerType(fieldSchema) === 'number') parsers[field] = 'number';
  }
  return parsers;
}

/**
 * A path that names a readable file now: a missing credentials or certificate file is a
 * start-up error that names its variable, not a failure later.
 */
export const ReadableFileSchema = z
  .string()
  .min(1)
  .refine(isReadableFile, { message: 'is not a readable file' });

function isReadableFile(path: string): boolean {
  try {
    accessSync(path, constants.R_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
