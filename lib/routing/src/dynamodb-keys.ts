/**
 * @module dynamodb-keys
 * The API key rows of the DynamoDB routing table (dynamodb-table.ts):
 *
 *   PK 'APIKEY#<sha256>' SK 'KEY'         tenant, keyId, scopes, createdAtMs, expiresAtMs?
 *   PK 'KEYS#<tenant>'   SK 'KEY#<keyId>' hash, tenant, scopes, createdAtMs, expiresAtMs?
 *   PK 'KEYS#<tenant>'   SK 'HEAD'        version (bumped by every create)
 *
 * The first row is the hot path: one GetItem by the hash of the presented key. The second
 * lists a tenant's keys with one Query and finds a key's hash from its public id, to revoke
 * it. The head makes the two-active-keys rule hold under races: a create is one transaction
 * conditional on the head's version it read, so of two creates racing for the last slot one
 * is cancelled, re-reads, and is refused. Rows written before key records existed hold only
 * `tenant`: they read as keys that may read and write, and are listed once seeded again.
 */
import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  QueryCommand,
  TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import { ErrorCode, MeshError } from '@memmesh/core';
import {
  API_KEY_RECORDS_PER_TENANT_MAX,
  type ApiKeyInput,
  type ApiKeyRecord,
  ApiKeyRecordSchema,
  apiKeyHashOf,
  apiKeyIdOf,
  type CreatedApiKey,
  DEFAULT_API_KEY_SCOPES,
  newApiKeyRecord,
  type PutApiKeyOptions,
  seededApiKeyRecord,
  unknownKeyId,
} from './api-keys.ts';

type Item = Record<string, AttributeValue>;
const S = (value: string): AttributeValue => ({ S: value });
const N = (value: number): AttributeValue => ({ N: String(value) });

/** Creates retried after losing a race on the head; past them the caller gets `conflict`. */
const CREATE_ATTEMPTS_MAX = 3;

const lookupKey = (hash: string) => ({ PK: S(`APIKEY#${hash}`), SK: S('KEY') });
const listingKey = (tenant: string, keyId: string) => ({ PK: S(`KEYS#${tenant}`), SK: S(`KEY#${keyId}`) });
const headKey = (tenant: string) => ({ PK: S(`KEYS#${tenant}`), SK: S('HEAD') });

function recordAttributes(record: ApiKeyRecord): Item {
  return {
    tenant: S(record.tenant),
    keyId: S(record.keyId),
    scopes: S(JSON.stringify(record.scopes)),
    createdAtMs: N(record.createdAtMs),
    ...(record.expiresAtMs === undefined ? {} : { expiresAtMs: N(record.expiresAtMs) }),
  };
}

/** A row's record; a row from before key records gets its id from its hash and default scopes. */
function toRecord(item: Item, hash: string): ApiKeyRecord {
  return ApiKeyRecordSchema.parse({
    keyId: item.keyId?.S ?? apiKeyIdOf(hash),
    tenant: item.tenant?.S,
    scopes: item.scopes?.S ? JSON.parse(item.scopes.S) : [...DEFAULT_API_KEY_SCOPES],
    createdAtMs: Number(item.createdAtMs?.N ?? 0),
    ...(item.expiresAtMs?.N ? { expiresAtMs: Number(item.expiresAtMs.N) } : {}),
  });
}

export interface DynamoKeyRows {
  put(apiKey: string, tenant: string, options: PutApiKeyOptions): Promise<void>;
  remove(apiKey: string): Promise<void>;
  find(apiKey: string): Promise<ApiKeyRecord | undefined>;
  create(input: ApiKeyInput): Promise<CreatedApiKey>;
  list(tenant: string): Promise<ApiKeyRecord[]>;
  revoke(tenant: string, keyId: string): Promise<ApiKeyRecord>;
}

/** The head's version and a tenant's records (with their hashes), in one consistent Query. */
async function readTenantKeys(client: DynamoDBClient, tableName: string, tenant: string) {
  const out = await client.send(
    new QueryCommand({
      TableName: tableName,
      KeyConditionExpression: 'PK = :pk',
      ExpressionAttributeValues: { ':pk': S(`KEYS#${tenant}`) },
      ConsistentRead: true,
      // The head and at most API_KEY_RECORDS_PER_TENANT_MAX keys: one page.
      Limit: API_KEY_RECORDS_PER_TENANT_MAX + 2,
    }),
  );
  const items = out.Items ?? [];
  const head = items.find((i) => i.SK?.S === 'HEAD');
  const keys = items
    .filter((i) => i.SK?.S?.startsWith('KEY#'))
    .map((i) => ({ hash: i.hash?.S as string, record: toRecord(i, i.hash?.S as string) }))
    .sort((a, b) => a.record.createdAtMs - b.record.createdAtMs);
  return { version: Number(head?.version?.N ?? 0), keys };
}

