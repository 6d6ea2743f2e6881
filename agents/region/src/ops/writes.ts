/**
 * @module writes
 * Writes: chunk and embed at ingest, build the versioned event, publish it to the home
 * region's log with a content-hash Nats-Msg-Id, and optionally wait until the home index
 * applied it. Only the tenant's home region accepts writes: the facade (region.ts) checks.
 */
import { encodeEvent, toMeshError } from '@memmesh/bus';
import {
  chunkText,
  docKeyOf,
  docSubject,
  ErrorCode,
  encodeVector,
  isMeshError,
  type MemoryEvent,
  type MemoryInput,
  MeshError,
  newDocId,
  sha256Hex,
  shardOf,
  type WriteResult,
} from '@memmesh/core';
import type { TenantPolicy } from '@memmesh/routing';
import { expiryOf } from './expiry.ts';
import type { RegionHandles } from './handles.ts';
import { lastEvent } from './last-event.ts';

export interface WriteOptions {
  wait: boolean;
}

export type BatchItemResult = WriteResult | { id: string; error: { code: string; message: string } };

/** Attempts of a delete that races concurrent writes to the same document. */
const DELETE_ATTEMPTS_MAX = 3;

interface PreparedWrite {
  id: string;
  shard: string;
  subject: string;
  event: MemoryEvent;
  msgId: string;
  ifVersion: number | undefined;
}

/** Chunks a batch of inputs, charges and embeds the chunks, and builds their events. */
async function prepareWrites(
  h: RegionHandles,
  policy: TenantPolicy,
  inputs: MemoryInput[],
): Promise<PreparedWrite[]> {
  const { tenant } = policy;
  const { region, shardCount, agentId } = h.config;
  // During a re-index (and its rollback window) a write carries every live model's vectors,
  // so that no view of the region ever falls behind the live traffic.
  const specs = h.models.writeModels();
  // Before any cost: a bad expiry is the caller's mistake (400), and the whole batch's.
  const nowMs = Date.now();
  const expiries = inputs.map((input) => expiryOf(input, policy, nowMs));
  const spansPerDoc = inputs.map((input) => chunkText(input.text, h.chunkOptions));
  const texts = inputs.flatMap((input, i) =>
    (spansPerDoc[i] ?? []).map((s) => input.text.slice(s.start, s.end)),
  );
  h.budgets.chargeWrite(tenant, texts);
  // The queues split the texts into pieces they interleave with other tenants' work.
  const queues = await Promise.all(specs.map((spec) => h.models.queue(spec)));
  const [vectors = [], ...others] = await Promise.all(
    queues.map((queue) => queue.embed(tenant, texts, 'bulk')),
  );
  const [active = h.models.base, ...extra] = specs;
  let next = 0;
  return inputs.map((input, i) => {
    const expiry = expiries[i];
    const id = input.id ?? newDocId();
    const shard = shardOf(tenant, id, shardCount);
    const first = next;
    const chunks = (spansPerDoc[i] ?? []).map((span) => ({
      ...span,
      vector: encodeVector(vectors[next++] as Float32Array),
    }));
    const alt = extra.map((spec, m) => ({
      model: { id: spec.model, dim: spec.dimensions },
      vectors: chunks.map((_, c) => encodeVector(others[m]?.[first + c] as Float32Array)),
    }));
    const event: MemoryEvent = {
      v: 1,
      type: 'upsert',
      tenant,
      id,
      text: input.text,
      chunks,
      metadata: input.metadata ?? {},
      scope: input.scope ?? {},
      model: { id: active.model, dim: active.dimensions },
      ...(alt.length > 0 ? { alt } : {}),
      ts: nowMs,
      source: { region, agent: agentId },
      ...(expiry === undefined ? {} : { expiresAt: expiry.atMs }),
    };
    // Content hash: the same write retried inside the duplicate window is dropped by NATS.
    // An expiring write's instant is part of it: the same text and TTL written again (to keep
    // a memory alive, or after it expired and was purged) is a new write with a new expiry,
    // never a "duplicate" of one that is gone. The publisher's own retries reuse this id.
    const content = [tenant, id, 'upsert', input.text, event.metadata, event.scope, active.model];
    const msgId = sha256Hex(JSON.stringify(expiry === undefined ? content : [...content, expiry.atMs]));
    const subject = docSubject(region, shard, tenant, docKeyOf(tenant, id));
    return { id, shard, subject, event, msgId, ifVersion: input.ifVersion };
  });
}

