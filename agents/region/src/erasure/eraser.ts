/**
 * @module eraser
 * Erasure by scope (DESIGN §10), run by the tenant's home region and every replica region:
 *
 * 1. The request (home agent) publishes the `requested` marker on the tenant's control
 *    subject; its sequence is the **cut**: versions at or below it are erased, writes after
 *    it are kept and listed in the receipt. Then it writes the job row.
 * 2. One home agent (lease `home`) walks the tenant's messages up to the cut and publishes a
 *    tombstone for every document in scope whose newest version is still an upsert (expected
 *    last sequence: a write after the cut wins and is kept), a bounded batch at a time with
 *    its progress in the row; then the `sealed` marker.
 * 3. Every region holding the tenant (lease `<region>`), its home included, notices the sealed
 *    marker in its own stream. Since sourcing keeps the home's order, the marker's arrival
 *    means the region's copy has passed the cut, so its purge cannot be undone by a lagging
 *    source. It removes the erased data from its own stores and checks them (removal.ts).
 * 4. When every region has reported, the home agent finishes the receipt and appends one
 *    audit event with the scope and the counts (never content).
 *
 * Why the marker rides in the log rather than only in the routing table's row: a replica
 * must know not only that an erasure exists but that its copy already holds the tombstones,
 * and only its own stream can tell it that. The row carries what the log should not: leases,
 * progress and the receipt. An agent killed mid-way loses nothing: the next tick (its own
 * after a restart, or another agent's once the lease runs out) redoes its step, and every
 * step is idempotent.
 */
import { type AuditLog, encodeEvent, type Publisher } from '@memmesh/bus';
import {
  ERASURE_MARKERS_FILTER,
  type EraseScope,
  EraseScopeSchema,
  type ErasureMarker,
  ErasureMarkerSchema,
  type ErasureReceipt,
  ErrorCode,
  eraseScopeKey,
  erasureMarkerSubject,
  erasureRegionOf,
  isMeshError,
  LIMITS,
  MeshError,
  sha256Hex,
} from '@memmesh/core';
import type { RoutingTable, TenantPolicy } from '@memmesh/routing';
import { DeliverPolicy, type JsMsg } from '@nats-io/jetstream';
import {
  type ErasureRow,
  leased,
  newErasureId,
  readErasure,
  readPointer,
  type StoredErasure,
  updateErasure,
  writeErasure,
  writePointer,
} from './jobs.ts';
import { type RemovalContext, removeInRegion, removeLocally } from './removal.ts';
import { walkTenant } from './walk.ts';

export interface EraserOptions extends RemovalContext {
  agentId: string;
  routing: RoutingTable;
  publisher: Publisher;
  audit: AuditLog;
  leaseMs: number;
  /** Documents tombstoned per batch (one progress write each). */
  batchDocsMax: number;
  /** Documents one erasure may cover; a larger scope is refused before anything is erased. */
  docsMax: number;
  /** Counts erasures as they end (done or failed) and steps that failed (retried next tick). */
  metrics?: EraserMetrics | undefined;
}

export interface EraserMetrics {
  ended(state: 'done' | 'failed', documents: number): void;
  stepFailed(): void;
}

export interface EraseRequest {
  tenant: string;
  policy: TenantPolicy;
  scope: unknown;
  actor: StoredErasure['actor'];
}

export interface Eraser {
  request(input: EraseRequest): Promise<{ id: string; state: ErasureReceipt['state'] }>;
  get(tenant: string | undefined, id: string): Promise<ErasureReceipt>;
  /** Works on whatever erasure this agent can take a step of. */
  tick(): Promise<void>;
  close(): Promise<void>;
}

export function createEraser(options: EraserOptions): Eraser {
  /** Erasures whose local part (this agent's own views and cache) is done. */
  const local = new Set<string>();
  let running: Promise<void> | undefined;
  let closed = false;
  return {
    request: (input) => requestErasure(options, input),
    get: (tenant, id) => receiptOf(options, tenant, id),
    tick() {
      if (running || closed) return running ?? Promise.resolve();
      running = tickOnce({ ...options, stopped: () => closed }, local)
        .catch((err: unknown) => {
          options.metrics?.stepFailed();
          options.logger.warn('erasure step failed; the next tick retries', { err });
        })
        .finally(() => {
          running = undefined;
        });
      return running;
    },
    async close() {
      closed = true;
      await running;
    },
  };
}