/** Bumps a tenant's key head, if it is still at the version read: two racing creates, one wins. */
function headUpdate(tableName: string, tenant: string, version: number): TransactWriteItem {
  return {
    Update: {
      TableName: tableName,
      Key: headKey(tenant),
      UpdateExpression: 'SET version = :next',
      ConditionExpression: version === 0 ? 'attribute_not_exists(PK)' : 'version = :read',
      ExpressionAttributeValues: {
        ':next': N(version + 1),
        ...(version === 0 ? {} : { ':read': N(version) }),
      },
    },
  };
}

export function dynamoKeyRows(client: DynamoDBClient, tableName: string, now: () => number): DynamoKeyRows {
  const get = async (key: Item) =>
    (await client.send(new GetItemCommand({ TableName: tableName, Key: key, ConsistentRead: true }))).Item;
  const transact = (items: TransactWriteItem[]) =>
    client.send(new TransactWriteItemsCommand({ TransactItems: items }));
  const put = (key: Item, attributes: Item): TransactWriteItem => ({
    Put: { TableName: tableName, Item: { ...key, ...attributes } },
  });
  const del = (key: Item): TransactWriteItem => ({ Delete: { TableName: tableName, Key: key } });
  const removeRows = (hash: string, record: ApiKeyRecord) =>
    transact([del(lookupKey(hash)), del(listingKey(record.tenant, record.keyId))]);

  const readTenant = (tenant: string) => readTenantKeys(client, tableName, tenant);

  async function createOnce(input: ApiKeyInput): Promise<CreatedApiKey> {
    const { version, keys } = await readTenant(input.tenant);
    const made = newApiKeyRecord(
      input,
      keys.map((k) => k.record),
      now(),
    );
    const attributes = recordAttributes(made.record);
    await transact([
      headUpdate(tableName, input.tenant, version),
      put(lookupKey(made.hash), attributes),
      put(listingKey(input.tenant, made.record.keyId), { ...attributes, hash: S(made.hash) }),
    ]);
    return { key: made.key, record: made.record };
  }

  return {
    async put(apiKey, tenant, options) {
      const hash = apiKeyHashOf(apiKey);
      const existing = await get(lookupKey(hash));
      const createdAtMs = existing?.createdAtMs?.N ? Number(existing.createdAtMs.N) : now();
      const record = seededApiKeyRecord(hash, tenant, options, createdAtMs);
      const attributes = recordAttributes(record);
      const moved = existing?.tenant?.S !== undefined && existing.tenant.S !== tenant;
      await transact([
        put(lookupKey(hash), attributes),
        put(listingKey(tenant, record.keyId), { ...attributes, hash: S(hash) }),
        ...(moved ? [del(listingKey(existing?.tenant?.S as string, record.keyId))] : []),
      ]);
    },
    async remove(apiKey) {
      const hash = apiKeyHashOf(apiKey);
      const item = await get(lookupKey(hash));
      if (item) await removeRows(hash, toRecord(item, hash));
    },
    async find(apiKey) {
      const hash = apiKeyHashOf(apiKey);
      const item = await get(lookupKey(hash));
      return item && toRecord(item, hash);
    },
    async create(input) {
      for (let attempt = 1; ; attempt++) {
        try {
          return await createOnce(input);
        } catch (err) {
          if (!(err instanceof TransactionCanceledException)) throw err;
          if (attempt >= CREATE_ATTEMPTS_MAX) {
            throw new MeshError(
              ErrorCode.Conflict,
              `the keys of tenant ${input.tenant} changed meanwhile; retry`,
              {
                cause: err,
              },
            );
          }
        }
      }
    },
    async list(tenant) {
      return (await readTenant(tenant)).keys.map((k) => k.record);
    },
    async revoke(tenant, keyId) {
      const item = await get(listingKey(tenant, keyId));
      const hash = item?.hash?.S;
      if (!item || !hash) throw unknownKeyId(tenant, keyId);
      const record = toRecord(item, hash);
      await removeRows(hash, record);
      return record;
    },
  };
}
