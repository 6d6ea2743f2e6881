/**
 * @module load-dynamodb
 * Opens the DynamoDB routing table, loading the AWS SDK only then: a process on the in-memory
 * table (the local mesh, a gateway seeded from files) never pays for it.
 */
import type { OpenDynamoRoutingTableOptions } from './dynamodb-table.ts';
import type { RoutingTable } from './types.ts';

export async function loadDynamoRoutingTable(options: OpenDynamoRoutingTableOptions): Promise<RoutingTable> {
  const { openDynamoRoutingTable } = await import('./dynamodb-table.ts');
  return openDynamoRoutingTable(options);
}