export function parseEraseScope(scope: unknown): EraseScope {
  const parsed = EraseScopeSchema.safeParse(scope);
  if (!parsed.success) {
    throw new MeshError(ErrorCode.BadRequest, parsed.error.issues[0]?.message ?? 'bad erasure scope', {
      details: parsed.error.issues.map((i) => ({ path: i.path.join('.') || 'scope', message: i.message })),
    });
  }
  return parsed.data;
}

async function requestErasure(
  o: EraserOptions,
  input: EraseRequest,
): Promise<{ id: string; state: ErasureReceipt['state'] }> {
  const scope = parseEraseScope(input.scope);
  const scopeKey = eraseScopeKey(scope);
  const pointer = await readPointer(o.routing, input.tenant);
  const previous = pointer && (await readErasure(o.routing, pointer.id));
  if (previous) {
    const { receipt } = previous.stored;
    // The same scope again answers the same job (running or done); a failed one is redone.
    if (pointer?.scopeKey === scopeKey && receipt.state !== 'failed')
      return { id: receipt.id, state: receipt.state };
    if (receipt.state !== 'done' && receipt.state !== 'failed') {
      throw new MeshError(
        ErrorCode.Conflict,
        `erasure ${receipt.id} of tenant ${input.tenant} is ${receipt.state}: one erasure per tenant runs at a time`,
      );
    }
  }
  const id = newErasureId(o.region);
  // The marker first: its sequence is the cut. A crash before the row leaves a marker no row names, which every tick skips.
  const cut = await publishMarker(o, {
    v: 1,
    type: 'erasure',
    id,
    tenant: input.tenant,
    phase: 'requested',
    ts: Date.now(),
  });
  const regions = [input.policy.home, ...input.policy.replicas.filter((r) => r !== input.policy.home)];
  const stored: StoredErasure = {
    receipt: {
      id,
      tenant: input.tenant,
      state: 'requested',
      scope,
      requestedAt: new Date().toISOString(),
      cutVersion: cut,
      documents: 0,
      regions: Object.fromEntries(regions.map((r) => [r, emptyRegion()])),
      keptAfterCut: { count: 0, ids: [] },
    },
    home: o.region,
    scopeKey,
    leases: {},
    tombstoned: 0,
    sealed: false,
    audited: false,
    actor: input.actor,
  };
  await writeErasure(o.routing, stored, 0);
  if (!(await writePointer(o.routing, input.tenant, { id, scopeKey }, pointer?.version ?? 0))) {
    throw new MeshError(
      ErrorCode.Conflict,
      `another erasure of tenant ${input.tenant} was requested at the same time`,
    );
  }
  o.logger.info('erasure requested', { erasure: id, tenant: input.tenant, cut });
  return { id, state: 'requested' };
}

function emptyRegion(): ErasureReceipt['regions'][string] {
  return {
    state: 'pending',
    streamMessages: 0,
    embeddingMessages: 0,
    viewDocs: 0,
    snapshots: 0,
    cacheEntries: 0,
    deadLetters: 0,
  };
}

async function receiptOf(o: EraserOptions, tenant: string | undefined, id: string): Promise<ErasureReceipt> {
  if (!erasureRegionOf(id))
    throw new MeshError(ErrorCode.BadRequest, `not an erasure id: ${id.slice(0, 64)}`);
  const row = await readErasure(o.routing, id);
  // Another tenant's erasure is as unknown as one that never was.
  if (!row || (tenant !== undefined && row.stored.receipt.tenant !== tenant)) {
    throw new MeshError(ErrorCode.NotFound, `no erasure ${id}`);
  }
  return row.stored.receipt;
}

async function publishMarker(o: EraserOptions, marker: ErasureMarker): Promise<number> {
  const { seq } = await o.publisher.publish({
    subject: erasureMarkerSubject(o.region, marker.tenant),
    data: new TextEncoder().encode(JSON.stringify(marker)),
    msgId: sha256Hex(`erasure/${marker.id}/${marker.phase}`),
  });
  return seq;
}

