/**
 * @module types
 * The API's bodies as the client sends and receives them, derived from the schemas the
 * services validate with (lib/core, lib/http): `z.input` for what the client sends (optional
 * fields stay optional), `z.infer` for what it reads. Imports are type-only, so none of
 * those packages' runtime (zod, Node built-ins) reaches a browser bundle, and a schema change
 * is a compile error here rather than a silent drift.
 */
import type {
  BatchInputSchema,
  BatchResultSchema,
  ErasureAcceptedSchema,
  ErasureReceiptSchema,
  FilterSchema,
  MemoryHistorySchema,
  MemoryInputSchema,
  MemoryListSchema,
  MemorySchema,
  MemoryVersionSchema,
  MetadataSchema,
  ReindexJobSchema,
  ScopeSchema,
  SearchHitSchema,
  SearchInputSchema,
  SearchResponseSchema,
  WriteResultSchema,
} from '@memmesh/core';
import type { ApiKeyListSchema, RegionsResponseSchema, StatsResponseSchema } from '@memmesh/http/api';
import type { TenantPolicySchema } from '@memmesh/routing/schemas';
import type { z } from 'zod';

export type Metadata = z.input<typeof MetadataSchema>;
export type Scope = z.input<typeof ScopeSchema>;
export type Filter = z.input<typeof FilterSchema>;
export type MemoryInput = z.input<typeof MemoryInputSchema>;
export type BatchInput = z.input<typeof BatchInputSchema>;
export type SearchInput = z.input<typeof SearchInputSchema>;

export type WriteResult = z.infer<typeof WriteResultSchema>;
export type BatchResult = z.infer<typeof BatchResultSchema>;
/** One item of a batch's answer: its write, or its own error. */
export type BatchItemResult = BatchResult['results'][number];
export type Memory = z.infer<typeof MemorySchema>;
export type MemoryList = z.infer<typeof MemoryListSchema>;
export type MemoryVersion = z.infer<typeof MemoryVersionSchema>;
export type MemoryHistory = z.infer<typeof MemoryHistorySchema>;
export type ErasureAccepted = z.infer<typeof ErasureAcceptedSchema>;
export type ErasureReceipt = z.infer<typeof ErasureReceiptSchema>;
export type SearchHit = z.infer<typeof SearchHitSchema>;
export type SearchResponse = z.infer<typeof SearchResponseSchema>;
export type StatsResponse = z.infer<typeof StatsResponseSchema>;
export type RegionsResponse = z.infer<typeof RegionsResponseSchema>;
export type ReindexJob = z.infer<typeof ReindexJobSchema>;
export type TenantPolicy = z.infer<typeof TenantPolicySchema>;
export type ApiKeyList = z.infer<typeof ApiKeyListSchema>;

/** The filters of `GET /v1/memories` (the same as search's), a cursor and a page size. */
export interface ListParams {
  userId?: string;
  agentId?: string;
  sessionId?: string;
  /** Only memories whose metadata has every one of these values (typed: 1 is not "1"). */
  metadata?: Metadata;
  /** The previous page's `nextCursor`. */
  cursor?: string;
  /** Memories per page, 1 to LIMITS.listLimitMax. */
  limit?: number;
}
