/**
 * @module provisioning
 * Creating the view's collections and their vector indexes when absent, verifying them when
 * present, and loading them. Many agents may open views of one collection at once; each step
 * is safe to race.
 */
import { ErrorCode, MeshError } from '@memmesh/core';
import { DataType } from '@zilliz/milvus2-sdk-node';
import type { MilvusCalls } from './calls.ts';
import { loadCollection } from './loading.ts';
import type { ResolvedMilvusIndexOptions } from './options.ts';
import {
  type CollectionSpec,
  dataCollectionSpec,
  type MilvusCollectionNames,
  viewsCollectionSpec,
} from './schema.ts';

export async function provisionCollections(
  calls: MilvusCalls,
  names: MilvusCollectionNames,
  options: ResolvedMilvusIndexOptions,
): Promise<void> {
  await ensureCollection(calls, viewsCollectionSpec(names.views));
  await ensureCollection(calls, dataCollectionSpec(names.data, options));
}

/**
 * Creates the collection when absent, verifies it when present, makes sure its vector index
 * exists, and loads it. Safe to run by many agents at once: a lost creation race shows up as
 * "already exists", after which the winner's collection is verified like any other.
 */
async function ensureCollection(calls: MilvusCalls, spec: CollectionSpec): Promise<void> {
  const { client } = calls;
  const has = await calls.run('hasCollection', () => client.hasCollection({ collection_name: spec.name }));
  if (has.value !== true) {
    await calls
      .run('createCollection', () =>
        client.createCollection({
          collection_name: spec.name,
          fields: spec.fields,
          enable_dynamic_field: false,
          // The collection's default; every read also asks for Strong explicitly.
          consistency_level: 'Strong',
          ...(spec.partitionCount === undefined ? {} : { num_partitions: spec.partitionCount }),
        }),
      )
      .catch((err: unknown) => {
        if (!mentions(err, /already exist/i)) throw err;
      });
  }
  await verifySchema(calls, spec);
  await ensureVectorIndex(calls, spec);
  await loadCollection(calls, spec.name);
}

/** Whether the error, or a cause of it (Milvus puts its text in `reason`), matches. */
function mentions(err: unknown, pattern: RegExp): boolean {
  for (let e = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    const { message, reason, cause } = e as { message?: unknown; reason?: unknown; cause?: unknown };
    if (pattern.test(String(message ?? '')) || pattern.test(String(reason ?? ''))) return true;
    e = cause;
  }
  return false;
}

async function verifySchema(calls: MilvusCalls, spec: CollectionSpec): Promise<void> {
  const described = await calls.run('describeCollection', () =>
    calls.client.describeCollection({ collection_name: spec.name }),
  );
  const actual = new Map(described.schema.fields.map((f) => [f.name, f]));
  const problems: string[] = [];
  for (const want of spec.fields) {
    const got = actual.get(want.name);
    actual.delete(want.name);
    if (got === undefined) {
      problems.push(`field ${want.name} is missing`);
      continue;
    }
    const params = new Map((got.type_params ?? []).map((p) => [String(p.key), String(p.value)]));
    const checks: [string, unknown, unknown][] = [
      ['type', DataType[want.data_type as DataType], got.data_type],
      ['primary key', Boolean(want.is_primary_key), Boolean(got.is_primary_key)],
      ['partition key', Boolean(want.is_partition_key), Boolean(got.is_partition_key)],
      ['dim', want.dim === undefined ? undefined : String(want.dim), params.get('dim')],
      [
        'max_length',
        want.max_length === undefined ? undefined : String(want.max_length),
        params.get('max_length'),
      ],
      [
        'max_capacity',
        want.max_capacity === undefined ? undefined : String(want.max_capacity),
        params.get('max_capacity'),
      ],
      [
        'element type',
        want.element_type === undefined ? undefined : DataType[want.element_type as DataType],
        want.element_type === undefined ? undefined : got.element_type,
      ],
    ];
    for (const [what, expected, found] of checks) {
      // Milvus Lite does not report an ARRAY's element max_length (real Milvus does).
      const unreported = what === 'max_length' && want.data_type === DataType.Array && found === undefined;
      if (expected !== found && !unreported)
        problems.push(`field ${want.name}: ${what} is ${String(found)}, expected ${String(expected)}`);
    }
  }
  for (const extra of actual.keys()) problems.push(`unexpected field ${extra}`);
  if (problems.length > 0) {
    // Deterministic: retrying cannot help, and writing into a foreign schema would corrupt it.
    throw new MeshError(
      ErrorCode.Config,
      `Milvus collection ${spec.name} exists with another schema: ${problems.join('; ')}`,
    );
  }
}

async function ensureVectorIndex(calls: MilvusCalls, spec: CollectionSpec, racing = true): Promise<void> {
  const { client } = calls;
  const described = await calls
    .run('describeIndex', () =>
      client.describeIndex({ collection_name: spec.name, field_name: spec.vectorField }),
    )
    .catch((err: unknown) => {
      // A collection without an index answers IndexNotExist (code 700; Milvus Lite says "no
      // index on collection"); anything else is a real failure.
      const details = (err as MeshError).details as { code?: number; errorCode?: string } | undefined;
      const missing =
        details?.code === 700 ||
        details?.errorCode === 'IndexNotExist' ||
        /index not (found|exist)|no index on/i.test((err as Error).message);
      if (missing) return undefined;
      throw err;
    });
  const existing = described?.index_descriptions?.find((d) => d.field_name === spec.vectorField);
  if (existing === undefined) {
    const created = await calls
      .run('createIndex', () =>
        client.createIndex({
          collection_name: spec.name,
          field_name: spec.vectorField,
          index_name: spec.vectorField,
          index_type: spec.indexParams.index_type,
          metric_type: spec.indexParams.metric_type,
          params: spec.indexParams.params,
        }),
      )
      .then(
        () => true,
        (err: unknown) => {
          // Another agent built it between our describe and create: verify theirs instead.
          if (racing && mentions(err, /already exist/i)) return false;
          throw err;
        },
      );
    if (!created) await ensureVectorIndex(calls, spec, false);
    return;
  }
  const params = new Map(existing.params.map((p) => [String(p.key), String(p.value)]));
  const nested = parseParams(params.get('params'));
  const found = {
    index_type: params.get('index_type'),
    metric_type: params.get('metric_type'),
    ...Object.fromEntries(Object.keys(spec.indexParams.params).map((k) => [k, params.get(k) ?? nested[k]])),
  };
  const wanted = {
    index_type: spec.indexParams.index_type,
    metric_type: spec.indexParams.metric_type,
    ...Object.fromEntries(Object.entries(spec.indexParams.params).map(([k, v]) => [k, String(v)])),
  };
  const differs = Object.entries(wanted).filter(([k, v]) => String(found[k as keyof typeof found]) !== v);
  if (differs.length > 0) {
    throw new MeshError(
      ErrorCode.Config,
      `Milvus collection ${spec.name} has a ${spec.vectorField} index with ${JSON.stringify(found)}, ` +
        `configured ${JSON.stringify(wanted)}: rebuild it under a new collection prefix or change the options`,
    );
  }
}

function parseParams(raw: string | undefined): Record<string, string> {
  if (raw === undefined) return {};
  try {
    const parsed = JSON.parse(raw) as Record<string, unknown>;
    return Object.fromEntries(Object.entries(parsed).map(([k, v]) => [k, String(v)]));
  } catch {
    return {};
  }
}
