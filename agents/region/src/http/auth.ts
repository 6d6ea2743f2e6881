/**
 * @module auth
 * API keys → tenants (through the routing table, which holds only sha256 hashes of keys).
 */
import { ErrorCode, MeshError } from '@memmesh/core';
import type { RoutingTable } from '@memmesh/routing';

/** The tenant of an `Authorization: Bearer <key>` header, or `unauthorized`. */
export async function tenantOfAuthorization(
  routing: RoutingTable,
  authorization: string | undefined,
): Promise<string> {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization ?? '');
  if (!match)
    throw new MeshError(ErrorCode.Unauthorized, 'missing bearer token: send Authorization: Bearer <api key>');
  const tenant = await routing.tenantOfApiKey(match[1] as string);
  if (!tenant) throw new MeshError(ErrorCode.Unauthorized, 'unknown API key');
  return tenant;
}
