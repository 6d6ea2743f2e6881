/**
 * @module dynamodb-table
 * The production routing table: one DynamoDB table, keyed (PK, SK).
 *
 *   PK 'REGION'          SK <region id>   config (JSON), status, endpoint, updatedAtMs
 *   PK 'TENANT'          SK <tenant>      policy (JSON), version, updatedAtMs
 *   PK 'APIKEY#<sha256>' SK 'KEY'         the key's record (only the hash of a key is stored)
 *   PK 'KEYS#<tenant>'   SK 'KEY#<id>'    a tenant's keys, for listing and revoking (dynamodb-keys.ts)
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
  DescribeTableCommand,
  DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  ResourceInUseException,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { ErrorCode, MeshError, sleep } from '@memmesh/core';
import type { ApiKeyInput, ApiKeyRecord, CreatedApiKey, PutApiKeyOptions } from './api-keys.ts';
import { isApiKeyActive } from './api-keys.ts';
import { type DynamoKeyRows, dynamoKeyRows } from './dynamodb-keys.ts';
import { checkPlacement } from './placement.ts';
import {
  type RegionConfig,
  RegionConfigSchema,
  type RegionRecord,
  type RegionStatus,
  RegionStatusSchema,
  type TenantPolicy,
  type TenantPolicyInput,
  TenantPolicyInputSchema,
} from './schemas.ts';
import type { ControlRow, PutTenantOptions, RoutingTable } from './types.ts';

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
  return new DynamoRoutingTable({ ...options, ownsClient: false });
}

interface DynamoRoutingTableInit extends DynamoRoutingTableOptions {
  /**
   * Whether close() destroys the client. A client handed to createDynamoRoutingTable belongs
   * to the caller, who may share it between tables and destroys it; the one
   * openDynamoRoutingTable makes belongs to its table, so closing the table destroys it.
   */
  ownsClient: boolean;
}

class DynamoRoutingTable implements RoutingTable {
  readonly kind = 'dynamodb';
  readonly #client: DynamoDBClient;
  readonly #tableName: string;
  readonly #now: () => number;
  readonly #ownsClient: boolean;
  readonly #keys: DynamoKeyRows;

  constructor(init: DynamoRoutingTableInit) {
    this.#client = init.client;
    this.#tableName = init.tableName;
    this.#now = init.now ?? Date.now;
    this.#ownsClient = init.ownsClient;
    this.#keys = dynamoKeyRows(init.client, init.tableName, this.#now);
  }

  async getRegion(id: string): Promise<RegionRecord | undefined> {
    const item = await this.#get('REGION', id);
    return item && toRegion(item);
  }

