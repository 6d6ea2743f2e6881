/**
 * @module subjects
 * Every NATS name memmesh uses, built in one place:
 *   stream  MEM_<REGION>   subjects mem.<region>.<shard>.<tenant>.<docKey>
 *   dead letters DLQ_<REGION>  subjects dlq.<region>.<shard>
 *   shard queries  q.<region>.<origin>.<shard>.<tenant> (request-reply, queue group per shard)
 *   audit log  AUDIT_<REGION>  subjects audit.<region>.<action> (admin changes made there)
 *   re-embeddings  mem.<region>.<shard>.<tenant>.<docKey>.emb.<modelKey> (in MEM_<REGION>)
 *   model state  mem.<region>._ctl.model (in MEM_<REGION>, sourced by replica regions)
 *
 * Re-embedding events have subjects of their own beside their document's, so that a
 * re-index leaves the document's version, its per-subject history and `ifVersion` alone;
 * they still fall under the shard and tenant filters, so that shard consumers, replication
 * sources and a tenant's purge carry them with the document.
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

/** A document's vectors from another model (a re-index), beside the document's own subject. */
export function embeddingSubject(
  region: string,
  shard: string,
  tenant: string,
  docKey: string,
  modelKey: string,
): string {
  return `${docSubject(region, shard, tenant, docKey)}.emb.${modelKey}`;
}

/** The region's model-state record: which model serves its views, and which is being built. */
export function modelStateSubject(region: string): string {
  return `mem.${region}._ctl.model`;
}

/** Every document subject of a region (exactly five tokens): not re-embeddings, not control. */
export function regionDocSubjects(region: string): string {
  return `mem.${region}.*.*.*`;
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

/**
 * Parses a document subject, or a re-embedding subject (then with its `modelKey`);
 * undefined when it is neither.
 */
export function parseEventSubject(
  subject: string,
): { region: string; shard: string; tenant: string; docKey: string; modelKey?: string } | undefined {
  const parts = subject.split('.');
  if (parts.length === 7 && parts[5] === 'emb') {
    const doc = parseDocSubject(parts.slice(0, 5).join('.'));
    return doc && { ...doc, modelKey: parts[6] as string };
  }
  return parseDocSubject(subject);
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
