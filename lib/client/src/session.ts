/**
 * @module session
 * Read-your-writes within one client: the highest version this client wrote (a version is
 * the position in the tenant's home log, so one number covers every memory), sent as
 * `minVersion` on later searches — a replica that has not applied it answers 503 and the
 * gateway asks the next region, or the client retries — and the version each memory was
 * last written at, so that a read answered older than that (a lagging replica's log) is
 * retried instead of returned. The per-memory map is bounded: the oldest entries are
 * forgotten first, and a forgotten memory is still covered by `minVersion` on searches.
 */
import { StaleRead } from './errors.ts';

/** Memories whose last written version a session remembers. */
export const DEFAULT_SESSION_IDS_MAX = 10_000;

export interface Session {
  /** The highest version written in this session; undefined before the first write. */
  readonly minVersion: number | undefined;
  /** Records a write (or, with `deleted`, a delete) this client made. */
  wrote(id: string, version: number, deleted?: boolean): void;
  /** The version `id` was last written at in this session, if remembered, and whether that was a delete. */
  lastWriteOf(id: string): { version: number; deleted: boolean } | undefined;
  /** Forgets everything: later reads need not include earlier writes. */
  reset(): void;
  /**
   * Forgets which ids it wrote (keeping `minVersion`): after an erasure, any of them may be
   * gone for good, and a 404 for one is the answer, not a replica behind.
   */
  forgetIds(): void;
}

export function createSession(idsMax = DEFAULT_SESSION_IDS_MAX): Session {
  let highest: number | undefined;
  // A Map iterates in insertion order: re-inserting on each write makes it least-recently-written first.
  const versions = new Map<string, { version: number; deleted: boolean }>();
  return {
    get minVersion() {
      return highest;
    },
    wrote(id, version, deleted = false) {
      highest = highest === undefined ? version : Math.max(highest, version);
      const before = versions.get(id);
      versions.delete(id);
      versions.set(id, before !== undefined && before.version > version ? before : { version, deleted });
      if (versions.size > idsMax) {
        const oldest = versions.keys().next();
        if (!oldest.done) versions.delete(oldest.value);
      }
    },
    lastWriteOf: (id) => versions.get(id),
    reset() {
      highest = undefined;
      versions.clear();
    },
    forgetIds() {
      versions.clear();
    },
  };
}

/** An answer older than this session's own write: retryable, like a replica's 503. */
export function staleRead(id: string, answered: string, wrote: number): StaleRead {
  return new StaleRead(`memory ${id} was answered ${answered}, older than this session's write at ${wrote}`);
}
