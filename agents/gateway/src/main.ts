/**
 * @module main
 * Entry point of the gateway: reads the environment (the only place that does), serves HTTP,
 * and shuts down gracefully on SIGTERM/SIGINT — stop accepting connections, let requests in
 * flight finish (bounded by shutdownTimeoutMs), stop the probes. It loads nothing of the
 * region agent (no index, embedder or Milvus SDK): a gateway only routes.
 */
import { configOrExit, httpLimitsOf, serveUntilSignalled } from '@memmesh/http';
import { createLogger, startTracing, tracingConfigFromEnv } from '@memmesh/telemetry';
import { gatewayConfigFromEnv } from './config.ts';
import { startGateway } from './gateway.ts';

async function main(): Promise<void> {
  const { config, tracing } = configOrExit('memmesh gateway', () => ({
    config: gatewayConfigFromEnv(process.env),
    tracing: tracingConfigFromEnv(process.env, 'memmesh-gateway'),
  }));
  const log = createLogger({ service: 'gateway' }, config.logLevel);
  const tracerProvider = await startTracing(tracing);
  const gateway = await startGateway(config, log, undefined, {
    ...(tracerProvider ? { tracerProvider } : {}),
    ...(config.region ? { region: config.region } : {}),
  });
  serveUntilSignalled({
    fetch: gateway.app.fetch,
    host: config.host,
    port: config.port,
    log,
    fields: () => ({
      regions: gateway.probes.all().map((r) => ({ region: r.region, endpoint: r.endpoint })),
      ready: gateway.ready,
      tracing: tracing.enabled,
    }),
    limits: httpLimitsOf(config),
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    // The probes stop after the requests in flight have been answered.
    close: () => gateway.close(),
    flushTraces: tracerProvider ? () => tracerProvider.shutdown() : undefined,
  });
}

main().catch((err: unknown) => {
  process.stderr.write(
    `memmesh gateway failed to start: ${err instanceof Error ? err.stack : String(err)}\n`,
  );
  process.exit(1);
});
