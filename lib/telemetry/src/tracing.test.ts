import { context, SpanKind, trace } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace';
import { afterAll, describe, expect, it } from 'vitest';
import {
  activeTraceIds,
  createTracerProvider,
  extractTraceContext,
  injectTraceContext,
  tracingConfigFromEnv,
  withSpan,
} from './tracing.ts';

const exporter = new InMemorySpanExporter();
const provider = createTracerProvider({ serviceName: 'test', exporter, exportEachSpan: true });
const tracer = provider.getTracer('test');

afterAll(() => provider.shutdown());

/** NATS message headers answer '' for a missing key. */
function natsLikeHeaders() {
  const map = new Map<string, string>();
  return { get: (k: string) => map.get(k) ?? '', set: (k: string, v: string) => void map.set(k, v) };
}

describe('tracing', () => {
  it('tracing - a span context survives a trip through a record, fetch Headers and NATS-like headers', async () => {
    await withSpan(tracer, 'parent', {}, async (span) => {
      const record: Record<string, string> = {};
      injectTraceContext(record);
      expect(record.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
      const headers = new Headers(record);
      const nats = natsLikeHeaders();
      injectTraceContext(nats);
      for (const carrier of [record, headers, nats]) {
        const remote = trace.getSpanContext(extractTraceContext(carrier));
        expect(remote?.traceId).toBe(span.spanContext().traceId);
        expect(remote?.spanId).toBe(span.spanContext().spanId);
      }
    });
  });

  it('tracing - nothing is injected outside a span, and missing headers extract to the root', () => {
    const record: Record<string, string> = {};
    injectTraceContext(record);
    expect(record).toEqual({});
    expect(trace.getSpanContext(extractTraceContext(natsLikeHeaders()))).toBeUndefined();
    expect(trace.getSpanContext(extractTraceContext(undefined))).toBeUndefined();
  });

  it('tracing - withSpan nests spans across awaits, records errors and always ends the span', async () => {
    exporter.reset();
    await expect(
      withSpan(tracer, 'outer', { kind: SpanKind.SERVER }, async () => {
        await new Promise((r) => setTimeout(r, 1));
        await withSpan(tracer, 'inner', {}, async () => {
          throw new Error('boom');
        });
      }),
    ).rejects.toThrow('boom');
    const spans = exporter.getFinishedSpans();
    const outer = spans.find((s) => s.name === 'outer');
    const inner = spans.find((s) => s.name === 'inner');
    expect(inner?.parentSpanContext?.spanId).toBe(outer?.spanContext().spanId);
    expect(inner?.status.code).toBe(2);
    expect(inner?.events.some((e) => e.name === 'exception')).toBe(true);
  });

  it('tracing - log fields carry the active trace and span ids, and nothing outside a span', async () => {
    expect(activeTraceIds()).toBeUndefined();
    await withSpan(tracer, 'logged', {}, async (span) => {
      expect(activeTraceIds()).toEqual({
        trace_id: span.spanContext().traceId,
        span_id: span.spanContext().spanId,
      });
    });
    expect(context.active()).toBeDefined();
  });

  it('tracing - OTEL_* turn tracing on only when asked, and bad values name their variable', () => {
    expect(tracingConfigFromEnv({}, 'svc')).toMatchObject({ enabled: false, serviceName: 'svc' });
    expect(tracingConfigFromEnv({ OTEL_TRACES_EXPORTER: 'otlp' }, 'svc').enabled).toBe(true);
    expect(
      tracingConfigFromEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' }, 'svc').enabled,
    ).toBe(true);
    expect(
      tracingConfigFromEnv(
        { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_TRACES_EXPORTER: 'none' },
        'svc',
      ).enabled,
    ).toBe(false);
    expect(
      tracingConfigFromEnv({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'true' }, 'svc').enabled,
    ).toBe(false);
    const config = tracingConfigFromEnv(
      {
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_SERVICE_NAME: 'gw-eu',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
        OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod,team=mesh%20ops',
      },
      'svc',
    );
    expect(config).toMatchObject({
      serviceName: 'gw-eu',
      sampler: 'parentbased_traceidratio',
      samplerRatio: 0.25,
      resourceAttributes: { 'deployment.environment': 'prod', team: 'mesh ops' },
    });
    expect(() => tracingConfigFromEnv({ OTEL_TRACES_EXPORTER: 'zipkin' }, 'svc')).toThrow(
      /OTEL_TRACES_EXPORTER/,
    );
    expect(() => tracingConfigFromEnv({ OTEL_TRACES_SAMPLER: 'sometimes' }, 'svc')).toThrow(
      /OTEL_TRACES_SAMPLER/,
    );
    expect(() => tracingConfigFromEnv({ OTEL_TRACES_SAMPLER_ARG: '2' }, 'svc')).toThrow(
      /OTEL_TRACES_SAMPLER_ARG/,
    );
  });
});
