/**
 * @module routing-table
 * `npm run routing:create [-- --seed]`: creates the DynamoDB routing table if it does not
 * exist (idempotent), for real AWS or DynamoDB Local, and with --seed writes the regions,
 * tenant policies and API keys of regions/ into it (also idempotent: policies are written
 * conditionally on the version read, keys are stored hashed).
 *
 *   MEMMESH_DYNAMODB_TABLE     table name (default memmesh-routing)
 *   MEMMESH_DYNAMODB_ENDPOINT  e.g. http://127.0.0.1:8000 for DynamoDB Local (default: AWS)
 *   AWS_REGION, AWS credentials from the SDK's default chain
 */
import { parseArgs } from 'node:util';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { loadTopology, seedRoutingTable } from '@memmesh/routing';
import { createDynamoRoutingTable, ensureRoutingTable } from '@memmesh/routing/dynamodb';

const { values } = parseArgs({ options: { seed: { type: 'boolean', default: false } } });
const tableName = process.env.MEMMESH_DYNAMODB_TABLE ?? 'memmesh-routing';
const endpoint = process.env.MEMMESH_DYNAMODB_ENDPOINT;

const client = new DynamoDBClient(endpoint ? { endpoint } : {});
try {
  await ensureRoutingTable(client, tableName);
  console.log(`routing table ${tableName} is active${endpoint ? ` at ${endpoint}` : ''}`);
  if (values.seed) {
    const topology = await loadTopology(new URL('../regions', import.meta.url).pathname);
    await seedRoutingTable(createDynamoRoutingTable({ client, tableName }), topology);
    console.log(
      `seeded ${topology.regions.length} regions and ${topology.tenants.length} tenants from regions/`,
    );
  }
} catch (err) {
  console.error(`routing:create: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  client.destroy();
}
