/**
 * @module schema
 * The layout of memmesh's Milvus collections: their names, their fields and the Milvus limits
 * that bound them, the key of a document, and the placeholder vector of its head row.
 *
 * A collection per (prefix, origin region, embedding model, dimensions), so a new model
 * version is a new collection that can be rebuilt from the log beside the old one (DESIGN §9).
 * In it, every document has one head row (chunk = -1: version, tombstone flag, text,
 * metadata, scope, chunk count) and one row per chunk (its vector and the filter facts). Heads
 * are what `get` reads and what makes versions and tombstones exact; chunks are what searches
 * rank. The view's position (appliedSeq) lives in a small `<prefix>_views` collection, one row
 * per view.
 *
 * Partition key: tenant. Every read names exactly one tenant, so Milvus routes it to the one
 * partition holding that tenant, and erasing a tenant (DESIGN §9, forget) touches one
 * partition. The shard would prune less: a region has a handful of shards, and every search
 * scatters to all of them anyway. The shard is a plain field that every expression filters
 * on, so two views never see each other's rows even though they share a collection.
 *
 * Expiry lives in the `scope` JSON field, under EXPIRY_KEY, on the head and on every chunk
 * row, rather than in a field of its own. The collections have fixed fields (no dynamic
 * field), and Milvus Lite and Milvus before 2.6 cannot add one to an existing collection, so
 * a new field would mean copying every collection on upgrade; a JSON key needs nothing:
 * rows written before expiry existed simply have no key and never expire. The key cannot
 * collide with a real scope field (scopes are strict objects of agentId, userId and
 * sessionId), and it is taken out of every scope the index hands back. Chunk rows carry it
 * so that a search filters expired chunks inside Milvus, before its topK.
 */
import { createHash } from 'node:crypto';
import { ErrorCode, MeshError } from '@memmesh/core';
import { DataType, type FieldType } from '@zilliz/milvus2-sdk-node';
import type { UpsertDoc } from '../types.ts';
import type { ResolvedMilvusIndexOptions } from './options.ts';

/** Milvus limits: names, VARCHAR bytes, ARRAY capacity. */
const NAME_LENGTH_MAX = 255;
export const TEXT_BYTES_MAX = 65_535;
const DOC_ID_BYTES_MAX = 2_048;
export const FACT_BYTES_MAX = 8_192;
export const FACTS_MAX = 64;
/** The head row's `chunk`; chunk rows count from 0. */
export const HEAD_CHUNK = -1;
export const VECTOR_FIELD = 'vector';
/** The key of a version's expiry (ms since the epoch) in the rows' `scope` JSON. */
export const EXPIRY_KEY = 'expires_at_ms';
export const POSITION_VECTOR_FIELD = 'placeholder';

/** What a head row gives back to `get` and to a search's hits. */
export const HEAD_FIELDS = ['pk', 'doc_id', 'version', 'deleted', 'chunk_count', 'text', 'metadata', 'scope'];

/** Milvus bounds VARCHARs in bytes of UTF-8, not in characters. */
export const utf8Bytes = (value: string): number => Buffer.byteLength(value, 'utf8');

export interface MilvusCollectionNames {
  data: string;
  views: string;
  /** This view's row in the views collection. */
  view: string;
}

/**
 * Milvus names start with a letter or `_` and use letters, digits and `_`, up to 255. The
 * readable part is sanitised and may collide (`a-b`, `a.b`), so a hash of the exact inputs
 * follows it.
 */
export function collectionNames(options: ResolvedMilvusIndexOptions): MilvusCollectionNames {
  const { collectionPrefix, region, modelId, dimensions, shard } = options;
  const hash = createHash('sha256')
    .update(JSON.stringify([collectionPrefix, region, modelId, dimensions]))
    .digest('hex')
    .slice(0, 8);
  const readable = `${region}_${modelId}_${dimensions}`.toLowerCase().replace(/[^a-z0-9_]+/g, '_');
  const room = NAME_LENGTH_MAX - collectionPrefix.length - hash.length - 2;
  const data = `${collectionPrefix}_${readable.slice(0, room)}_${hash}`;
  return { data, views: `${collectionPrefix}_views`, view: `${data}/${shard}` };
}

export interface CollectionSpec {
  name: string;
  fields: FieldType[];
  vectorField: string;
  indexParams: { index_type: string; metric_type: string; params: Record<string, number> };
  partitionCount: number | undefined;
}

