import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DynamoDBClient,
  GetItemCommand,
  ListTablesCommand,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type DynamoDbLocal, startDynamoDbLocal } from '../src/index.ts';

const TABLE = 'routes';

// Static dummy credentials and region, so the SDK never looks for real AWS configuration;
// DynamoDB Local accepts any credential. One attempt: a local failure is never worth a retry.
function localClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
}

async function createTable(client: DynamoDBClient): Promise<void> {
  await client.send(
    new CreateTableCommand({
      TableName: TABLE,
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      BillingMode: 'PAY_PER_REQUEST',
    }),
  );
}

function putIfAbsent(pk: string, region: string): PutItemCommand {
  return new PutItemCommand({
    TableName: TABLE,
    Item: { pk: { S: pk }, home: { S: region } },
    ConditionExpression: 'attribute_not_exists(pk)',
  });
}

async function homeOf(client: DynamoDBClient, pk: string): Promise<string | undefined> {
  const { Item } = await client.send(
    new GetItemCommand({ TableName: TABLE, Key: { pk: { S: pk } }, ConsistentRead: true }),
  );
  return Item?.home?.S;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('dynamodb-local', () => {
  let server: DynamoDbLocal;
  let client: DynamoDBClient;

  beforeAll(async () => {
    server = await startDynamoDbLocal();
    client = localClient(server.endpoint);
  });

  afterAll(async () => {
    client?.destroy();
    await server?.stop();
  });

  it('dynamodb-local - answers on a loopback endpoint', () => {
    expect(server.endpoint).toBe(`http://127.0.0.1:${server.port}`);
    expect(server.port).toBeGreaterThan(0);
    expect(isAlive(server.pid)).toBe(true);
  });

  it('dynamodb-local - creates a table, puts and gets an item, rejects a failed conditional put', async () => {
    await createTable(client);
    await client.send(putIfAbsent('tenant-a', 'eu-central-1'));
    expect(await homeOf(client, 'tenant-a')).toBe('eu-central-1');

    const second = client.send(putIfAbsent('tenant-a', 'us-east-1'));
    await expect(second).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    await expect(second).rejects.toMatchObject({ name: 'ConditionalCheckFailedException' });
    expect(await homeOf(client, 'tenant-a')).toBe('eu-central-1');
  });

  it('dynamodb-local - every credential and region sees the same tables (-sharedDb)', async () => {
    // DynamoDB Local accepts any secret, but only letters and digits in the access key id.
    const other = new DynamoDBClient({
      endpoint: server.endpoint,
      region: 'eu-central-1',
      credentials: { accessKeyId: 'someoneElse', secretAccessKey: 'x' },
      maxAttempts: 1,
    });
    try {
      const { TableNames } = await other.send(new ListTablesCommand({}));
      expect(TableNames).toContain(TABLE);
    } finally {
      other.destroy();
    }
  });
});

describe('dynamodb-local lifecycle', () => {
  it('dynamodb-local - stop ends the JVM and frees the port', async () => {
    const server = await startDynamoDbLocal();
    await server.stop();
    expect(isAlive(server.pid)).toBe(false);
    const client = localClient(server.endpoint);
    try {
      await expect(client.send(new ListTablesCommand({}))).rejects.toThrow();
    } finally {
      client.destroy();
    }
    await server.stop(); // A second stop is harmless.
  });

  it('dynamodb-local - a dbPath keeps the tables across kill -9 and a restart on the same port', async () => {
    const dbPath = await mkdtemp(join(tmpdir(), 'memmesh-dynamodb-test-'));
    try {
      const first = await startDynamoDbLocal({ dbPath });
      const client = localClient(first.endpoint);
      try {
        await createTable(client);
        await client.send(putIfAbsent('tenant-b', 'ap-southeast-1'));
        await first.kill();
        expect(existsSync(dbPath)).toBe(true);

        const second = await startDynamoDbLocal({ dbPath, port: first.port });
        try {
          expect(await homeOf(client, 'tenant-b')).toBe('ap-southeast-1');
        } finally {
          await second.stop();
        }
      } finally {
        client.destroy();
      }
    } finally {
      await rm(dbPath, { recursive: true, force: true });
    }
  });

  it('dynamodb-local - a port another server holds is reported, not mistaken for a start', async () => {
    // The other server answers ListTables too, so only the ownership check tells them apart.
    const holder = await startDynamoDbLocal();
    try {
      await expect(startDynamoDbLocal({ port: holder.port })).rejects.toThrow(
        `port ${holder.port} was taken before DynamoDB Local bound it`,
      );
    } finally {
      await holder.stop();
    }
  });

  it('dynamodb-local - a directory without DynamoDB Local fails fast with the JVM output', async () => {
    const libDir = await mkdtemp(join(tmpdir(), 'memmesh-dynamodb-empty-'));
    try {
      await expect(startDynamoDbLocal({ libDir })).rejects.toThrow(/DynamoDB Local exited with 1/);
    } finally {
      await rm(libDir, { recursive: true, force: true });
    }
  });
});
