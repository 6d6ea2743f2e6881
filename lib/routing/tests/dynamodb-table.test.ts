import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { type DynamoDbLocal, startDynamoDbLocal } from '@memmesh/testkit';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { describeRoutingTableConformance } from '../src/conformance.ts';
import {
  createDynamoRoutingTable,
  ensureRoutingTable,
  openDynamoRoutingTable,
} from '../src/dynamodb-table.ts';

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

  it('dynamodb routing table - an opened table answers and closing it destroys its own client', async () => {
    // The opener's client takes its credentials from the SDK's default chain.
    vi.stubEnv('AWS_ACCESS_KEY_ID', 'local');
    vi.stubEnv('AWS_SECRET_ACCESS_KEY', 'local');
    // A spy that still calls through: it only counts the clients destroyed.
    const destroy = vi.spyOn(DynamoDBClient.prototype, 'destroy');
    try {
      const table = openDynamoRoutingTable({
        tableName: TABLE,
        endpoint: local.endpoint,
        awsRegion: 'us-east-1',
      });
      const apiKey = `opened-${Date.now()}`;
      await table.putApiKey(apiKey, 'acme');
      expect(await table.tenantOfApiKey(apiKey)).toBe('acme');
      await table.deleteApiKey(apiKey);
      expect(destroy).not.toHaveBeenCalled();
      await table.close();
      expect(destroy).toHaveBeenCalledTimes(1);
    } finally {
      destroy.mockRestore();
      vi.unstubAllEnvs();
    }
  });

  it('dynamodb routing table - closing a table made from a client leaves the client to its owner', async () => {
    const destroy = vi.spyOn(DynamoDBClient.prototype, 'destroy');
    try {
      await createDynamoRoutingTable({ client, tableName: TABLE }).close();
      expect(destroy).not.toHaveBeenCalled();
    } finally {
      destroy.mockRestore();
    }
  });
});

describeRoutingTableConformance('dynamodb', async () =>
  createDynamoRoutingTable({ client, tableName: TABLE }),
);
