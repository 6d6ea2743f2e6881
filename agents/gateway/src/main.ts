/**
 * @module main
 * Entry point of the gateway: reads the environment (the only place that does), serves HTTP,
 * and shuts down on SIGTERM/SIGINT.
 */
import { serve } from '@hono/node-server';
import { isMeshError } from '@memmesh/core';
import { createLogger } from '@memmesh/region-agent';
import { gatewayConfigFromEnv } from './config.ts';
import { startGateway } from './gateway.ts';

async function main(): Promise<void> {
  let config: ReturnType<typeof gatewayConfigFromEnv>;
  try {
    config = gatewayConfigFromEnv(process.env);
  } catch (err) {
    process.stderr.write(`memmesh gateway: ${isMeshError(err) ? err.message : String(err)}\n`);
    process.exit(2);
  }
  const log = createLogger({ service: 'gateway' });
  const gateway = await startGateway(config, log);
  const server = serve({ fetch: gateway.app.fetch, hostname: config.host, port: config.port }, (info) => {
    log.info('listening', {
      url: `http://${config.host}:${info.port}`,
      regions: gateway.probes.all().map((r) => r.region),
    });
  });
  const shutdown = async () => {
    server.close();
    await gateway.close();
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown());
  process.on('SIGINT', () => void shutdown());
}

main().catch((err: unknown) => {
  process.stderr.write(
    `memmesh gateway failed to start: ${err instanceof Error ? err.stack : String(err)}\n`,
  );
  process.exit(1);
});
