/**
 * @module jobs
 * Re-index jobs as control rows of the routing table (`reindex:<region>`; the in-memory
 * table locally, DynamoDB in production): what the admin API creates, reads, aborts and
 * rolls back, and what the runner claims with a lease. Every change is a conditional write
 * on the row's version, so of two agents or requests racing, one wins and the other
 * re-reads.
 */
import { randomBytes } from 'node:crypto';
import {
  type EmbedderSpec,
  EmbedderSpecSchema,
  ErrorCode,
  isMeshError,
  MeshError,
  REINDEX_STATES,
  type ReindexJob,
  ReindexJobSchema,
} from '@memmesh/core';
import type { ControlRow, RoutingTable } from '@memmesh/routing';
import { z } from 'zod';

/** The row as stored: the public job plus the runner's lease and the switch-over's progress. */
export const StoredJobSchema = z.strictObject({
  job: ReindexJobSchema,
  /** The agent running the job, and until when no other may take it over. */
  lease: z.strictObject({ owner: z.string(), untilMs: z.number().int() }).optional(),
  /** The model-state record has been published for `building` (a restarted runner skips it). */
  announced: z.boolean(),
  /** Once active: when the old view is dropped, and whether it has been. */
  rollbackUntilMs: z.number().int().optional(),
  dropped: z.boolean(),
});
export type StoredJob = z.infer<typeof StoredJobSchema>;

export interface JobRow {
  stored: StoredJob;
  version: number;
}

/** States in which a job still has work or can still be rolled back. */
export function isRunning(stored: StoredJob): boolean {
  const { state } = stored.job;
  return (
    state === 'requested' ||
    state === 'building' ||
    state === 'ready' ||
    (state === 'active' && !stored.dropped)
  );
}

export function controlName(region: string): string {
  return `reindex:${region}`;
}

export async function readJob(routing: RoutingTable, region: string): Promise<JobRow | undefined> {
  const row: ControlRow | undefined = await routing.getControl(controlName(region));
  if (!row) return undefined;
  const parsed = StoredJobSchema.safeParse(row.value);
  if (!parsed.success) {
    throw new MeshError(
      ErrorCode.Internal,
      `the control row ${controlName(region)} does not hold a re-index job`,
    );
  }
  return { stored: parsed.data, version: row.version };
}

/** Writes the row if it is still at `row.version`; undefined when someone else changed it first. */
export async function writeJob(
  routing: RoutingTable,
  region: string,
  stored: StoredJob,
  version: number,
): Promise<JobRow | undefined> {
  const next = { ...stored, job: { ...stored.job, updatedAt: new Date().toISOString() } };
  try {
    const row = await routing.putControl(controlName(region), next, version);
    return { stored: next, version: row.version };
  } catch (err) {
    if (isMeshError(err, ErrorCode.VersionConflict)) return undefined;
    throw err;
  }
}

export function newJob(region: string, from: EmbedderSpec, to: EmbedderSpec): StoredJob {
  const now = new Date().toISOString();
  return {
    job: {
      id: `rx-${region}-${randomBytes(6).toString('hex')}`,
      region,
      from: EmbedderSpecSchema.parse(from),
      to: EmbedderSpecSchema.parse(to),
      state: 'requested',
      done: 0,
      total: 0,
      embedded: 0,
      startedAt: now,
      updatedAt: now,
    },
    announced: false,
    dropped: false,
  };
}

export type { ReindexJob };
export { REINDEX_STATES };
