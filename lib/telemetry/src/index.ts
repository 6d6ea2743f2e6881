/**
 * @module @memmesh/telemetry
 * Logs, metrics and traces of memmesh: the structured JSON logger, one Prometheus registry
 * per process with the catalogue's metrics and scrape helpers, and OpenTelemetry tracing with
 * W3C trace context over HTTP and NATS headers. Nothing here knows HTTP frameworks: the Hono
 * middleware that ties these to requests is `@memmesh/http`'s, so that `@memmesh/bus` can use
 * this package without loading a web framework.
 */

export { SpanKind, SpanStatusCode } from '@opentelemetry/api';
/** For tests: spans kept in memory, to be inspected. */
export { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace';
export {
  createLogger,
  DEFAULT_LOG_LEVEL,
  type Logger,
  type LogLevel,
  LogLevelSchema,
  silentLogger,
} from './log.ts';
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
export { parseMetricNames, SCRAPE_TIMEOUT_MS_DEFAULT, scrapeMetricNames } from './scrape.ts';
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
