/**
 * @module main
 * Entry point of the region agent: reads the environment (the only place that does),
 * starts the agent, serves HTTP, and shuts down gracefully on SIGTERM/SIGINT — stop
 * accepting requests, stop consumers, write final snapshots, drain NATS, send the last spans.
 * Tracing follows the standard OTEL_* variables and is off unless they turn it on.
 */
import { serve } from '@hono/node-server';
import { isMeshError } from '@memmesh/core';
import { startTracing, type TracingConfig, tracingConfigFromEnv } from '@memmesh/telemetry';
import { startRegionAgent } from './agent.ts';
import { configFromEnv } from './config.ts';
import { createLogger, type LogLevel } from './log.ts';
import { shutDownOnSignals } from './shutdown.ts';

async function main(): Promise<void> {
  let config: ReturnType<typeof configFromEnv>;
  let tracing: TracingConfig;
  try {
    config = configFromEnv(process.env);
    tracing = tracingConfigFromEnv(process.env, 'memmesh-region-agent');
  } catch (err) {
    process.stderr.write(`memmesh region agent: ${isMeshError(err) ? err.message : String(err)}\n`);
    process.exit(2);
  }
  const log = createLogger(
    { service: 'region-agent', region: config.region, agent: config.agentId },
    (process.env.MEMMESH_LOG_LEVEL as LogLevel | undefined) ?? 'info',
  );
  const tracerProvider = startTracing(tracing, {
    'memmesh.region': config.region,
    'service.instance.id': config.agentId,
  });
  const agent = await startRegionAgent(config, log, tracerProvider ? { tracerProvider } : {});
  const server = serve({ fetch: agent.app.fetch, hostname: config.host, port: config.port }, (info) => {
    log.info('listening', {
      url: `http://${config.host}:${info.port}`,
      shards: config.shardCount,
      nats: config.natsUrl,
      tracing: tracing.enabled,
    });
  });

  shutDownOnSignals({
    log,
    timeoutMs: config.shutdownTimeoutMs,
    async stop() {
      server.close();
      await agent.close();
    },
    flushTraces: tracerProvider ? () => tracerProvider.shutdown() : undefined,
  });
}

main().catch((err: unknown) => {
  process.stderr.write(
    `memmesh region agent failed to start: ${err instanceof Error ? err.stack : String(err)}\n`,
  );
  process.exit(1);
});
