/**
 * @module erasure
 * Erasure by scope (DESIGN §10): what an erase request names, the receipt the API answers,
 * and the marker record that tells every region holding the tenant about it.
 *
 * The marker goes on `mem.<home>._ctl.<tenant>.erasure`, inside the tenant's subject space
 * (`mem.<home>.*.<tenant>.>`), so every replica's existing source for the tenant carries it
 * with no change to any stream configuration, and only to the regions the tenant's residency
 * allows. Sourcing keeps the home stream's order, so once a replica holds the `sealed`
 * marker it holds every tombstone published before it: its copy has passed the cut, and a
 * purge there can no longer be undone by a lagging source. No shard consumer reads `_ctl`.
 */
import { z } from 'zod';
import { LIMITS } from './limits.ts';
import { ScopeSchema, TenantSchema } from './schemas.ts';

export const ERASURE_ID_PATTERN = /^er-([a-z][a-z0-9-]{0,30}[a-z0-9])-([0-9a-f]{12})$/;

/** The home region whose agents run an erasure, from its id; undefined for a malformed id. */
export function erasureRegionOf(id: string): string | undefined {
  return ERASURE_ID_PATTERN.exec(id)?.[1];
}

/** What is erased: memories whose scope has every one of these (the whole tenant when `all`). */
export const EraseScopeSchema = ScopeSchema.extend({ all: z.literal(true).optional() }).refine(
  (s) => s.all === true || s.userId !== undefined || s.agentId !== undefined || s.sessionId !== undefined,
  { message: 'an erasure needs userId, agentId or sessionId (or the admin route for a whole tenant)' },
);
export type EraseScope = z.infer<typeof EraseScopeSchema>;

/** Whether a memory of `scope` is erased by `erase`. */
export function inEraseScope(erase: EraseScope, scope: z.infer<typeof ScopeSchema>): boolean {
  if (erase.all) return true;
  return (
    (erase.userId === undefined || scope.userId === erase.userId) &&
    (erase.agentId === undefined || scope.agentId === erase.agentId) &&
    (erase.sessionId === undefined || scope.sessionId === erase.sessionId)
  );
}

/** A stable key of a scope, for "the same erasure again". */
export function eraseScopeKey(scope: EraseScope): string {
  return JSON.stringify([
    scope.all ?? false,
    scope.userId ?? null,
    scope.agentId ?? null,
    scope.sessionId ?? null,
  ]);
}

export const ERASURE_STATES = ['requested', 'erasing', 'verifying', 'done', 'failed'] as const;
export type ErasureState = (typeof ERASURE_STATES)[number];

const count = z.number().int().min(0);

/** What one region removed, store by store, and what its own check found. */
export const ErasureRegionReceiptSchema = z.strictObject({
  state: z.enum(['pending', 'erasing', 'done', 'failed']),
  /** Messages purged from the region's stream: document versions, then re-embeddings. */
  streamMessages: count,
  embeddingMessages: count,
  /** Erased documents the region's views no longer hold (their tombstone applied). */
  viewDocs: count,
  /** Views written to a fresh snapshot, older snapshot directories deleted. */
  snapshots: count,
  /** Cache entries removed: the tenant's cached results and erased texts' query embeddings. */
  cacheEntries: count,
  deadLetters: count,
  finishedAt: z.string().optional(),
  verification: z
    .strictObject({
      ok: z.boolean(),
      /** Messages of erased versions still in the stream (should be 0). */
      streamMessagesLeft: count,
      /** Erased documents a view still answers (should be 0). */
      viewHitsLeft: count,
      /** Cache entries of the erased texts still present (should be 0). */
      cacheEntriesLeft: count,
      deadLettersLeft: count,
    })
    .optional(),
  error: z.string().max(500).optional(),
});
export type ErasureRegionReceipt = z.infer<typeof ErasureRegionReceiptSchema>;

/** `GET /v1/erasures/<id>`: the receipt. Never any content: ids and counts only. */
export const ErasureReceiptSchema = z.strictObject({
  id: z.string().regex(ERASURE_ID_PATTERN),
  tenant: TenantSchema,
  state: z.enum(ERASURE_STATES),
  scope: EraseScopeSchema,
  requestedAt: z.string(),
  finishedAt: z.string().optional(),
  /** The home stream's sequence at the request: versions at or below it are erased. */
  cutVersion: count,
  /** Documents found in scope at the cut (their tombstones remain, without content). */
  documents: count,
  regions: z.record(z.string(), ErasureRegionReceiptSchema),
  /** Writes in scope after the cut: kept, as the API promised their writers. */
  keptAfterCut: z.strictObject({
    count,
    /** Their ids, the first LIMITS.erasureKeptIdsMax of them. */
    ids: z.array(z.string()).max(LIMITS.erasureKeptIdsMax),
  }),
  error: z.string().max(500).optional(),
});
export type ErasureReceipt = z.infer<typeof ErasureReceiptSchema>;

/** The API's answer to an erase request. */
export const ErasureAcceptedSchema = z.strictObject({
  id: z.string().regex(ERASURE_ID_PATTERN),
  state: z.enum(ERASURE_STATES),
});

/** The marker in the home stream: `requested` at the cut, `sealed` after the last tombstone. */
export const ErasureMarkerSchema = z.strictObject({
  v: z.literal(1),
  type: z.literal('erasure'),
  id: z.string().regex(ERASURE_ID_PATTERN),
  tenant: TenantSchema,
  phase: z.enum(['requested', 'sealed']),
  ts: z.number().int(),
});
export type ErasureMarker = z.infer<typeof ErasureMarkerSchema>;

export function erasureMarkerSubject(home: string, tenant: string): string {
  return `mem.${home}._ctl.${tenant}.erasure`;
}

/** Every erasure marker a region's stream holds: its own tenants' and the sourced ones. */
export const ERASURE_MARKERS_FILTER = 'mem.*._ctl.*.erasure';