/** The newest marker of every tenant in this region's stream (its own and sourced ones). */
async function markersHere(o: EraserOptions): Promise<ErasureMarker[]> {
  const consumer = await o.js.consumers.get(o.stream, {
    filter_subjects: [ERASURE_MARKERS_FILTER],
    deliver_policy: DeliverPolicy.LastPerSubject,
  });
  const pending = (await consumer.info(true)).num_pending;
  const markers: ErasureMarker[] = [];
  if (pending === 0) return markers;
  const batch = await consumer.fetch({ max_messages: Math.min(pending, 1_000), expires: o.idleMsMax });
  for await (const msg of batch as AsyncIterable<JsMsg>) {
    const parsed = ErasureMarkerSchema.safeParse(safeJson(msg.data));
    if (parsed.success) markers.push(parsed.data);
    if (markers.length >= pending) break;
  }
  return markers;
}

function safeJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return undefined;
  }
}

async function tickOnce(o: EraserOptions, local: Set<string>): Promise<void> {
  for (const marker of await markersHere(o)) {
    const row = await readErasure(o.routing, marker.id);
    if (!row) continue;
    const { stored } = row;
    if (stored.receipt.state === 'done' || stored.receipt.state === 'failed') continue;
    const home = stored.home === o.region;
    if (home && !stored.sealed) await tombstonePhase(o, row);
    else if (marker.phase === 'sealed' && stored.receipt.regions[o.region]?.state !== 'done') {
      if (await regionPhase(o, row)) local.add(marker.id);
    } else if (home) await finish(o, row);
    // This agent's own views and cache, when another agent of the region did the removal.
    if (marker.phase === 'sealed' && !local.has(marker.id)) {
      const { receipt } = stored;
      await removeLocally(o, {
        origin: stored.home,
        tenant: receipt.tenant,
        scope: receipt.scope,
        cutVersion: receipt.cutVersion,
      });
      local.add(marker.id);
    }
  }
}

/** Takes `lease` on the row; the row as written, or undefined when another agent holds it. */
async function claim(o: EraserOptions, row: ErasureRow, lease: string): Promise<ErasureRow | undefined> {
  const next = leased(row.stored, lease, o.agentId, o.leaseMs);
  return next && (await writeErasure(o.routing, next, row.version));
}

/** The home's step: tombstones for every document in scope at the cut, then the sealed marker. */
async function tombstonePhase(o: EraserOptions, row: ErasureRow): Promise<void> {
  let current = await claim(o, row, 'home');
  if (!current) return;
  const { receipt } = current.stored;
  const walk = await walkTenant(o.js, {
    stream: o.stream,
    origin: o.region,
    tenant: receipt.tenant,
    scope: receipt.scope,
    cutVersion: receipt.cutVersion,
    idleMsMax: o.idleMsMax,
  });
  const erased = [...walk.subjects.values()].filter((s) => s.erased);
  if (erased.length > o.docsMax) {
    await updateErasure(o.routing, receipt.id, (s) => ({
      ...s,
      receipt: {
        ...s.receipt,
        state: 'failed',
        documents: erased.length,
        error: `the scope holds ${erased.length} documents, more than the ${o.docsMax} one erasure may erase: erase narrower scopes`,
      },
    }));
    o.metrics?.ended('failed', 0);
    return;
  }
  const live = erased.filter(
    (s) => s.lastType === 'upsert' && s.lastInScope && s.lastVersion <= receipt.cutVersion,
  );
  for (let start = 0; start < live.length; start += o.batchDocsMax) {
    const batch = live.slice(start, start + o.batchDocsMax);
    await Promise.all(batch.map((s) => tombstone(o, receipt, s)));
    current = await progress(o, current, (s) => ({
      ...s,
      tombstoned: Math.max(s.tombstoned, start + batch.length),
      receipt: { ...s.receipt, state: 'erasing', documents: erased.length },
    }));
  }
  await publishMarker(o, {
    v: 1,
    type: 'erasure',
    id: receipt.id,
    tenant: receipt.tenant,
    phase: 'sealed',
    ts: Date.now(),
  });
  await progress(o, current, (s) => ({
    ...s,
    sealed: true,
    receipt: { ...s.receipt, state: 'erasing', documents: erased.length },
    leases: withoutLease(s.leases, 'home'),
  }));
  o.logger.info('erasure sealed', { erasure: receipt.id, documents: erased.length });
}

/**
 * A tombstone exactly on the version walked: a write after the cut makes it fail, and that
 * write is kept. Its message id makes a resumed runner's repeat a duplicate.
 */
