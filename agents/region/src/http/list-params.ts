/**
 * @module list-params
 * The query of `GET /v1/memories` as a list input: `userId`, `agentId`, `sessionId`,
 * `metadata.<key>=<value>`, `cursor`, `limit`. The filter means what a search filter means
 * (every given field equal). Metadata values are typed, since filters compare types: a value
 * that reads as a JSON number, boolean or quoted string is that (`n=1` is the number 1,
 * `n="1"` the string "1", `b=true` the boolean), any other value is the string as sent
 * (`team=infra`). A parameter given twice, or one not listed here, is 400: a typo must not
 * silently widen a listing to everything.
 */
import { describeIssues, ErrorCode, FilterSchema, MeshError } from '@memmesh/core';
import { integerParam } from '@memmesh/http';
import type { ListInput } from '../ops/list.ts';

const SCOPE_PARAMS = ['userId', 'agentId', 'sessionId'] as const;
const METADATA_PREFIX = 'metadata.';
/** Parameters of one listing: the scope fields, a cursor, a limit and up to 32 metadata keys. */
const PARAMS_MAX = 64;

export function listInputOf(url: string): ListInput {
  const params = [...new URL(url).searchParams];
  if (params.length > PARAMS_MAX) {
    throw new MeshError(ErrorCode.BadRequest, `at most ${PARAMS_MAX} query parameters`);
  }
  const seen = new Set<string>();
  const scope: Record<string, string> = {};
  // Entries, not an object: `metadata.__proto__=…` would set an object's prototype and vanish
  // (zod drops the key too), a filter that matches everything; it is refused below, as the
  // JSON body reader refuses it (lib/http body.ts).
  const metadata: [string, unknown][] = [];
  let cursor: string | undefined;
  let limit: number | undefined;
  for (const [name, value] of params) {
    if (seen.has(name)) throw new MeshError(ErrorCode.BadRequest, `query parameter ${name} is given twice`);
    seen.add(name);
    if ((SCOPE_PARAMS as readonly string[]).includes(name)) scope[name] = value;
    else if (name.startsWith(METADATA_PREFIX)) {
      const key = name.slice(METADATA_PREFIX.length);
      if (key === '__proto__') throw new MeshError(ErrorCode.BadRequest, 'the key __proto__ is reserved');
      metadata.push([key, typedValue(value)]);
    } else if (name === 'cursor') cursor = value;
    else if (name === 'limit') limit = integerParam(value, 'limit');
    else {
      throw new MeshError(
        ErrorCode.BadRequest,
        `unknown query parameter ${name} (userId, agentId, sessionId, metadata.<key>, cursor, limit)`,
      );
    }
  }
  const filter = FilterSchema.safeParse({
    ...(metadata.length > 0 ? { metadata: Object.fromEntries(metadata) } : {}),
    ...(Object.keys(scope).length > 0 ? { scope } : {}),
  });
  if (!filter.success) {
    throw new MeshError(ErrorCode.BadRequest, 'bad list filter', { details: describeIssues(filter.error) });
  }
  return { filter: filter.data, limit, cursor };
}

function typedValue(value: string): unknown {
  try {
    const parsed: unknown = JSON.parse(value);
    if (typeof parsed === 'number' || typeof parsed === 'boolean' || typeof parsed === 'string')
      return parsed;
  } catch {
    // Not JSON: the string as sent.
  }
  return value;
}