async function publishPrepared(
  h: RegionHandles,
  prepared: PreparedWrite,
  options: WriteOptions,
): Promise<WriteResult> {
  const { seq } = await h.publisher.publish({
    subject: prepared.subject,
    data: encodeEvent(prepared.event),
    msgId: prepared.msgId,
    expectLastSubjectSeq: prepared.ifVersion,
  });
  const host = h.views.get(h.config.region)?.hosts.get(prepared.shard);
  const applied =
    options.wait && host ? await host.consumer.waitApplied(seq, h.config.waitAppliedMsMax) : false;
  return { id: prepared.id, version: seq, region: h.config.region, shard: prepared.shard, applied };
}

export async function writeOne(
  h: RegionHandles,
  policy: TenantPolicy,
  input: MemoryInput,
  options: WriteOptions,
): Promise<WriteResult> {
  const [prepared] = await prepareWrites(h, policy, [input]);
  return publishPrepared(h, prepared as PreparedWrite, options);
}

export async function writeBatch(
  h: RegionHandles,
  policy: TenantPolicy,
  inputs: MemoryInput[],
  options: WriteOptions,
): Promise<BatchItemResult[]> {
  const ids = inputs.map((i) => i.id).filter((id): id is string => id !== undefined);
  if (new Set(ids).size !== ids.length) {
    throw new MeshError(ErrorCode.BadRequest, 'a batch must not name the same id twice');
  }
  const prepared = await prepareWrites(h, policy, inputs);
  const settled = await Promise.allSettled(prepared.map((p) => publishPrepared(h, p, options)));
  const failures = settled.filter((s) => s.status === 'rejected');
  // When nothing was stored because the log is down, say so as a whole: 503, retry later.
  if (
    failures.length === settled.length &&
    failures.every((f) => isMeshError(f.reason) && f.reason.retryable)
  ) {
    throw failures[0]?.reason;
  }
  return settled.map((s, i) => {
    if (s.status === 'fulfilled') return s.value;
    const err = toMeshError(s.reason, 'write');
    return { id: prepared[i]?.id ?? '', error: { code: err.code, message: err.message } };
  });
}

export async function deleteMemory(
  h: RegionHandles,
  tenant: string,
  id: string,
  options: WriteOptions & { ifVersion?: number | undefined },
): Promise<WriteResult> {
  for (let attempt = 1; ; attempt++) {
    const last = await lastEvent(h.jsm, h.stream, {
      origin: h.config.region,
      originShardCount: h.config.shardCount,
      tenant,
      id,
    });
    if (!last.event || last.event.type === 'delete')
      throw new MeshError(ErrorCode.NotFound, `memory ${id} not found`);
    if (options.ifVersion !== undefined && options.ifVersion !== last.version) {
      throw new MeshError(
        ErrorCode.VersionConflict,
        `expected version ${options.ifVersion}, current is ${last.version}`,
      );
    }
    const event: MemoryEvent = {
      v: 1,
      type: 'delete',
      tenant,
      id,
      ts: Date.now(),
      source: { region: h.config.region, agent: h.config.agentId },
    };
    const prepared = {
      id,
      shard: last.shard,
      subject: last.subject,
      event,
      msgId: sha256Hex(`${tenant}/${id}/delete/${last.version}`),
      // Expecting the version just read makes the delete exact; a concurrent write makes it retry.
      ifVersion: last.version,
    };
    try {
      return await publishPrepared(h, prepared, options);
    } catch (err) {
      const retry = isMeshError(err, ErrorCode.VersionConflict) && options.ifVersion === undefined;
      if (!retry || attempt >= DELETE_ATTEMPTS_MAX) throw err;
    }
  }
}
