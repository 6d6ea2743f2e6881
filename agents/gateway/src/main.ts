/**
 * @module main
 * Entry point of the gateway: reads the environment (the only place that does), serves HTTP,
 * and shuts down gracefully on SIGTERM/SIGINT — stop accepting connections, let requests in
 * flight finish (bounded by shutdownTimeoutMs), stop the probes.
 */
import { serve } from '@hono/node-server';
import { isMeshError } from '@memmesh/core';
import { createLogger, shutDownOnSignals } from '@memmesh/region-agent';
import { startTracing, type TracingConfig, tracingConfigFromEnv } from '@memmesh/telemetry';
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
  const log = createLogger(
    { service: 'gateway' },
    (process.env.MEMMESH_LOG_LEVEL as Parameters<typeof createLogger>[1]) ?? 'info',
  );
  const tracerProvider = startTracing(tracing);
  const gateway = await startGateway(config, log, undefined, {
    ...(tracerProvider ? { tracerProvider } : {}),
    ...(config.region ? { region: config.region } : {}),
  });
  const server = serve({ fetch: gateway.app.fetch, hostname: config.host, port: config.port }, (info) => {
    log.info('listening', {
      url: `http://${config.host}:${info.port}`,
      regions: gateway.probes.all().map((r) => ({ region: r.region, endpoint: r.endpoint })),
      ready: gateway.ready,
      tracing: tracing.enabled,
    });
  });

  shutDownOnSignals({
    log,
    timeoutMs: config.shutdownTimeoutMs,
    async stop() {
      // close() stops accepting and resolves once the requests in flight have been answered.
      await new Promise((resolve) => server.close(resolve));
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
