/**
 * @module restored-check
 * A view resumed from a snapshot trusts the snapshot's position: its consumer goes on after
 * the recorded sequence, so an event the snapshot says it holds but does not (a snapshot
 * written from an older state, a file restored from a backup, a truncated write that still
 * matched its checksum) would never be applied, and search would keep answering the older
 * version, or a deleted document, for good. Read-repair at search time only looks when the
 * view is behind the log, which such a view is not.
 *
 * So once the views of an origin resumed from snapshots have caught up, the newest event of
 * every document (one "last per subject" walk of the origin's log, the same as a re-index's
 * check) is compared with what the view holds. An event the consumer has passed that the view
 * lacks is applied again through the normal path: a newer upsert (when the event carries this
 * view's vectors) or a tombstone. Each is counted as a `missed` read repair. Events past the
 * consumer's position are left to the consumer.
 */
import type { ModelRef } from '@memmesh/core';
import { applyEvent } from './apply.ts';
import { walkNewestEvents } from './doc-walk.ts';
import type { ShardHost } from './shard-host.ts';

export interface RestoredCheckContext {
  js: Parameters<typeof walkNewestEvents>[0];
  /** This region's stream, which holds the origin's events (its own or sourced). */
  stream: string;
  origin: string;
  model: ModelRef;
  hosts: ReadonlyMap<string, ShardHost>;
  /** Called for every document applied again (the view had missed it). */
  onMissed: (where: { origin: string; shard: string }) => void;
  /** Called after a repaired document changed a view (cache tokens of serving views). */
  onApplied: (tenant: string, version: number, where: { origin: string; shard: string }) => void;
  /** Stops the walk early (the agent is closing). */
  stopped: () => boolean;
  /** How long the walk waits for a message before giving up. */
  idleMsMax?: number;
}

export interface RestoredCheck {
  /** Documents compared with the log. */
  checked: number;
  /** Versions or tombstones the views lacked, applied again. */
  repaired: number;
  /** Newer versions the views lack but cannot be given here: the event has no vectors of this model. */
  unrepairable: number;
}

class Stopped extends Error {}

export async function checkRestoredViews(ctx: RestoredCheckContext): Promise<RestoredCheck> {
  const result: RestoredCheck = { checked: 0, repaired: 0, unrepairable: 0 };
  const nowMs = Date.now();
  try {
    await walkNewestEvents(
      ctx.js,
      { stream: ctx.stream, origin: ctx.origin, ...(ctx.idleMsMax ? { idleMsMax: ctx.idleMsMax } : {}) },
      async (walked) => {
        if (ctx.stopped()) throw new Stopped();
        const host = ctx.hosts.get(walked.shard);
        // Past the consumer's position: it will apply the event itself.
        if (!host || walked.seq > host.consumer.appliedSeq) return;
        const { event, version } = walked;
        result.checked++;
        const held = await host.index.get(event.tenant, event.id);
        if (event.type === 'delete') {
          if (held === undefined || held.version >= version) return;
        } else {
          if (held !== undefined && held.version >= version) return;
          // Expired is gone anyway: read time hides it and the sweeper purges it.
          if (event.expiresAt !== undefined && event.expiresAt <= nowMs) return;
        }
        const where = { origin: ctx.origin, shard: walked.shard };
        await applyEvent({ index: host.index, model: ctx.model, building: true }, walked, (tenant, v) =>
          ctx.onApplied(tenant, v, where),
        );
        const now = await host.index.get(event.tenant, event.id);
        const fixed =
          event.type === 'delete' ? now === undefined : now !== undefined && now.version >= version;
        if (fixed) {
          result.repaired++;
          ctx.onMissed(where);
        } else {
          result.unrepairable++;
        }
      },
    );
  } catch (err) {
    if (!(err instanceof Stopped)) throw err;
  }
  return result;
}
