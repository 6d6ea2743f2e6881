/**
 * @module operations
 * The operations the client calls, by the route table's operation ids, with their methods
 * and paths. The type checks each row against the route table (a path or method that differs
 * is a compile error), and `operations.test.ts` checks at run time that the client covers
 * every tenant operation the table has — so the client cannot drift from the API.
 */
import type { ApiTable } from '@memmesh/http';

type Routes = ApiTable['routes'];

/** A route's method and path, as the route table has them. */
type RouteRef<K extends keyof Routes> = Pick<Routes[K], 'method' | 'path' | 'kind'>;

export const OPERATIONS = {
  writeMemory: { method: 'post', path: '/v1/memories', kind: 'write' },
  writeBatch: { method: 'post', path: '/v1/memories/batch', kind: 'write' },
  getMemory: { method: 'get', path: '/v1/memories/{id}', kind: 'read' },
  deleteMemory: { method: 'delete', path: '/v1/memories/{id}', kind: 'write' },
  memoryHistory: { method: 'get', path: '/v1/memories/{id}/history', kind: 'read' },
  listMemories: { method: 'get', path: '/v1/memories', kind: 'read' },
  search: { method: 'post', path: '/v1/search', kind: 'read' },
  stats: { method: 'get', path: '/v1/stats', kind: 'read' },
  listRegions: { method: 'get', path: '/v1/regions', kind: 'read' },
  eraseMemories: { method: 'delete', path: '/v1/memories', kind: 'write' },
  getErasure: { method: 'get', path: '/v1/erasures/{id}', kind: 'read' },
} as const satisfies { [K in keyof Routes]?: RouteRef<K> };

export type ClientOperationId = keyof typeof OPERATIONS;

/**
 * The administration reads the client offers (`client.admin`): with the operator's admin key
 * (policies, re-index jobs, any tenant's erasure receipt) or a tenant key with the `admin`
 * scope (its own API keys). Checked against the route table the same way.
 */
export const ADMIN_OPERATIONS = {
  getTenantPolicy: { method: 'get', path: '/v1/admin/tenants/{tenant}', kind: 'admin' },
  listApiKeys: { method: 'get', path: '/v1/admin/tenants/{tenant}/keys', kind: 'admin' },
  getReindex: { method: 'get', path: '/v1/admin/reindex/{id}', kind: 'admin' },
  getErasureAdmin: { method: 'get', path: '/v1/admin/erasures/{id}', kind: 'admin' },
} as const satisfies { [K in keyof Routes]?: RouteRef<K> };

export type AdminOperationId = keyof typeof ADMIN_OPERATIONS;
