import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type DynamoDbLocal, startDynamoDbLocal } from '@memmesh/testkit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeRoutingTableConformance } from '../src/conformance.ts';
import { createDynamoRoutingTable, ensureRoutingTable } from '../src/index.ts';

let local: DynamoDbLocal;
let client: DynamoDBClient;
const TABLE = 'memmesh-routing-test';

beforeAll(async () => {
  local = await startDynamoDbLocal();
  // DynamoDB Local accepts any secret but only alphanumeric access key ids.
  client = new DynamoDBClient({
    endpoint: local.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  await ensureRoutingTable(client, TABLE);
}, 60_000);

afterAll(async () => {
  client?.destroy();
  await local?.stop();
});

describe('dynamodb routing table', () => {
  it('dynamodb routing table - creating the table again is harmless', async () => {
    await expect(ensureRoutingTable(client, TABLE)).resolves.toBeUndefined();
  });
});

describeRoutingTableConformance('dynamodb', async () =>
  createDynamoRoutingTable({ client, tableName: TABLE }),
);
