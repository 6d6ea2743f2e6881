/**
 * @module dynamodb-table
 * The production routing table: one DynamoDB table, keyed (PK, SK).
 *
 *   PK 'REGION'          SK <region id>   config (JSON), status, endpoint, updatedAtMs
 *   PK 'TENANT'          SK <tenant>      policy (JSON), version, updatedAtMs
 *   PK 'APIKEY#<sha256>' SK 'KEY'         tenant          (only the hash of a key is stored)
 *   PK 'CONTROL'         SK <name>        value (JSON), version   (reserved: re-indexing)
 *
 * Regions, tenants and control rows each live in one partition so that a Query lists them;
 * that is routing data, small and read through caches. Keys get a partition each, since
 * they are only ever looked up one at a time. Every write two writers could race on is
 * conditional on the version the writer read.
 */
import {
  type AttributeValue,
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  ResourceInUseException,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { ErrorCode, MeshError, sha256Hex, sleep } from '@memmesh/core';
import { checkPlacement } from './placement.ts';
import {
  type RegionConfig,
  RegionConfigSchema,
  type RegionRecord,
  type RegionStatus,
  RegionStatusSchema,
  type TenantPolicy,
  TenantPolicyInputSchema,
} from './schemas.ts';
import type { ControlRow, RoutingTable } from './types.ts';

export interface DynamoRoutingTableOptions {
  client: DynamoDBClient;
  tableName: string;
  now?: () => number;
}

/** Pages read when listing one entity type: 1 MB each, far beyond any routing data. */
const LIST_PAGES_MAX = 100;
const TABLE_ACTIVE_WAIT_MS_MAX = 60_000;

type Item = Record<string, AttributeValue>;
const S = (value: string): AttributeValue => ({ S: value });
const N = (value: number): AttributeValue => ({ N: String(value) });
const str = (item: Item, name: string) => item[name]?.S;
const num = (item: Item, name: string) => Number(item[name]?.N ?? 0);

const apiKeyPk = (apiKey: string) => `APIKEY#${sha256Hex(apiKey)}`;

function toRegion(item: Item): RegionRecord {
  return {
    config: RegionConfigSchema.parse(JSON.parse(str(item, 'config') ?? '{}')),
    status: RegionStatusSchema.parse(str(item, 'status')),
    updatedAtMs: num(item, 'updatedAtMs'),
    ...(str(item, 'endpoint') ? { endpoint: str(item, 'endpoint') as string } : {}),
  };
}

function toPolicy(item: Item): TenantPolicy {
  return {
    ...TenantPolicyInputSchema.parse(JSON.parse(str(item, 'policy') ?? '{}')),
    version: num(item, 'version'),
    updatedAtMs: num(item, 'updatedAtMs'),
  };
}

function toControl(name: string, item: Item): ControlRow {
  return { name, value: JSON.parse(str(item, 'value') ?? 'null'), version: num(item, 'version') };
}

export function createDynamoRoutingTable(options: DynamoRoutingTableOptions): RoutingTable {
  const { client, tableName: TableName } = options;
  const now = options.now ?? Date.now;

  const get = async (pk: string, sk: string) =>
    (
      await client.send(
        new GetItemCommand({ TableName, Key: { PK: S(pk), SK: S(sk) }, ConsistentRead: true }),
      )
    ).Item;

  const list = async (pk: string): Promise<Item[]> => {
    const items: Item[] = [];
    let start: Item | undefined;
    for (let page = 0; page < LIST_PAGES_MAX; page++) {
      const out = await client.send(
        new QueryCommand({
          TableName,
          KeyConditionExpression: 'PK = :pk',
          ExpressionAttributeValues: { ':pk': S(pk) },
          ConsistentRead: true,
          ...(start ? { ExclusiveStartKey: start } : {}),
        }),
      );
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
      if (!start) return items;
    }
    throw new MeshError(
      ErrorCode.Unavailable,
      `routing table listing of ${pk} exceeded ${LIST_PAGES_MAX} pages`,
    );
  };

  /** A conditional update; a failed condition is a version conflict. */
  const versioned = async (pk: string, sk: string, set: Item, expected: number | undefined, what: string) => {
    // Attribute names are aliased: several (value, status, …) are DynamoDB reserved words.
    const names: Record<string, string> = {};
    const values: Item = { ':one': N(1) };
    const assignments = Object.entries(set).map(([name, value], i) => {
      names[`#a${i}`] = name;
      values[`:a${i}`] = value;
      return `#a${i} = :a${i}`;
    });
    let condition: string | undefined;
    if (expected === 0) condition = 'attribute_not_exists(PK)';
    else if (expected !== undefined) {
      condition = 'version = :expected';
      values[':expected'] = N(expected);
    }
    try {
      const out = await client.send(
        new UpdateItemCommand({
          TableName,
          Key: { PK: S(pk), SK: S(sk) },
          UpdateExpression: `SET ${assignments.join(', ')} ADD version :one`,
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ...(condition ? { ConditionExpression: condition } : {}),
          ReturnValues: 'ALL_NEW',
        }),
      );
      return out.Attributes as Item;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) {
        throw new MeshError(ErrorCode.VersionConflict, `${what} is not at version ${expected}`, {
          cause: err,
        });
      }
      throw new MeshError(ErrorCode.Unavailable, `routing table: ${(err as Error).message}`, {
        cause: err,
        retryAfterMs: 1_000,
      });
    }
  };

  const regionConfigs = async () =>
    new Map((await list('REGION')).map((i) => [i.SK?.S as string, toRegion(i).config]));

  return {
    kind: 'dynamodb',
    async getRegion(id) {
      const item = await get('REGION', id);
      return item && toRegion(item);
    },
    async listRegions() {
      return (await list('REGION')).map(toRegion);
    },
    async putRegion(config: RegionConfig) {
      // Keep status and endpoint; a new region starts up.
      const out = await client.send(
        new UpdateItemCommand({
          TableName,
          Key: { PK: S('REGION'), SK: S(config.id) },
          UpdateExpression: 'SET config = :c, updatedAtMs = :t, #s = if_not_exists(#s, :up)',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: { ':c': S(JSON.stringify(config)), ':t': N(now()), ':up': S('up') },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return toRegion(out.Attributes as Item);
    },
    async setRegionStatus(id, status: RegionStatus, endpoint) {
      try {
        const out = await client.send(
          new UpdateItemCommand({
            TableName,
            Key: { PK: S('REGION'), SK: S(id) },
            UpdateExpression: `SET #s = :s, updatedAtMs = :t${endpoint ? ', endpoint = :e' : ''}`,
            ConditionExpression: 'attribute_exists(PK)',
            ExpressionAttributeNames: { '#s': 'status' },
            ExpressionAttributeValues: {
              ':s': S(status),
              ':t': N(now()),
              ...(endpoint ? { ':e': S(endpoint) } : {}),
            },
            ReturnValues: 'ALL_NEW',
          }),
        );
        return toRegion(out.Attributes as Item);
      } catch (err) {
        if (err instanceof ConditionalCheckFailedException)
          throw new MeshError(ErrorCode.NotFound, `unknown region ${id}`);
        throw err;
      }
    },
    async getTenant(tenant) {
      const item = await get('TENANT', tenant);
      return item && toPolicy(item);
    },
    async listTenants() {
      return (await list('TENANT')).map(toPolicy);
    },
    async putTenant(input, putOptions = {}) {
      const policy = TenantPolicyInputSchema.parse(input);
      checkPlacement(policy, await regionConfigs());
      const item = await versioned(
        'TENANT',
        policy.tenant,
        { policy: S(JSON.stringify(policy)), updatedAtMs: N(now()) },
        putOptions.expectedVersion,
        `tenant ${policy.tenant}`,
      );
      return toPolicy(item);
    },
    async putApiKey(apiKey, tenant) {
      await client.send(
        new PutItemCommand({
          TableName,
          Item: { PK: S(apiKeyPk(apiKey)), SK: S('KEY'), tenant: S(tenant) },
        }),
      );
    },
    async deleteApiKey(apiKey) {
      await client.send(new DeleteItemCommand({ TableName, Key: { PK: S(apiKeyPk(apiKey)), SK: S('KEY') } }));
    },
    async tenantOfApiKey(apiKey) {
      return str((await get(apiKeyPk(apiKey), 'KEY')) ?? {}, 'tenant');
    },
    async getControl(name) {
      const item = await get('CONTROL', name);
      return item && toControl(name, item);
    },
    async putControl(name, value, expectedVersion): Promise<ControlRow> {
      const item = await versioned(
        'CONTROL',
        name,
        { value: S(JSON.stringify(value)) },
        expectedVersion,
        `control ${name}`,
      );
      return toControl(name, item);
    },
    async close() {},
  };
}

/**
 * Creates the routing table if it does not exist (idempotent) and waits until it is
 * active. On-demand capacity: routing traffic is small and bursty.
 */
export async function ensureRoutingTable(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [
          { AttributeName: 'PK', AttributeType: 'S' },
          { AttributeName: 'SK', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'PK', KeyType: 'HASH' },
          { AttributeName: 'SK', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
      }),
    );
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err;
  }
  const deadline = Date.now() + TABLE_ACTIVE_WAIT_MS_MAX;
  while (Date.now() < deadline) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    if (Table?.TableStatus === 'ACTIVE') return;
    await sleep(200);
  }
  throw new MeshError(ErrorCode.Unavailable, `routing table ${tableName} did not become active`);
}

export interface OpenDynamoRoutingTableOptions {
  tableName: string;
  /** DynamoDB Local or another endpoint; omitted = the AWS regional endpoint. */
  endpoint?: string | undefined;
  /** AWS region of the table; omitted = the SDK's default chain (AWS_REGION, profile). */
  awsRegion?: string | undefined;
}

/**
 * A client and table for a process: credentials come from the SDK's default chain (the
 * environment, a profile, or an IAM role such as the one a Kubernetes service account gets).
 */
export function openDynamoRoutingTable(options: OpenDynamoRoutingTableOptions): RoutingTable {
  const client = new DynamoDBClient({
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    ...(options.awsRegion ? { region: options.awsRegion } : {}),
  });
  const table = createDynamoRoutingTable({ client, tableName: options.tableName });
  return {
    ...table,
    async close() {
      client.destroy();
    },
  };
}
