import { createTracerProvider, InMemorySpanExporter } from '@memmesh/telemetry';
import { Hono } from 'hono';
import { afterAll, describe, expect, it } from 'vitest';
import { type AnsweredRequest, httpTelemetry, UNMATCHED_ROUTE } from './telemetry.ts';

const exporter = new InMemorySpanExporter();
const provider = createTracerProvider({ serviceName: 'test', exporter, exportEachSpan: true });
afterAll(() => provider.shutdown());

function appWith(answered: AnsweredRequest[]) {
  const app = new Hono();
  app.use('*', httpTelemetry({ tracer: provider.getTracer('test'), onAnswered: (a) => answered.push(a) }));
  app.onError((_err, c) => c.json({ error: 'failed' }, 503));
  app.use('/v1/*', async (_c, next) => next());
  app.get('/v1/memories/*', (c) => c.json({ ok: true }));
  app.post('/v1/fail', () => {
    throw new Error('backend down');
  });
  return app;
}

describe('http', () => {
  it('http - requests are reported by route template, never by raw path', async () => {
    const answered: AnsweredRequest[] = [];
    const app = appWith(answered);
    await app.request('/v1/memories/tenant-secret-doc-42');
    await app.request('/nowhere');
    await app.request('/v1/fail', { method: 'POST' });
    expect(answered.map(({ route, method, status }) => ({ route, method, status }))).toEqual([
      { route: '/v1/memories/*', method: 'GET', status: 200 },
      { route: UNMATCHED_ROUTE, method: 'GET', status: 404 },
      { route: '/v1/fail', method: 'POST', status: 503 },
    ]);
    expect(answered.every((a) => a.durationSeconds >= 0)).toBe(true);
  });

  it('http - the server span continues the caller trace and is named by route', async () => {
    exporter.reset();
    const app = appWith([]);
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    await app.request('/v1/memories/x', { headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
    const [span] = exporter.getFinishedSpans();
    expect(span?.name).toBe('GET /v1/memories/*');
    expect(span?.spanContext().traceId).toBe(traceId);
    expect(span?.parentSpanContext?.spanId).toBe('00f067aa0ba902b7');
    expect(span?.attributes['http.route']).toBe('/v1/memories/*');
    expect(span?.attributes['http.response.status_code']).toBe(200);
  });
});
