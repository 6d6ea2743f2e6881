/**
 * @module metrics
 * The Prometheus metrics of memmesh: one prom-client `Registry` per process (never the
 * global one, so that tests can run several agents and a gateway in one process), with the
 * process's `region` and `service` as default labels, and typed handles for every metric of
 * the catalogue (`.scratch/metrics-catalogue.md` mirrors `AGENT_METRIC_NAMES` and
 * `GATEWAY_METRIC_NAMES`; the alert rules and the dashboard are written against them).
 *
 * No label ever carries a tenant or document id: every label value comes from a bounded set
 * (regions, shards, backends, models, route templates, status numbers, error codes).
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export type ServiceName = 'region-agent' | 'gateway';

export interface MetricsOptions<S extends ServiceName = ServiceName> {
  /** The region the process runs in; a gateway that serves every region says `global`. */
  region: string;
  service: S;
  /** prom-client's process and Node.js metrics (CPU, memory, event loop, GC). Default true. */
  defaultMetrics?: boolean;
}

/** Seconds, from half a millisecond (an in-process apply) to ten seconds (a slow remote embed). */
export const LATENCY_BUCKETS_SECONDS = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
] as const;

export const AGENT_METRIC_NAMES = [
  'memmesh_consumer_lag_messages',
  'memmesh_consumer_lag_seconds',
  'memmesh_apply_duration_seconds',
  'memmesh_apply_errors_total',
  'memmesh_dead_letters_total',
  'memmesh_events_applied_total',
  'memmesh_publish_duration_seconds',
  'memmesh_publish_errors_total',
  'memmesh_vector_store_query_duration_seconds',
  'memmesh_vector_store_writes_total',
  'memmesh_vector_store_write_errors_total',
  'memmesh_cache_hits_total',
  'memmesh_cache_misses_total',
  'memmesh_cache_errors_total',
  'memmesh_embedder_duration_seconds',
  'memmesh_embedder_retries_total',
  'memmesh_embedder_errors_total',
  'memmesh_embed_queue_chars',
  'memmesh_read_repairs_total',
  'memmesh_reindex_docs_done',
  'memmesh_reindex_docs_total',
  'memmesh_reindex_chunks_embedded',
  'memmesh_reindex_state',
  'memmesh_reindex_embed_errors_total',
  'memmesh_erasures_total',
  'memmesh_erased_documents_total',
  'memmesh_erasure_step_errors_total',
  'memmesh_shard_query_duration_seconds',
  'memmesh_shard_queries_in_flight',
  'memmesh_searches_shed_total',
  'memmesh_stale_answers_total',
  'memmesh_hot',
  'memmesh_tenant_load',
  'memmesh_http_requests_total',
  'memmesh_http_request_duration_seconds',
] as const;

export const GATEWAY_METRIC_NAMES = [
  'memmesh_gateway_requests_total',
  'memmesh_gateway_request_duration_seconds',
  'memmesh_gateway_failovers_total',
  'memmesh_gateway_hedges_total',
  'memmesh_region_probe_rtt_seconds',
  'memmesh_region_up',
] as const;

/** Every memmesh metric of the catalogue (prom-client's default metrics come on top). */
export const METRIC_NAMES = [...AGENT_METRIC_NAMES, ...GATEWAY_METRIC_NAMES] as const;

/** Runs before each scrape (refreshing gauges that are costly to keep current all the time). */
export type ScrapeHook = () => void | Promise<void>;

interface BaseMetrics {
  readonly registry: Registry;
  readonly region: string;
  readonly service: ServiceName;
  /** Registers a hook run on every scrape, before the values are read; returns its removal. */
  onScrape(hook: ScrapeHook): () => void;
}

type OriginShard = 'origin' | 'shard';

