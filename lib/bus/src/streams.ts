/**
 * @module streams
 * JetStream stream configurations, with every consequential setting spelled out, and their
 * idempotent provisioning.
 *
 * The region stream MEM_<REGION> is the source of truth. It keeps a small per-document
 * history (the newest version is what views need; a few older ones help debugging), never
 * expires by age, and refuses single-message deletes so the log cannot be edited in place.
 * Durability: with `replicas: 1` an acknowledged write is on one server's disk, flushed by
 * that server's `sync_interval` (NATS default: 2 minutes; only `always` survives power
 * loss). Production runs R3, where an acknowledged write is on a quorum of servers.
 */
import {
  auditStreamName,
  auditSubjects,
  deadLetterStreamName,
  deadLetterSubjects,
  modelStateSubject,
  regionSubjects,
  streamName,
  tenantFilter,
} from '@memmesh/core';
import {
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  type JetStreamManager,
  RetentionPolicy,
  StorageType,
  StoreCompression,
  type StreamConfig,
} from '@nats-io/jetstream';
import { nanos } from '@nats-io/transport-node';

export interface RegionStreamOptions {
  region: string;
  /** 1 locally, 3 in production. */
  replicas: number;
  /** Retries with the same Nats-Msg-Id inside this window are dropped by the server. */
  duplicateWindowMs: number;
  /** Largest event, in bytes (a 16 KiB memory with 384-dim chunk vectors is ~60 KiB). */
  messageBytesMax: number;
  /** Versions kept per document subject; 1 makes the stream a compacted changelog. */
  historyPerSubject: number;
  /** Total size bound of the stream in bytes; -1 for unlimited. */
  streamBytesMax: number;
  /** Dead letters are kept for inspection this long. */
  deadLetterMaxAgeMs: number;
  /** Place the stream in this NATS cluster (the region's own), when set. */
  placementCluster?: string | undefined;
  /** Replication: the home streams and per-tenant filters this region sources from. */
  sources?: ReplicationSource[] | undefined;
}

/** One tenant of one home region, copied into this region's stream. */
export interface ReplicationSource {
  homeRegion: string;
  tenant: string;
}

export const DEFAULT_REGION_STREAM_OPTIONS = {
  replicas: 1,
  duplicateWindowMs: 2 * 60_000,
  messageBytesMax: 1024 * 1024,
  historyPerSubject: 4,
  streamBytesMax: -1,
  deadLetterMaxAgeMs: 14 * 24 * 3_600_000,
} as const satisfies Omit<RegionStreamOptions, 'region'>;

export function regionStreamConfig(options: RegionStreamOptions): Partial<StreamConfig> & { name: string } {
  return {
    name: streamName(options.region),
    description: `memmesh log of region ${options.region}`,
    subjects: [regionSubjects(options.region)],
    storage: StorageType.File,
    num_replicas: options.replicas,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: 0,
    max_msgs: -1,
    max_bytes: options.streamBytesMax,
    max_msgs_per_subject: options.historyPerSubject,
    max_msg_size: options.messageBytesMax,
    duplicate_window: nanos(options.duplicateWindowMs),
    compression: StoreCompression.S2,
    allow_direct: true,
    deny_delete: true,
    // Purge stays allowed: forgetting a tenant purges its subjects.
    deny_purge: false,
    allow_rollup_hdrs: false,
    ...(options.placementCluster ? { placement: { cluster: options.placementCluster, tags: [] } } : {}),
    // One source per (home stream, tenant): adding a tenant backfills only that tenant, and
    // the others keep their position (changing a shared source's filters would re-copy all).
    // A home's model-state record comes too (one more source per home, carrying no tenant's
    // data), so that the replica's views of that home change model with it (DESIGN §10).
    sources: [
      ...(options.sources ?? []).map(({ homeRegion, tenant }) => ({
        name: streamName(homeRegion),
        filter_subject: tenantFilter(homeRegion, tenant),
      })),
      ...[...new Set((options.sources ?? []).map((s) => s.homeRegion))].sort().map((homeRegion) => ({
        name: streamName(homeRegion),
        filter_subject: modelStateSubject(homeRegion),
      })),
    ],
  };
}

export function deadLetterStreamConfig(
  options: RegionStreamOptions,
): Partial<StreamConfig> & { name: string } {
  return {
    name: deadLetterStreamName(options.region),
    description: `memmesh dead letters of region ${options.region}`,
    subjects: [deadLetterSubjects(options.region)],
    storage: StorageType.File,
    num_replicas: options.replicas,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: nanos(options.deadLetterMaxAgeMs),
    max_msgs: 100_000,
    max_bytes: -1,
    max_msg_size: options.messageBytesMax + 4096,
    duplicate_window: nanos(options.duplicateWindowMs),
    allow_direct: true,
    ...(options.placementCluster ? { placement: { cluster: options.placementCluster, tags: [] } } : {}),
  };
}

/**
 * The region's audit log: admin changes made through its gateway. Append-only in the server's
 * own terms (no message delete, no purge, for any user, operators included) and kept without
 * an age limit; an operator who must bound it sets max_bytes on the stream (old entries go
 * first), which is itself a configuration change NATS logs.
 */
export function auditStreamConfig(options: RegionStreamOptions): Partial<StreamConfig> & { name: string } {
  return {
    name: auditStreamName(options.region),
    description: `memmesh admin audit log of region ${options.region}`,
    subjects: [auditSubjects(options.region)],
    storage: StorageType.File,
    num_replicas: options.replicas,
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    max_age: 0,
    max_msgs: -1,
    max_bytes: -1,
    max_msg_size: AUDIT_EVENT_BYTES_MAX,
    duplicate_window: nanos(options.duplicateWindowMs),
    allow_direct: true,
    deny_delete: true,
    deny_purge: true,
    ...(options.placementCluster ? { placement: { cluster: options.placementCluster, tags: [] } } : {}),
  };
}

/** An audit event holds two tenant policies or key records: a few kilobytes at most. */
export const AUDIT_EVENT_BYTES_MAX = 64 * 1024;

/** Creates the region's streams, or updates them to this configuration. Idempotent. */
export async function ensureRegionStreams(
  jsm: JetStreamManager,
  options: RegionStreamOptions,
): Promise<void> {
  const streams = [regionStreamConfig(options), deadLetterStreamConfig(options), auditStreamConfig(options)];
  for (const config of streams) {
    await ensureStream(jsm, config);
  }
}

async function ensureStream(
  jsm: JetStreamManager,
  config: Partial<StreamConfig> & { name: string },
): Promise<void> {
  try {
    await jsm.streams.info(config.name);
  } catch (err) {
    if (err instanceof JetStreamApiError && err.code === JetStreamApiCodes.StreamNotFound) {
      await jsm.streams.add(config);
      return;
    }
    throw err;
  }
  const { name, ...update } = config;
  await jsm.streams.update(name, update);
}
