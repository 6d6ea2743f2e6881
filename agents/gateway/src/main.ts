/**
 * @module main
 * Entry point of the gateway: reads the environment (the only place that does), serves HTTP,
 * and shuts down gracefully on SIGTERM/SIGINT — stop accepting connections, let requests in
 * flight finish (bounded by shutdownTimeoutMs), stop the probes. It loads nothing of the
 * region agent (no index, embedder or Milvus SDK): a gateway only routes.
 */
import { isMeshError } from '@memmesh/core';
import { serveApp, shutDownOnSignals } from '@memmesh/http';
import { createLogger, startTracing, type TracingConfig, tracingConfigFromEnv } from '@memmesh/telemetry';
import { type GatewayConfig, gatewayConfigFromEnv } from './config.ts';
import { startGateway } from './gateway.ts';

async function main(): Promise<void> {
  let config: GatewayConfig;
  let tracing: TracingConfig;
  try {
    config = gatewayConfigFromEnv(process.env);
    tracing = tracingConfigFromEnv(process.env, 'memmesh-gateway');
  } catch (err) {
    process.stderr.write(`memmesh gateway: ${isMeshError(err) ? err.message : String(err)}\n`);
    process.exit(2);
  }
  const log = createLogger({ service: 'gateway' }, config.logLevel);
  const tracerProvider = await startTracing(tracing);
  const gateway = await startGateway(config, log, undefined, {
    ...(tracerProvider ? { tracerProvider } : {}),
    ...(config.region ? { region: config.region } : {}),
  });
  const served = serveApp({
    fetch: gateway.app.fetch,
    host: config.host,
    port: config.port,
    log,
    fields: () => ({
      regions: gateway.probes.all().map((r) => ({ region: r.region, endpoint: r.endpoint })),
      ready: gateway.ready,
      tracing: tracing.enabled,
    }),
  });
  shutDownOnSignals({
    log,
    timeoutMs: config.shutdownTimeoutMs,
    async stop() {
      // close() stops accepting and resolves once the requests in flight have been answered.
      await served.close();
      await gateway.close();
    },
    flushTraces: tracerProvider ? () => tracerProvider.shutdown() : undefined,
  });
}

main().catch((err: unknown) => {
  process.stderr.write(
    `memmesh gateway failed to start: ${err instanceof Error ? err.stack : String(err)}\n`,
  );
  process.exit(1);
});