export interface AgentMetrics extends BaseMetrics {
  readonly service: 'region-agent';
  consumerLagMessages: Gauge<OriginShard>;
  consumerLagSeconds: Gauge<OriginShard>;
  applyDurationSeconds: Histogram<OriginShard>;
  applyErrors: Counter<OriginShard | 'kind'>;
  deadLetters: Counter<OriginShard>;
  readRepairs: Counter<OriginShard | 'kind'>;
  eventsApplied: Counter<OriginShard>;
  publishDurationSeconds: Histogram<string>;
  publishErrors: Counter<'code'>;
  vectorStoreQueryDurationSeconds: Histogram<'backend'>;
  vectorStoreWrites: Counter<'backend'>;
  vectorStoreWriteErrors: Counter<'backend'>;
  cacheHits: Counter<'cache' | 'backend'>;
  cacheMisses: Counter<'cache' | 'backend'>;
  cacheErrors: Counter<'backend'>;
  embedderDurationSeconds: Histogram<'model'>;
  embedderRetries: Counter<'model'>;
  embedderErrors: Counter<'model'>;
  embedQueueChars: Gauge<string>;
  reindexDocsDone: Gauge<'job'>;
  reindexDocsTotal: Gauge<'job'>;
  reindexChunksEmbedded: Gauge<'job'>;
  reindexState: Gauge<'job' | 'state'>;
  reindexEmbedErrors: Counter<string>;
  erasures: Counter<'state'>;
  erasedDocuments: Counter<string>;
  erasureStepErrors: Counter<string>;
  shardQueryDurationSeconds: Histogram<OriginShard>;
  shardQueriesInFlight: Gauge<OriginShard>;
  searchesShed: Counter<'reason'>;
  staleAnswers: Counter<string>;
  hot: Gauge<'kind' | 'id'>;
  tenantLoad: Gauge<'tenant' | 'rate'>;
  httpRequests: Counter<'route' | 'method' | 'status'>;
  httpRequestDurationSeconds: Histogram<'route' | 'method'>;
}

export interface GatewayMetrics extends BaseMetrics {
  readonly service: 'gateway';
  requests: Counter<'route' | 'method' | 'status' | 'serving_region'>;
  requestDurationSeconds: Histogram<'route' | 'method'>;
  failovers: Counter<'from_region' | 'to_region'>;
  hedges: Counter<'outcome'>;
  regionProbeRttSeconds: Gauge<'target_region'>;
  regionUp: Gauge<'target_region'>;
}

export type Metrics<S extends ServiceName> = S extends 'gateway' ? GatewayMetrics : AgentMetrics;

/**
 * A fresh registry with the metrics of `service`. Scrape hooks (see `onScrape`) run once per
 * scrape even though several gauges trigger them: concurrent triggers share one run.
 */
export function createMetrics(options: MetricsOptions<'region-agent'>): AgentMetrics;
export function createMetrics(options: MetricsOptions<'gateway'>): GatewayMetrics;
export function createMetrics(options: MetricsOptions): AgentMetrics | GatewayMetrics {
  const registry = new Registry();
  registry.setDefaultLabels({ region: options.region, service: options.service });
  if (options.defaultMetrics ?? true) collectDefaultMetrics({ register: registry });
  const hooks = new Set<ScrapeHook>();
  let running: Promise<void> | undefined;
  const runHooks = () => {
    running ??= Promise.all(
      // A failing hook leaves its gauges at their last values; the scrape itself goes on.
      [...hooks].map(async (hook) => {
        try {
          await hook();
        } catch {}
      }),
    ).then(() => {
      running = undefined;
    });
    return running;
  };
  const base = {
    registry,
    region: options.region,
    onScrape(hook: ScrapeHook) {
      hooks.add(hook);
      return () => void hooks.delete(hook);
    },
  };
  const make = new MetricFactory(registry, runHooks);
  if (options.service === 'gateway') return { ...base, service: 'gateway', ...gatewayMetrics(make) };
  return { ...base, service: 'region-agent', ...agentMetrics(make) };
}

class MetricFactory {
  readonly #registry: Registry;
  readonly #beforeScrape: () => Promise<void>;

  constructor(registry: Registry, beforeScrape: () => Promise<void>) {
    this.#registry = registry;
    this.#beforeScrape = beforeScrape;
  }

