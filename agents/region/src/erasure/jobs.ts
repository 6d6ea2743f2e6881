/**
 * @module jobs
 * Erasures as control rows of the routing table (the one table every region shares):
 * `erasure:<id>` holds the receipt, the leases of whoever works on it (the home region's
 * tombstoning, then each region's own removal) and the home's resume point;
 * `erasures:<tenant>` names the tenant's latest erasure, so that the same scope again answers
 * the same job and a second scope waits for the first. Every change is a conditional write
 * on the row's version: of two agents racing, one wins and the other re-reads.
 */
import { randomBytes } from 'node:crypto';
import { ErasureReceiptSchema, ErrorCode, isMeshError, MeshError } from '@memmesh/core';
import type { RoutingTable } from '@memmesh/routing';
import { z } from 'zod';

const LeaseSchema = z.strictObject({ owner: z.string(), untilMs: z.number().int() });

export const StoredErasureSchema = z.strictObject({
  receipt: ErasureReceiptSchema,
  home: z.string(),
  scopeKey: z.string(),
  /** By lease name: `home` for the tombstoning, a region id for that region's removal. */
  leases: z.record(z.string(), LeaseSchema),
  /** Documents whose tombstones are published (the home's resume point, batch by batch). */
  tombstoned: z.number().int().min(0),
  sealed: z.boolean(),
  audited: z.boolean(),
  actor: z.strictObject({ kind: z.enum(['operator', 'tenant_key']), source: z.string().max(256) }),
});
export type StoredErasure = z.infer<typeof StoredErasureSchema>;

export interface ErasureRow {
  stored: StoredErasure;
  version: number;
}

const PointerSchema = z.strictObject({ id: z.string(), scopeKey: z.string() });

export const erasureRowName = (id: string) => `erasure:${id}`;
const pointerName = (tenant: string) => `erasures:${tenant}`;

export function newErasureId(home: string): string {
  return `er-${home}-${randomBytes(6).toString('hex')}`;
}

export async function readErasure(routing: RoutingTable, id: string): Promise<ErasureRow | undefined> {
  const row = await routing.getControl(erasureRowName(id));
  if (!row) return undefined;
  const parsed = StoredErasureSchema.safeParse(row.value);
  if (!parsed.success)
    throw new MeshError(ErrorCode.Internal, `the control row ${erasureRowName(id)} is not an erasure`);
  return { stored: parsed.data, version: row.version };
}

/** Writes the row if it is still at `version`; undefined when someone else changed it first. */
export async function writeErasure(
  routing: RoutingTable,
  stored: StoredErasure,
  version: number,
): Promise<ErasureRow | undefined> {
  try {
    const row = await routing.putControl(erasureRowName(stored.receipt.id), stored, version);
    return { stored, version: row.version };
  } catch (err) {
    if (isMeshError(err, ErrorCode.VersionConflict)) return undefined;
    throw err;
  }
}

/** Changes the row with `change` (re-read and re-applied when another writer came first). */
export async function updateErasure(
  routing: RoutingTable,
  id: string,
  change: (stored: StoredErasure) => StoredErasure | undefined,
  attemptsMax = 16,
): Promise<ErasureRow | undefined> {
  for (let attempt = 1; attempt <= attemptsMax; attempt++) {
    const row = await readErasure(routing, id);
    if (!row) return undefined;
    const next = change(row.stored);
    if (!next) return undefined;
    const written = await writeErasure(routing, next, row.version);
    if (written) return written;
  }
  throw new MeshError(ErrorCode.Unavailable, `erasure ${id}: too many concurrent changes; retrying`, {
    retryAfterMs: 500,
  });
}

export async function readPointer(
  routing: RoutingTable,
  tenant: string,
): Promise<{ id: string; scopeKey: string; version: number } | undefined> {
  const row = await routing.getControl(pointerName(tenant));
  if (!row) return undefined;
  const parsed = PointerSchema.safeParse(row.value);
  return parsed.success ? { ...parsed.data, version: row.version } : undefined;
}

/** False when another request moved the pointer first. */
export async function writePointer(
  routing: RoutingTable,
  tenant: string,
  pointer: { id: string; scopeKey: string },
  version: number,
): Promise<boolean> {
  try {
    await routing.putControl(pointerName(tenant), pointer, version);
    return true;
  } catch (err) {
    if (isMeshError(err, ErrorCode.VersionConflict)) return false;
    throw err;
  }
}

/** Takes lease `name` for `owner` unless another owner holds it; the row as written, or undefined. */
export function leased(
  stored: StoredErasure,
  name: string,
  owner: string,
  leaseMs: number,
): StoredErasure | undefined {
  const lease = stored.leases[name];
  if (lease && lease.owner !== owner && lease.untilMs > Date.now()) return undefined;
  return { ...stored, leases: { ...stored.leases, [name]: { owner, untilMs: Date.now() + leaseMs } } };
}
