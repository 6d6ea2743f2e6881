/**
 * @module tracing
 * OpenTelemetry traces across HTTP and NATS with W3C trace context (`traceparent`): one
 * trace follows a request from the gateway to the agent, to the publish, to the apply in
 * each shard consumer, and to the shard queries of a search.
 *
 * Tracing is off unless the environment turns it on (see `tracingConfigFromEnv`, which only
 * the entry points call). Off means the global no-op tracer: spans cost an object each and
 * nothing is recorded or sent. The tracer provider is always passed in explicitly, so tests
 * give each process part their own provider with an in-memory exporter.
 *
 * Propagation uses a W3C propagator held here, not the global one, so `traceparent` goes
 * into HTTP and NATS headers whatever else the process registers globally.
 */
import { ErrorCode, MeshError } from '@memmesh/core';
import {
  type Context,
  context,
  isSpanContextValid,
  ROOT_CONTEXT,
  type Span,
  type SpanOptions,
  SpanStatusCode,
  type TextMapGetter,
  type TextMapSetter,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  type Sampler,
  TracerProvider as SdkTracerProvider,
  SimpleSpanProcessor,
  type SpanExporter,
  TraceIdRatioBasedSampler,
} from '@opentelemetry/sdk-trace';

/** The instrumentation scope of every memmesh span. */
export const TRACER_NAME = 'memmesh';

/** The tracer of `provider`, or of the global provider (a no-op unless one was registered). */
export function tracerOf(provider?: TracerProvider): Tracer {
  return (provider ?? trace.getTracerProvider()).getTracer(TRACER_NAME);
}

const propagator = new W3CTraceContextPropagator();

/** Anything headers can be read from: fetch `Headers`, NATS `MsgHdrs`, a plain record. */
export type HeaderSource = { get(key: string): string | null | undefined } | Record<string, string>;
/** Anything headers can be written to. */
export type HeaderSink = { set(key: string, value: string): void } | Record<string, string>;

const getter: TextMapGetter<HeaderSource> = {
  keys: (carrier) => (typeof carrier.get === 'function' ? [] : Object.keys(carrier)),
  get(carrier, key) {
    // NATS headers answer '' for a missing key; fetch Headers answer null.
    const value =
      typeof carrier.get === 'function' ? carrier.get(key) : (carrier as Record<string, string>)[key];
    return typeof value === 'string' && value !== '' ? value : undefined;
  },
};

const setter: TextMapSetter<HeaderSink> = {
  set(carrier, key, value) {
    if (typeof carrier.set === 'function') carrier.set(key, value);
    else (carrier as Record<string, string>)[key] = value;
  },
};

/** Writes `traceparent` (and `tracestate`) of `ctx` into `carrier`; nothing when no span is active. */
export function injectTraceContext(carrier: HeaderSink, ctx: Context = context.active()): void {
  propagator.inject(ctx, carrier, setter);
}

/** The context a remote caller sent in `carrier`, on top of `base` (a new root by default). */
export function extractTraceContext(
  carrier: HeaderSource | undefined,
  base: Context = ROOT_CONTEXT,
): Context {
  return carrier ? propagator.extract(base, carrier, getter) : base;
}

/** The ids of the active span, as log fields; undefined outside a span. */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  const span = trace.getActiveSpan();
  if (!span) return undefined;
  const ids = span.spanContext();
  return isSpanContextValid(ids) ? { trace_id: ids.traceId, span_id: ids.spanId } : undefined;
}

/** Marks the span failed with `err`. */
export function recordSpanError(span: Span, err: unknown): void {
  if (err instanceof Error) span.recordException(err);
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}

/**
 * Runs `fn` in a new active span under `parent` (the active context by default), ending it
 * when `fn` settles and recording a thrown error. `fn` also gets the span's context, to
 * inject into outgoing headers.
 */