  counter<L extends string>(name: string, help: string, labelNames: readonly L[]): Counter<L> {
    return new Counter({ name, help, labelNames, registers: [this.#registry] });
  }

  histogram<L extends string>(name: string, help: string, labelNames: readonly L[]): Histogram<L> {
    const buckets = [...LATENCY_BUCKETS_SECONDS];
    return new Histogram({ name, help, labelNames, buckets, registers: [this.#registry] });
  }

  /** A gauge whose value may be refreshed by the scrape hooks. */
  gauge<L extends string>(name: string, help: string, labelNames: readonly L[]): Gauge<L> {
    const beforeScrape = this.#beforeScrape;
    return new Gauge({
      name,
      help,
      labelNames,
      registers: [this.#registry],
      async collect() {
        await beforeScrape();
      },
    });
  }
}

const ORIGIN_SHARD = ['origin', 'shard'] as const;

type AgentOwnMetrics = Omit<AgentMetrics, keyof BaseMetrics | 'service'>;

/** The agent's metrics, by what they measure: the views, then the parts around them. */
function agentMetrics(make: MetricFactory): AgentOwnMetrics {
  return { ...viewMetrics(make), ...partMetrics(make), ...reindexMetrics(make), ...loadMetrics(make) };
}

/** Shard views: lag, applies, dead letters. */
function viewMetrics(make: MetricFactory) {
  return {
    consumerLagMessages: make.gauge(
      'memmesh_consumer_lag_messages',
      'Stream messages not yet applied by this view.',
      ORIGIN_SHARD,
    ),
    consumerLagSeconds: make.gauge(
      'memmesh_consumer_lag_seconds',
      'Age of the oldest unapplied event of this view (0 when caught up).',
      ORIGIN_SHARD,
    ),
    applyDurationSeconds: make.histogram(
      'memmesh_apply_duration_seconds',
      'Time to apply one event to the view.',
      ORIGIN_SHARD,
    ),
    applyErrors: make.counter('memmesh_apply_errors_total', 'Apply failures (transient or poison).', [
      ...ORIGIN_SHARD,
      'kind',
    ]),
    deadLetters: make.counter(
      'memmesh_dead_letters_total',
      'Events sent to the dead-letter stream.',
      ORIGIN_SHARD,
    ),
    eventsApplied: make.counter('memmesh_events_applied_total', 'Events applied to the view.', ORIGIN_SHARD),
    readRepairs: make.counter(
      'memmesh_read_repairs_total',
      'Search hits corrected from the log because the view was behind it (stale, gone, missed).',
      [...ORIGIN_SHARD, 'kind'],
    ),
  } satisfies Partial<AgentOwnMetrics>;
}

/** Load on the agent's shards and tenants, hot detection and shedding (agents/region/src/ops/load.ts). */
function loadMetrics(make: MetricFactory) {
  return {
    erasures: make.counter('memmesh_erasures_total', 'Erasures ended here, by state (done, failed).', [
      'state',
    ]),
    erasedDocuments: make.counter(
      'memmesh_erased_documents_total',
      'Documents erased by the erasures done here (the agent that finished each counts it).',
      [],
    ),
    erasureStepErrors: make.counter(
      'memmesh_erasure_step_errors_total',
      'Erasure steps that failed and are retried at the next tick.',
      [],
    ),
    shardQueryDurationSeconds: make.histogram(
      'memmesh_shard_query_duration_seconds',
      'Time from sending a shard query to its answer, queueing at the shard included.',
      ORIGIN_SHARD,
    ),
    shardQueriesInFlight: make.gauge(
      'memmesh_shard_queries_in_flight',
      'Shard queries this agent has sent and not had answered: the shard’s queue as seen from here.',
      ORIGIN_SHARD,
    ),
    searchesShed: make.counter(
      'memmesh_searches_shed_total',
      'Searches answered 503 before asking any shard: their tenant had too many in flight, or a shard was saturated.',
      ['reason'],
    ),
    staleAnswers: make.counter(
      'memmesh_stale_answers_total',
      'Searches answered with an earlier answer (max-stale) because they were shed or their shards could not answer.',
      [],
    ),
    hot: make.gauge(
      'memmesh_hot',
      'A hot shard (kind=shard, id=origin/shard) or tenant (kind=tenant, id=tenant): 1 while above a threshold.',
      ['kind', 'id'],
    ),
    tenantLoad: make.gauge(
      'memmesh_tenant_load',
      'The busiest tenants’ searches and applies per second over the last 10 s (rate=queries|applies).',
      ['tenant', 'rate'],
    ),
  } satisfies Partial<AgentOwnMetrics>;
}

/** A re-index's progress (agents/region/src/reindex). */
function reindexMetrics(make: MetricFactory) {
  return {
    reindexDocsDone: make.gauge(
      'memmesh_reindex_docs_done',
      'Live documents the re-index target view holds.',
      ['job'],
    ),
    reindexDocsTotal: make.gauge(
      'memmesh_reindex_docs_total',
      'Live documents of the region being re-indexed.',
      ['job'],
    ),
    reindexChunksEmbedded: make.gauge(
      'memmesh_reindex_chunks_embedded',
      'Chunks a re-index embedded with its target model (as of its last progress write).',
      ['job'],
    ),
    reindexState: make.gauge(
      'memmesh_reindex_state',
      '1 for the state a re-index job is in, 0 for the others.',
      ['job', 'state'],
    ),
    reindexEmbedErrors: make.counter(
      'memmesh_reindex_embed_errors_total',
      'Failed embedder calls of a re-index (each is retried with backoff).',
      [],
    ),
  } satisfies Partial<AgentOwnMetrics>;
}

/** The parts around the views: publisher, vector store, cache, embedder, HTTP. */
function partMetrics(make: MetricFactory) {
  return {
    publishDurationSeconds: make.histogram(
      'memmesh_publish_duration_seconds',
      'Publish to JetStream until the ack.',
      [],
    ),
    publishErrors: make.counter('memmesh_publish_errors_total', 'Failed publishes, by error code.', ['code']),
    vectorStoreQueryDurationSeconds: make.histogram(
      'memmesh_vector_store_query_duration_seconds',
      'One shard search in the vector store.',
      ['backend'],
    ),
    vectorStoreWrites: make.counter(
      'memmesh_vector_store_writes_total',
      'Vector store upserts and deletes attempted.',
      ['backend'],
    ),
    vectorStoreWriteErrors: make.counter(
      'memmesh_vector_store_write_errors_total',
      'Vector store upserts and deletes that failed.',
      ['backend'],
    ),
    cacheHits: make.counter('memmesh_cache_hits_total', 'Cache lookups that found an entry.', [
      'cache',
      'backend',
    ]),
    cacheMisses: make.counter('memmesh_cache_misses_total', 'Cache lookups that found nothing.', [
      'cache',
      'backend',
    ]),
    cacheErrors: make.counter('memmesh_cache_errors_total', 'Cache calls that failed (an outage).', [
      'backend',
    ]),
    embedderDurationSeconds: make.histogram(
      'memmesh_embedder_duration_seconds',
      'One embed call (a batch of texts).',
      ['model'],
    ),
    embedderRetries: make.counter('memmesh_embedder_retries_total', 'Retried embedder requests.', ['model']),
    embedderErrors: make.counter('memmesh_embedder_errors_total', 'Embed calls that failed.', ['model']),
    embedQueueChars: make.gauge(
      'memmesh_embed_queue_chars',
      'Characters waiting in the shared embedder queue or being embedded (all tenants).',
      [],
    ),
    httpRequests: make.counter('memmesh_http_requests_total', 'HTTP requests answered by the agent.', [
      'route',
      'method',
      'status',
    ]),
    httpRequestDurationSeconds: make.histogram(
      'memmesh_http_request_duration_seconds',
      'Time to answer an HTTP request.',
      ['route', 'method'],
    ),
  } satisfies Partial<AgentOwnMetrics>;
}

function gatewayMetrics(make: MetricFactory): Omit<GatewayMetrics, keyof BaseMetrics | 'service'> {
  return {
    requests: make.counter('memmesh_gateway_requests_total', 'Requests answered by the gateway.', [
      'route',
      'method',
      'status',
      'serving_region',
    ]),
    requestDurationSeconds: make.histogram(
      'memmesh_gateway_request_duration_seconds',
      'Time to answer a request, failovers and hedges included.',
      ['route', 'method'],
    ),
    failovers: make.counter('memmesh_gateway_failovers_total', 'Reads retried in another region.', [
      'from_region',
      'to_region',
    ]),
    hedges: make.counter(
      'memmesh_gateway_hedges_total',
      'Hedged reads, by whether the hedge answered first.',
      ['outcome'],
    ),
    regionProbeRttSeconds: make.gauge('memmesh_region_probe_rtt_seconds', 'EWMA of the probe round trip.', [
      'target_region',
    ]),
    regionUp: make.gauge('memmesh_region_up', '1 when the region is healthy, 0 when not.', ['target_region']),
  };
}