async function tombstone(
  o: EraserOptions,
  receipt: ErasureReceipt,
  s: { subject: string; id: string; lastAnySeq: number },
): Promise<void> {
  try {
    await o.publisher.publish({
      subject: s.subject,
      data: encodeEvent({
        v: 1,
        type: 'delete',
        tenant: receipt.tenant,
        id: s.id,
        ts: Date.now(),
        source: { region: o.region, agent: o.agentId },
      }),
      msgId: sha256Hex(`erasure/${receipt.id}/${s.subject}`),
      expectLastSubjectSeq: s.lastAnySeq,
    });
  } catch (err) {
    if (!isMeshError(err, ErrorCode.VersionConflict)) throw err;
  }
}

function withoutLease(leases: StoredErasure['leases'], name: string): StoredErasure['leases'] {
  const { [name]: _gone, ...rest } = leases;
  return rest;
}

/** Writes progress on the row this agent holds; throws when it lost the row meanwhile. */
async function progress(
  o: EraserOptions,
  row: ErasureRow,
  change: (s: StoredErasure) => StoredErasure,
): Promise<ErasureRow> {
  const written = await writeErasure(o.routing, change(row.stored), row.version);
  if (!written)
    throw new MeshError(ErrorCode.Conflict, `erasure ${row.stored.receipt.id} changed under this agent`);
  return written;
}

/** This region's removal, once its stream holds the sealed marker; false when another agent has it. */
async function regionPhase(o: EraserOptions, row: ErasureRow): Promise<boolean> {
  const claimed = await claim(o, row, o.region);
  if (!claimed) return false;
  const { receipt } = claimed.stored;
  await updateErasure(o.routing, receipt.id, (s) =>
    setRegion(s, o.region, { ...emptyRegion(), state: 'erasing' }),
  );
  const result = await removeInRegion(o, {
    origin: claimed.stored.home,
    tenant: receipt.tenant,
    scope: receipt.scope,
    cutVersion: receipt.cutVersion,
  });
  await updateErasure(o.routing, receipt.id, (s) => {
    const next = setRegion(s, o.region, result.receipt);
    next.leases = withoutLease(next.leases, o.region);
    if (s.home !== o.region) return next;
    const ids = result.kept.slice(0, LIMITS.erasureKeptIdsMax).map((k) => k.id);
    next.receipt = { ...next.receipt, keptAfterCut: { count: result.kept.length, ids } };
    return next;
  });
  o.logger.info('erasure removed in region', { erasure: receipt.id, ...result.receipt });
  return true;
}

function setRegion(
  s: StoredErasure,
  region: string,
  value: ErasureReceipt['regions'][string],
): StoredErasure {
  return { ...s, receipt: { ...s.receipt, regions: { ...s.receipt.regions, [region]: value } } };
}

/** Every region has reported: the receipt is done, and its audit event is appended once. */
async function finish(o: EraserOptions, row: ErasureRow): Promise<void> {
  const { receipt } = row.stored;
  if (!Object.values(receipt.regions).every((r) => r.state === 'done')) return;
  const finishedAt = new Date().toISOString();
  const totals = Object.fromEntries(
    Object.entries(receipt.regions).map(([region, r]) => [
      region,
      {
        streamMessages: r.streamMessages,
        embeddingMessages: r.embeddingMessages,
        viewDocs: r.viewDocs,
        snapshots: r.snapshots,
        cacheEntries: r.cacheEntries,
        deadLetters: r.deadLetters,
      },
    ]),
  );
  if (!row.stored.audited) {
    // The event's id is the erasure's: a repeat after a crash is stored once.
    await o.audit.append({
      v: 1,
      type: 'audit',
      id: receipt.id,
      action: 'erasure.done',
      tenant: receipt.tenant,
      actor: { kind: row.stored.actor.kind, source: row.stored.actor.source },
      at: Date.now(),
      region: o.region,
      before: null,
      after: {
        scope: receipt.scope,
        cutVersion: receipt.cutVersion,
        documents: receipt.documents,
        keptAfterCut: receipt.keptAfterCut.count,
        regions: totals,
      },
    });
  }
  await updateErasure(o.routing, receipt.id, (s) => ({
    ...s,
    audited: true,
    receipt: { ...s.receipt, state: 'done', finishedAt },
  }));
  o.metrics?.ended('done', receipt.documents);
  o.logger.info('erasure done', { erasure: receipt.id });
}
