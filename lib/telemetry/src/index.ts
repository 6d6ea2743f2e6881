/**
 * @module @memmesh/telemetry
 * Metrics and traces of memmesh: one Prometheus registry per process with the catalogue's
 * metrics, the `/metrics` handler and scrape helpers, OpenTelemetry tracing with W3C trace
 * context over HTTP and NATS headers, and the Hono middleware that ties both to requests.
 */

export { SpanKind } from '@opentelemetry/api';
/** For tests: spans kept in memory, to be inspected. */
export { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
export { type AnsweredRequest, type HttpTelemetryOptions, httpTelemetry, UNMATCHED_ROUTE } from './http.ts';
export {
  AGENT_METRIC_NAMES,
  type AgentMetrics,
  createMetrics,
  GATEWAY_METRIC_NAMES,
  type GatewayMetrics,
  LATENCY_BUCKETS_SECONDS,
  METRIC_NAMES,
  type Metrics,
  type MetricsOptions,
  type ScrapeHook,
  type ServiceName,
} from './metrics.ts';
export { metricsHandler, parseMetricNames, SCRAPE_TIMEOUT_MS_DEFAULT, scrapeMetricNames } from './scrape.ts';
export {
  activeTraceIds,
  type Context,
  createTracerProvider,
  DEFAULT_SPAN_BATCH,
  DEFAULT_TRACING_CONFIG,
  ensureContextManager,
  extractTraceContext,
  type HeaderSink,
  type HeaderSource,
  injectTraceContext,
  recordSpanError,
  type SamplerKind,
  type Span,
  type SpanExporter,
  samplerOf,
  startTracing,
  TRACER_NAME,
  type Tracer,
  type TracerProvider,
  type TracerProviderOptions,
  type TracingConfig,
  tracerOf,
  tracingConfigFromEnv,
  withSpan,
} from './tracing.ts';