export function dataCollectionSpec(name: string, options: ResolvedMilvusIndexOptions): CollectionSpec {
  const varchar = (fieldName: string, maxLength: number, extra: Partial<FieldType> = {}): FieldType => ({
    name: fieldName,
    data_type: DataType.VarChar,
    max_length: maxLength,
    ...extra,
  });
  return {
    name,
    fields: [
      varchar('pk', 64, { is_primary_key: true, autoID: false }),
      varchar('doc', 32),
      varchar('shard', 512),
      varchar('tenant', 512, { is_partition_key: true }),
      varchar('doc_id', DOC_ID_BYTES_MAX),
      { name: 'chunk', data_type: DataType.Int32 },
      { name: 'version', data_type: DataType.Int64 },
      { name: 'deleted', data_type: DataType.Bool },
      { name: 'chunk_count', data_type: DataType.Int32 },
      varchar('text', TEXT_BYTES_MAX),
      { name: 'metadata', data_type: DataType.JSON },
      { name: 'scope', data_type: DataType.JSON },
      {
        name: 'facts',
        data_type: DataType.Array,
        element_type: DataType.VarChar,
        max_capacity: FACTS_MAX,
        max_length: FACT_BYTES_MAX,
      },
      { name: VECTOR_FIELD, data_type: DataType.FloatVector, dim: options.dimensions },
    ],
    vectorField: VECTOR_FIELD,
    indexParams: {
      index_type: 'HNSW',
      metric_type: 'COSINE',
      params: { M: options.hnsw.m, efConstruction: options.hnsw.efConstruction },
    },
    partitionCount: options.partitionCount,
  };
}

/** Milvus requires a vector field in every collection, so the position rows carry a tiny one. */
export function viewsCollectionSpec(name: string): CollectionSpec {
  return {
    name,
    fields: [
      { name: 'view', data_type: DataType.VarChar, max_length: 1_024, is_primary_key: true, autoID: false },
      { name: 'applied_seq', data_type: DataType.Int64 },
      { name: 'updated_ms', data_type: DataType.Int64 },
      { name: POSITION_VECTOR_FIELD, data_type: DataType.FloatVector, dim: 2 },
    ],
    vectorField: POSITION_VECTOR_FIELD,
    indexParams: { index_type: 'FLAT', metric_type: 'L2', params: {} },
    partitionCount: undefined,
  };
}

/** A document's key: fixed length and hex, so it is safe in any expression and primary key. */
export function docKey(shard: string, tenant: string, id: string): string {
  return createHash('sha256')
    .update(JSON.stringify([shard, tenant, id]))
    .digest('hex')
    .slice(0, 32);
}

/**
 * The vector of a head row. Milvus wants one in every row, and heads are never searched
 * (`chunk >= 0`), but they are in the HNSW graph: a distinct pseudo-random unit vector per
 * document keeps them from piling up in one point, which degrades HNSW graphs.
 */
export function placeholderVector(key: string, dimensions: number): number[] {
  let state = Number.parseInt(key.slice(0, 8), 16) >>> 0 || 1;
  const vector: number[] = [];
  let sum = 0;
  for (let i = 0; i < dimensions; i++) {
    // xorshift32: small, deterministic, good enough to spread points.
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    const x = state / 0xffffffff - 0.5;
    vector.push(x);
    sum += x * x;
  }
  const norm = Math.sqrt(sum) || 1;
  return vector.map((x) => x / norm);
}

/** What Milvus cannot store is a poison event for this view: deterministic, never retried. */
export function assertStorable(doc: UpsertDoc, facts: string[]): void {
  const problems: string[] = [];
  if (utf8Bytes(doc.text) > TEXT_BYTES_MAX) problems.push(`text is over ${TEXT_BYTES_MAX} bytes`);
  if (utf8Bytes(doc.id) > DOC_ID_BYTES_MAX) problems.push(`id is over ${DOC_ID_BYTES_MAX} bytes`);
  if (utf8Bytes(doc.tenant) > 512) problems.push('tenant is over 512 bytes');
  if (facts.length > FACTS_MAX) problems.push(`metadata and scope have over ${FACTS_MAX} entries`);
  if (facts.some((f) => utf8Bytes(f) > FACT_BYTES_MAX))
    problems.push(`a metadata entry is over ${FACT_BYTES_MAX} bytes`);
  if (problems.length > 0) {
    throw new MeshError(
      ErrorCode.InvalidEvent,
      `document ${doc.id} cannot be stored in Milvus: ${problems.join('; ')}`,
    );
  }
}
