/**
 * @module auth
 * API keys → tenants (through the routing table, which holds only sha256 hashes of keys): a
 * tenant route needs a live key holding the scope of its kind (401 unknown or expired, 403
 * without the scope), and failed attempts are throttled per source address and per key
 * prefix (429 with Retry-After). Requests through the gateway come from the gateway's
 * address, but the gateway refuses bad keys itself, so they seldom count here.
 */
import { type AuthThrottle, bearerKeyOf, checkApiKey, missingBearer } from '@memmesh/http';
import type { ApiKeyScope, RoutingTable } from '@memmesh/routing';

export interface RequestAuth {
  authorization: string | undefined;
  /** The request's source address (lib/http sourceAddressOf). */
  source: string;
  scope: ApiKeyScope;
}

/** The tenant of the request's `Authorization: Bearer <key>`, if the key may do `scope`. */
export async function tenantOfRequest(
  routing: RoutingTable,
  throttle: AuthThrottle,
  request: RequestAuth,
): Promise<string> {
  const key = bearerKeyOf(request.authorization);
  return throttle.attempt(request.source, key, async () => {
    if (key === undefined) throw missingBearer();
    return checkApiKey(await routing.apiKeyOf(key), request.scope, Date.now()).tenant;
  });
}
