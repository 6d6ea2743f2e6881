/**
 * @module main
 * Entry point of the region agent: reads the environment (the only place that does),
 * starts the agent, serves HTTP, and shuts down gracefully on SIGTERM/SIGINT — stop
 * accepting requests, stop consumers, write final snapshots, drain NATS, send the last spans.
 * Tracing follows the standard OTEL_* variables and is off unless they turn it on.
 */
import { configOrExit, httpLimitsOf, serveUntilSignalled } from '@memmesh/http';
import { createLogger, startTracing, tracingConfigFromEnv } from '@memmesh/telemetry';
import { startRegionAgent } from './agent.ts';
import { configFromEnv } from './config/config.ts';

async function main(): Promise<void> {
  const { config, tracing } = configOrExit('memmesh region agent', () => ({
    config: configFromEnv(process.env),
    tracing: tracingConfigFromEnv(process.env, 'memmesh-region-agent'),
  }));
  const logger = createLogger(
    { service: 'region-agent', region: config.region, agent: config.agentId },
    config.logLevel,
  );
  const tracerProvider = await startTracing(tracing, {
    'memmesh.region': config.region,
    'service.instance.id': config.agentId,
  });
  const agent = await startRegionAgent(config, logger, tracerProvider ? { tracerProvider } : {});
  serveUntilSignalled({
    fetch: agent.app.fetch,
    host: config.host,
    port: config.port,
    log: logger,
    fields: () => ({ shards: config.shardCount, nats: config.natsUrl, tracing: tracing.enabled }),
    limits: httpLimitsOf(config),
    shutdownTimeoutMs: config.shutdownTimeoutMs,
    // Consumers stop, final snapshots are written and NATS drains after the last request.
    close: () => agent.close(),
    flushTraces: tracerProvider ? () => tracerProvider.shutdown() : undefined,
  });
}

main().catch((err: unknown) => {
  process.stderr.write(
    `memmesh region agent failed to start: ${err instanceof Error ? err.stack : String(err)}\n`,
  );
  process.exit(1);
});
