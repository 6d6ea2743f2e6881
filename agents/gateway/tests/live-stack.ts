/**
 * @module live-stack
 * What tests of the packages on top of the API (client adapters, CLI) talk to: one region
 * agent on a real, locked-down nats-server and a gateway in front of it, both served over
 * HTTP on loopback. Exported as `@memmesh/gateway/testing`.
 */
import { type RegionAgent, resolveConfig, startRegionAgent } from '@memmesh/region-agent';
import { startLockedNats } from '@memmesh/region-agent/testing';
import { silentLogger } from '@memmesh/telemetry';
import { serveHttp } from '@memmesh/testkit';
import { type Gateway, resolveGatewayConfig, startGateway } from '../src/index.ts';

export interface LiveStack {
  /** The gateway's base URL. */
  url: string;
  agent: RegionAgent;
  gateway: Gateway;
  /** Stops the servers, the gateway, the agent and NATS. */
  stop(): Promise<void>;
}

export interface LiveStackOptions {
  /** The operator's admin key of the agent and the gateway; the admin routes are off without it. */
  adminKey?: string;
}

export async function startLiveStack(options: LiveStackOptions = {}): Promise<LiveStack> {
  const admin = options.adminKey === undefined ? {} : { adminKey: options.adminKey };
  const nats = await startLockedNats('us-east-1');
  const agent = await startRegionAgent(
    resolveConfig({ region: 'us-east-1', ...nats.agent, port: 0, ...admin }),
    silentLogger,
  );
  const agentHttp = await serveHttp(agent.app.fetch);
  const gateway = await startGateway(
    resolveGatewayConfig({ endpoints: { 'us-east-1': agentHttp.url }, ...admin }),
    silentLogger,
    agent.routing,
  );
  const gatewayHttp = await serveHttp(gateway.app.fetch);
  return {
    url: gatewayHttp.url,
    agent,
    gateway,
    async stop() {
      await gatewayHttp.close();
      await agentHttp.close();
      await gateway.close();
      await agent.close();
      await nats.stop();
    },
  };
}