  async listRegions(): Promise<RegionRecord[]> {
    return (await this.#list('REGION')).map(toRegion);
  }

  async putRegion(config: RegionConfig): Promise<RegionRecord> {
    // Keep status and endpoint; a new region starts up.
    const out = await this.#client.send(
      new UpdateItemCommand({
        TableName: this.#tableName,
        Key: { PK: S('REGION'), SK: S(config.id) },
        UpdateExpression: 'SET config = :c, updatedAtMs = :t, #s = if_not_exists(#s, :up)',
        ExpressionAttributeNames: { '#s': 'status' },
        ExpressionAttributeValues: { ':c': S(JSON.stringify(config)), ':t': N(this.#now()), ':up': S('up') },
        ReturnValues: 'ALL_NEW',
      }),
    );
    return toRegion(out.Attributes as Item);
  }

  async setRegionStatus(id: string, status: RegionStatus, endpoint?: string): Promise<RegionRecord> {
    try {
      const out = await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#tableName,
          Key: { PK: S('REGION'), SK: S(id) },
          UpdateExpression: `SET #s = :s, updatedAtMs = :t${endpoint ? ', endpoint = :e' : ''}`,
          ConditionExpression: 'attribute_exists(PK)',
          ExpressionAttributeNames: { '#s': 'status' },
          ExpressionAttributeValues: {
            ':s': S(status),
            ':t': N(this.#now()),
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
  }

  async getTenant(tenant: string): Promise<TenantPolicy | undefined> {
    const item = await this.#get('TENANT', tenant);
    return item && toPolicy(item);
  }

  async listTenants(): Promise<TenantPolicy[]> {
    return (await this.#list('TENANT')).map(toPolicy);
  }

  async putTenant(input: TenantPolicyInput, putOptions: PutTenantOptions = {}): Promise<TenantPolicy> {
    const policy = TenantPolicyInputSchema.parse(input);
    checkPlacement(policy, await this.#regionConfigs());
    const item = await this.#versioned(
      'TENANT',
      policy.tenant,
      { policy: S(JSON.stringify(policy)), updatedAtMs: N(this.#now()) },
      putOptions.expectedVersion,
      `tenant ${policy.tenant}`,
    );
    return toPolicy(item);
  }

  async putApiKey(apiKey: string, tenant: string, options: PutApiKeyOptions = {}): Promise<void> {
    await this.#keys.put(apiKey, tenant, options);
  }

  async deleteApiKey(apiKey: string): Promise<void> {
    await this.#keys.remove(apiKey);
  }

  async tenantOfApiKey(apiKey: string): Promise<string | undefined> {
    const record = await this.#keys.find(apiKey);
    return record && isApiKeyActive(record, this.#now()) ? record.tenant : undefined;
  }

  apiKeyOf(apiKey: string): Promise<ApiKeyRecord | undefined> {
    return this.#keys.find(apiKey);
  }

  async createApiKey(input: ApiKeyInput): Promise<CreatedApiKey> {
    if (!(await this.#get('TENANT', input.tenant))) {
      throw new MeshError(ErrorCode.NotFound, `unknown tenant ${input.tenant}`);
    }
    return this.#keys.create(input);
  }

  listApiKeys(tenant: string): Promise<ApiKeyRecord[]> {
    return this.#keys.list(tenant);
  }

  revokeApiKey(tenant: string, keyId: string): Promise<ApiKeyRecord> {
    return this.#keys.revoke(tenant, keyId);
  }

  async getControl(name: string): Promise<ControlRow | undefined> {
    const item = await this.#get('CONTROL', name);
    return item && toControl(name, item);
  }

  async putControl(name: string, value: unknown, expectedVersion: number): Promise<ControlRow> {
    const item = await this.#versioned(
      'CONTROL',
      name,
      { value: S(JSON.stringify(value)) },
      expectedVersion,
      `control ${name}`,
    );
    return toControl(name, item);
  }

  async close(): Promise<void> {
    if (this.#ownsClient) this.#client.destroy();
  }

  async #get(pk: string, sk: string): Promise<Item | undefined> {
    const out = await this.#client.send(
      new GetItemCommand({ TableName: this.#tableName, Key: { PK: S(pk), SK: S(sk) }, ConsistentRead: true }),
    );
    return out.Item;
  }

  async #list(pk: string): Promise<Item[]> {
    const items: Item[] = [];
    let start: Item | undefined;
    for (let page = 0; page < LIST_PAGES_MAX; page++) {
      const out = await this.#client.send(
        new QueryCommand({
          TableName: this.#tableName,
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
  }

  /** A conditional update; a failed condition is a version conflict. */
  async #versioned(
    pk: string,
    sk: string,
    set: Item,
    expected: number | undefined,
    what: string,
  ): Promise<Item> {
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
      const out = await this.#client.send(
        new UpdateItemCommand({
          TableName: this.#tableName,
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
  }

  async #regionConfigs(): Promise<Map<string, RegionConfig>> {
    return new Map((await this.#list('REGION')).map((i) => [i.SK?.S as string, toRegion(i).config]));
  }
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
  return new DynamoRoutingTable({ client, tableName: options.tableName, ownsClient: true });
}