export function withSpan<T>(
  tracer: Tracer,
  name: string,
  options: SpanOptions,
  fn: (span: Span, ctx: Context) => Promise<T>,
  parent: Context = context.active(),
): Promise<T> {
  return tracer.startActiveSpan(name, options, parent, async (span) => {
    try {
      return await fn(span, trace.setSpan(parent, span));
    } catch (err) {
      recordSpanError(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/**
 * Makes the active context follow async/await (AsyncLocalStorage). Global by nature and
 * registered once per process; without it, child spans would not find their parents.
 */
export function ensureContextManager(): void {
  const manager = new AsyncLocalStorageContextManager();
  if (context.setGlobalContextManager(manager.enable())) return;
  // One was registered already (another provider in this process): keep it.
  manager.disable();
}

export type SamplerKind =
  | 'always_on'
  | 'always_off'
  | 'traceidratio'
  | 'parentbased_always_on'
  | 'parentbased_always_off'
  | 'parentbased_traceidratio';

const SAMPLER_KINDS: readonly SamplerKind[] = [
  'always_on',
  'always_off',
  'traceidratio',
  'parentbased_always_on',
  'parentbased_always_off',
  'parentbased_traceidratio',
];

export interface TracingConfig {
  /** Whether spans are exported at all. */
  enabled: boolean;
  exporter: 'otlp' | 'console';
  serviceName: string;
  sampler: SamplerKind;
  /** For the ratio samplers, in [0, 1]. */
  samplerRatio: number;
  /** From OTEL_RESOURCE_ATTRIBUTES, e.g. `deployment.environment=prod`. */
  resourceAttributes: Record<string, string>;
}

export const DEFAULT_TRACING_CONFIG = {
  enabled: false,
  exporter: 'otlp',
  sampler: 'parentbased_always_on',
  samplerRatio: 1,
  resourceAttributes: {},
} as const satisfies Omit<TracingConfig, 'serviceName'>;

/**
 * Reads the standard OTEL_* variables: tracing is on when OTEL_TRACES_EXPORTER is `otlp` (or
 * `console`), or when an OTLP endpoint is set and OTEL_TRACES_EXPORTER does not say `none`;
 * OTEL_SDK_DISABLED=true turns it off. The OTLP exporter reads its own connection variables
 * (OTEL_EXPORTER_OTLP_ENDPOINT, _TRACES_ENDPOINT, _HEADERS, _TIMEOUT, certificates), as every
 * OpenTelemetry SDK does. Bad values throw, naming the variable.
 */
export function tracingConfigFromEnv(
  env: Readonly<Record<string, string | undefined>>,
  defaultServiceName: string,
): TracingConfig {
  const exporterList = (env.OTEL_TRACES_EXPORTER ?? '').trim().toLowerCase();
  const endpointSet = Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT);
  if (exporterList !== '' && !['otlp', 'console', 'none'].includes(exporterList)) {
    throw configError(`OTEL_TRACES_EXPORTER must be otlp, console or none, got '${exporterList}'`);
  }
  const disabled = (env.OTEL_SDK_DISABLED ?? '').trim().toLowerCase() === 'true';
  const exporter = exporterList === 'console' ? 'console' : 'otlp';
  const wanted =
    exporterList === 'otlp' || exporterList === 'console' || (exporterList === '' && endpointSet);
  const sampler = (env.OTEL_TRACES_SAMPLER?.trim().toLowerCase() ||
    DEFAULT_TRACING_CONFIG.sampler) as SamplerKind;
  if (!SAMPLER_KINDS.includes(sampler)) {
    throw configError(`OTEL_TRACES_SAMPLER must be one of ${SAMPLER_KINDS.join(', ')}, got '${sampler}'`);
  }
  const ratioText = env.OTEL_TRACES_SAMPLER_ARG?.trim();
  const samplerRatio = ratioText ? Number(ratioText) : DEFAULT_TRACING_CONFIG.samplerRatio;
  if (!(samplerRatio >= 0 && samplerRatio <= 1)) {
    throw configError(`OTEL_TRACES_SAMPLER_ARG must be a number in [0, 1], got '${ratioText}'`);
  }
  return {
    enabled: wanted && !disabled,
    exporter,
    serviceName: env.OTEL_SERVICE_NAME?.trim() || defaultServiceName,
    sampler,
    samplerRatio,
    resourceAttributes: parseResourceAttributes(env.OTEL_RESOURCE_ATTRIBUTES ?? ''),
  };
}

const configError = (message: string) => new MeshError(ErrorCode.Config, message);

/** `k=v,k2=v2` with percent-encoded values, as the OpenTelemetry specification defines it. */
function parseResourceAttributes(text: string): Record<string, string> {
  const attributes: Record<string, string> = {};
  for (const pair of text.split(',')) {
    const at = pair.indexOf('=');
    if (at <= 0) continue;
    try {
      attributes[pair.slice(0, at).trim()] = decodeURIComponent(pair.slice(at + 1).trim());
    } catch {
      throw configError(`OTEL_RESOURCE_ATTRIBUTES has a badly encoded value in '${pair}'`);
    }
  }
  return attributes;
}

export function samplerOf(kind: SamplerKind, ratio: number): Sampler {
  switch (kind) {
    case 'always_on':
      return new AlwaysOnSampler();
    case 'always_off':
      return new AlwaysOffSampler();
    case 'traceidratio':
      return new TraceIdRatioBasedSampler(ratio);
    case 'parentbased_always_off':
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case 'parentbased_traceidratio':
      return new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) });
    default:
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

export interface TracerProviderOptions {
  serviceName: string;
  exporter: SpanExporter;
  /** Default: parent-based, always on. */
  sampler?: Sampler;
  /** Extra resource attributes (region, agent id, OTEL_RESOURCE_ATTRIBUTES). */
  resourceAttributes?: Record<string, string>;
  /** Export each span as it ends (tests) instead of in bounded batches (production). */
  exportEachSpan?: boolean;
}

/**
 * Batches are bounded: at most `maxQueueSize` spans wait (more are dropped, never buffered
 * without limit), sent `maxExportBatchSize` at a time every `scheduledDelayMillis`.
 */
export const DEFAULT_SPAN_BATCH = {
  maxQueueSize: 2_048,
  maxExportBatchSize: 512,
  scheduledDelayMillis: 5_000,
  exportTimeoutMillis: 30_000,
} as const;

/** A tracer provider exporting to `exporter`; also makes sure the context manager is registered. */
export function createTracerProvider(options: TracerProviderOptions): SdkTracerProvider {
  ensureContextManager();
  const processor = options.exportEachSpan
    ? new SimpleSpanProcessor({ exporter: options.exporter })
    : new BatchSpanProcessor({ exporter: options.exporter, ...DEFAULT_SPAN_BATCH });
  return new SdkTracerProvider({
    resource: resourceFromAttributes({ ...options.resourceAttributes, 'service.name': options.serviceName }),
    sampler: options.sampler ?? samplerOf(DEFAULT_TRACING_CONFIG.sampler, 1),
    spanProcessors: [processor],
  });
}

/**
 * The provider `config` asks for (an OTLP or console exporter, batched), or undefined when
 * tracing is off. The caller shuts it down on exit so that the last batch is sent. The OTLP
 * exporter (protobuf and HTTP clients) is loaded only when it is used: tracing is off by default.
 */
export async function startTracing(
  config: TracingConfig,
  resourceAttributes: Record<string, string> = {},
): Promise<SdkTracerProvider | undefined> {
  if (!config.enabled) return undefined;
  const exporter =
    config.exporter === 'console'
      ? new ConsoleSpanExporter()
      : new (await import('@opentelemetry/exporter-trace-otlp-proto')).OTLPTraceExporter();
  return createTracerProvider({
    serviceName: config.serviceName,
    exporter,
    sampler: samplerOf(config.sampler, config.samplerRatio),
    resourceAttributes: { ...resourceAttributes, ...config.resourceAttributes },
  });
}

export type { Context, Span, SpanExporter, Tracer, TracerProvider };
