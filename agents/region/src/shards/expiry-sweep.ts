/**
 * @module expiry-sweep
 * Removes expired memories for good, a bounded number per round: from the region's stream
 * first (a purge of the memory's subject up to and including the expired version), then from
 * the view that holds it (a tombstone at that version, so the snapshot that follows no longer
 * holds the text). Reads hide an expired memory from its instant on; this only frees what it
 * held, within about one sweep interval.
 *
 * Why a sweeper and not JetStream's per-message TTL (`Nats-TTL`, nats-server 2.11+): measured
 * on the pinned nats-server 2.15.2, a message that expires by TTL takes only itself away, and
 * with a per-subject history (max_msgs_per_subject > 1) the version before it becomes the
 * subject's last message again: a memory updated with a TTL would come back, as its previous
 * text, once the TTL fired, for GET and for any view rebuilt from the log. (Sourced copies do
 * expire in a replica stream that allows TTLs, and are kept forever in one that does not.) A
 * subject purge up to the expired version leaves nothing older behind, in every stream that
 * the sweep runs for, and needs no change to the streams. A purge does not travel through
 * sourcing, which is why every region sweeps its own stream, home and replicated tenants
 * alike: each one purges when its own view has the expired version.
 *
 * The purge goes first: if the agent stops between the two steps, the view still holds the
 * memory and the next round redoes both (a purge of an already purged subject removes
 * nothing). Several agents of a region may sweep the same shard: purges and tombstones are
 * idempotent. A purge only ever removes messages at or below the expired version, so a write
 * made meanwhile (a newer version) is never touched; then the log is left alone altogether.
 */
import { lastBySubject, versionOf } from '@memmesh/bus';
import { docKeyOf, docSubject } from '@memmesh/core';
import type { Logger } from '@memmesh/telemetry';
import type { JetStreamManager } from '@nats-io/jetstream';
import type { ShardHost } from './shard-host.ts';

export interface ExpirySweepOptions {
  jsm: JetStreamManager;
  /** The region's stream, which holds its own tenants' subjects and the replicated ones'. */
  stream: string;
  hosts: () => ShardHost[];
  /** Memories removed per shard per round. */
  docsMax: number;
  logger: Logger;
  /** Called for every memory removed from a view, to invalidate the tenant's cached answers. */
  onExpired: (tenant: string, version: number) => void;
}

export interface ExpirySweeper {
  /** One round, now; resolves with the memories removed. Rounds never overlap. */
  sweep(): Promise<number>;
  stop(): Promise<void>;
}

export function startExpirySweeper(options: ExpirySweepOptions, intervalMs: number): ExpirySweeper {
  let running: Promise<number> | undefined;
  const sweep = (): Promise<number> => {
    running ??= sweepOnce(options)
      .catch((err: unknown) => {
        options.logger.warn('expiry sweep failed; the next round retries', { err });
        return 0;
      })
      .finally(() => {
        running = undefined;
      });
    return running;
  };
  const timer = setInterval(() => void sweep(), intervalMs);
  timer.unref();
  return {
    sweep,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

/**
 * The shards are swept side by side (each view's removals one after another): with an
 * external index a removal is a few round trips, and the shards' backends work in parallel.
 */
async function sweepOnce(options: ExpirySweepOptions): Promise<number> {
  const nowMs = Date.now();
  const removed = await Promise.all(options.hosts().map((host) => sweepHost(options, host, nowMs)));
  return removed.reduce((sum, n) => sum + n, 0);
}

async function sweepHost(options: ExpirySweepOptions, host: ShardHost, nowMs: number): Promise<number> {
  let removed = 0;
  for (const due of await host.index.expiring(nowMs, options.docsMax)) {
    const subject = docSubject(host.origin, host.shard, due.tenant, docKeyOf(due.tenant, due.id));
    await purgeUpTo(options, subject, due.version);
    if (await host.index.expire(due.tenant, due.id, due.version)) {
      removed++;
      options.onExpired(due.tenant, due.version);
    }
  }
  return removed;
}

/**
 * Purges the subject when its newest message is the expired version: every message up to it
 * (its history included). The stream sequence is this stream's own (in a replica the copy's,
 * not the home's), read from the message itself.
 */
async function purgeUpTo(options: ExpirySweepOptions, subject: string, version: number): Promise<void> {
  const last = await lastBySubject(options.jsm, options.stream, subject);
  if (!last || versionOf(last) !== version) return;
  await options.jsm.streams.purge(options.stream, { filter: subject, seq: last.seq + 1 });
  // Its re-embeddings (a re-index's copies, on subjects of their own) hold the text too. They
  // are of versions up to this one: a newer version would have stopped the purge above.
  await options.jsm.streams.purge(options.stream, { filter: `${subject}.emb.>` });
}
