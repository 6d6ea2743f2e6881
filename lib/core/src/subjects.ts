/**
 * @module subjects
 * Every NATS name memmesh uses, built in one place:
 *   stream  MEM_<REGION>   subjects mem.<region>.<shard>.<tenant>.<docKey>
 *   dead letters DLQ_<REGION>  subjects dlq.<region>.<shard>
 *   shard queries  q.<region>.<origin>.<shard>.<tenant> (request-reply, queue group per shard)
 *   audit log  AUDIT_<REGION>  subjects audit.<region>.<action> (admin changes made there)
 *
 * A region's stream also holds the events of tenants it replicates, sourced from their home
 * streams with their subjects unchanged (mem.<home>.…); the views of those are the region's
 * views of origin <home>.
 */

/** Region ids are lower-case words joined by dashes, e.g. `us-east-1`. */
export const REGION_PATTERN = /^[a-z][a-z0-9-]{0,30}[a-z0-9]$/;

export function streamName(region: string): string {
  return `MEM_${region.toUpperCase().replaceAll('-', '_')}`;
}

export function deadLetterStreamName(region: string): string {
  return `DLQ_${region.toUpperCase().replaceAll('-', '_')}`;
}

export function auditStreamName(region: string): string {
  return `AUDIT_${region.toUpperCase().replaceAll('-', '_')}`;
}

/** Admin changes recorded in `region`, one subject per kind of change (`tenant_policy`, `api_key`). */
export function auditSubject(region: string, kind: string): string {
  return `audit.${region}.${kind}`;
}

export function auditSubjects(region: string): string {
  return `audit.${region}.>`;
}

export function docSubject(region: string, shard: string, tenant: string, docKey: string): string {
  return `mem.${region}.${shard}.${tenant}.${docKey}`;
}

/** All subjects of a region's stream. */
export function regionSubjects(region: string): string {
  return `mem.${region}.>`;
}

/** All documents of one shard: the filter of that shard's consumer. */
export function shardFilter(region: string, shard: string): string {
  return `mem.${region}.${shard}.>`;
}

/** All documents of one tenant on one shard. */
export function tenantShardFilter(region: string, shard: string, tenant: string): string {
  return `mem.${region}.${shard}.${tenant}.>`;
}

/** All documents of one tenant in a region: purge and replication filters. */
export function tenantFilter(region: string, tenant: string): string {
  return `mem.${region}.*.${tenant}.>`;
}

export function deadLetterSubject(region: string, shard: string): string {
  return `dlq.${region}.${shard}`;
}

export function deadLetterSubjects(region: string): string {
  return `dlq.${region}.>`;
}

/** Queries for the view of `origin`'s shard hosted in `region` (origin = region for its own data). */
export function querySubject(region: string, origin: string, shard: string): string {
  return `q.${region}.${origin}.${shard}`;
}

/**
 * One tenant's queries of that shard view: the tenant is in the subject as well as in the
 * query, and a shard answers only when they agree, so what a query may ask is visible to
 * NATS (monitoring, and permissions narrower than a region should a deployment want them).
 */
export function tenantQuerySubject(region: string, origin: string, shard: string, tenant: string): string {
  return `${querySubject(region, origin, shard)}.${tenant}`;
}

/** Parses `mem.<region>.<shard>.<tenant>.<docKey>`; undefined when it is not one. */
export function parseDocSubject(
  subject: string,
): { region: string; shard: string; tenant: string; docKey: string } | undefined {
  const parts = subject.split('.');
  if (parts.length !== 5 || parts[0] !== 'mem') return undefined;
  const [, region, shard, tenant, docKey] = parts as [string, string, string, string, string];
  return { region, shard, tenant, docKey };
}
