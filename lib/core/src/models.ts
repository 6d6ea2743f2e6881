/**
 * @module models
 * Embedding models as data (DESIGN §10). A region's model is state, not a constant: the
 * log's model-state record of a region (`mem.<region>._ctl.model`) names the model its views
 * are served with and, during a re-index, the target being built beside it. Every agent of
 * the region, and every replica region (the record is sourced with the tenants' events),
 * follows that record, so all of them change model at the same point of the same log.
 */
import { z } from 'zod';
import { sha256Hex } from './ids.ts';
import { LIMITS } from './limits.ts';

/** What an agent needs to build an embedder: its kind, model name and vector length. */
export const EmbedderSpecSchema = z.strictObject({
  kind: z.enum(['local', 'minilm', 'openai']),
  /** The model's name: `local-hash-v1`, `all-minilm-l6-v2`, or the OpenAI-compatible model. */
  model: z
    .string()
    .min(1)
    .max(128)
    .regex(/^[A-Za-z0-9][A-Za-z0-9._:/@+-]*$/, 'model names use letters, digits and ._:/@+-'),
  dimensions: z.number().int().min(1).max(LIMITS.dimensionsMax),
});
export type EmbedderSpec = z.infer<typeof EmbedderSpecSchema>;

/** The model of an event or a view: the embedder's model id and the vectors' length. */
export interface ModelRef {
  id: string;
  dim: number;
}

export function modelRefOf(spec: EmbedderSpec): ModelRef {
  return { id: spec.model, dim: spec.dimensions };
}

/**
 * A NATS subject token naming a model (ids may hold `.` or `/`, which subjects cannot):
 * a hash of the id and the dimension, since the same model at another length is another
 * vector space.
 */
export function modelKeyOf(model: ModelRef): string {
  return sha256Hex(`${model.id}/${model.dim}`).slice(0, 16);
}

export function sameSpec(a: EmbedderSpec | undefined, b: EmbedderSpec | undefined): boolean {
  return (
    a !== undefined &&
    b !== undefined &&
    a.kind === b.kind &&
    a.model === b.model &&
    a.dimensions === b.dimensions
  );
}

/**
 * The model state of a region, as its log records it. `active` serves reads; `target` is
 * being built beside it (new writes carry both models' vectors); `previous` is the model
 * switched away from, kept current and searchable until `rollbackUntilMs`.
 */
export const ModelStateSchema = z.strictObject({
  v: z.literal(1),
  type: z.literal('model'),
  region: z.string().min(1).max(64),
  /** The re-index job that made this state; absent before any. */
  job: z.string().min(1).max(96).optional(),
  active: EmbedderSpecSchema,
  target: EmbedderSpecSchema.optional(),
  previous: EmbedderSpecSchema.optional(),
  rollbackUntilMs: z.number().int().min(0).optional(),
  ts: z.number().int(),
});
export type ModelState = z.infer<typeof ModelStateSchema>;

/** The models a write must be embedded with in this state: the active one first. */
export function writeModelsOf(state: Pick<ModelState, 'active' | 'target' | 'previous'>): EmbedderSpec[] {
  const models = [state.active];
  for (const extra of [state.target, state.previous]) {
    if (extra && !models.some((m) => sameSpec(m, extra))) models.push(extra);
  }
  return models;
}

/* ---------------------------------------------------------------- re-index jobs */

export const REINDEX_STATES = ['requested', 'building', 'ready', 'active', 'failed', 'aborted'] as const;
export type ReindexState = (typeof REINDEX_STATES)[number];

/** `POST /v1/admin/reindex`: move `region` (and its tenants' replicas) to `embedder`. */
export const ReindexRequestSchema = z.strictObject({
  region: z.string().min(1).max(64),
  embedder: EmbedderSpecSchema,
});
export type ReindexRequest = z.infer<typeof ReindexRequestSchema>;

/** Job ids name their region, so that any gateway can send a job's requests to it. */
export const REINDEX_ID_PATTERN = /^rx-([a-z][a-z0-9-]{0,30}[a-z0-9])-([0-9a-f]{12})$/;

/** What the admin API answers about a re-index job. */
export const ReindexJobSchema = z.strictObject({
  id: z.string().regex(REINDEX_ID_PATTERN),
  region: z.string(),
  from: EmbedderSpecSchema,
  to: EmbedderSpecSchema,
  state: z.enum(REINDEX_STATES),
  /** Live documents the new view holds, of `total` (both as of the last pass). */
  done: z.number().int().min(0),
  total: z.number().int().min(0),
  /** Chunks embedded with the target model by this job (embedding calls' inputs). */
  embedded: z.number().int().min(0),
  startedAt: z.string(),
  updatedAt: z.string(),
  /** Once `active`: until when `rollback` switches back at once; the old view is dropped after. */
  rollbackUntil: z.string().optional(),
  error: z.string().optional(),
});
export type ReindexJob = z.infer<typeof ReindexJobSchema>;

export function reindexRegionOf(id: string): string | undefined {
  return REINDEX_ID_PATTERN.exec(id)?.[1];
}
