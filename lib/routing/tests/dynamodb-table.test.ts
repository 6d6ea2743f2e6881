import { DynamoDBClient, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { sha256Hex } from '@memmesh/core';
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

  it('dynamodb routing table - keys are stored only as hashes: no row holds a key, created or seeded', async () => {
    const table = createDynamoRoutingTable({ client, tableName: TABLE });
    const tenant = `hashes-${Date.now()}`;
    await table.putRegion({
      id: 'us-east-1',
      location: { latitude: 1, longitude: 2 },
      residency: 'us',
      nats: { cluster: 'us-east-1', servers: 1 },
      shardCount: 4,
      streamReplicas: 1,
      backends: { index: 'embedded', cache: 'lru', embedder: 'local' },
    });
    await table.putTenant({ tenant, home: 'us-east-1' });
    const created = await table.createApiKey({ tenant, scopes: ['read'] });
    const seeded = `seeded-secret-${Date.now()}`;
    await table.putApiKey(seeded, tenant);
    const rows = (await client.send(new ScanCommand({ TableName: TABLE }))).Items ?? [];
    const text = JSON.stringify(rows);
    expect(text).not.toContain(created.key);
    expect(text).not.toContain(seeded);
    const pks = rows.map((r) => r.PK?.S);
    expect(pks).toContain(`APIKEY#${sha256Hex(created.key)}`);
    expect(pks).toContain(`APIKEY#${sha256Hex(seeded)}`);
  });

  it('dynamodb routing table - a key row from before key records reads as a read-write key', async () => {
    const table = createDynamoRoutingTable({ client, tableName: TABLE });
    const key = `legacy-key-${Date.now()}`;
    await client.send(
      new PutItemCommand({
        TableName: TABLE,
        Item: { PK: { S: `APIKEY#${sha256Hex(key)}` }, SK: { S: 'KEY' }, tenant: { S: 'acme' } },
      }),
    );
    expect(await table.apiKeyOf(key)).toEqual({
      keyId: sha256Hex(key).slice(0, 16),
      tenant: 'acme',
      scopes: ['read', 'write'],
      createdAtMs: 0,
    });
    expect(await table.tenantOfApiKey(key)).toBe('acme');
  });
});

describeRoutingTableConformance('dynamodb', async () =>
  createDynamoRoutingTable({ client, tableName: TABLE }),
);
