/**
 * @module client
 * The memmesh client: every tenant operation of the API as a typed method. Writes get an id
 * when they have none (so that a retry of a write whose answer was lost stores it once);
 * the session makes later reads include this client's writes; `addMany` splits by the API's
 * batch limits; `iterate` and `pages` walk `GET /v1/memories` by its cursor.
 */
import { ErrorCode, MeshError } from '@memmesh/core/errors';
import { API_BATCH_LIMITS, type BatchLimits, splitBatches } from './batch.ts';
import { ADMIN_OPERATIONS, OPERATIONS } from './operations.ts';
import { createSession, DEFAULT_SESSION_IDS_MAX, type Session, staleRead } from './session.ts';
import {
  createTransport,
  DEFAULT_CLIENT_RETRY_POLICY,
  DEFAULT_REQUEST_TIMEOUT_MS,
  type RetryPolicy,
  sleepMs,
  type Transport,
} from './transport.ts';
import type {
  ApiKeyList,
  BatchItemResult,
  BatchResult,
  ErasureAccepted,
  ErasureReceipt,
  ListParams,
  Memory,
  MemoryHistory,
  MemoryInput,
  MemoryList,
  RegionsResponse,
  ReindexJob,
  Scope,
  SearchInput,
  SearchResponse,
  StatsResponse,
  TenantPolicy,
  WriteResult,
} from './types.ts';

export interface ClientOptions {
  /** The gateway (or a region agent): `https://memmesh.example.com`. */
  url: string;
  apiKey: string;
  /** The fetch to use; the global one when omitted (tests and proxies inject their own). */
  fetch?: typeof fetch;
  retry?: Partial<RetryPolicy>;
  requestTimeoutMs?: number;
  /** Asks the gateway to read from this region first when it holds the tenant. */
  clientRegion?: string;
  /** Makes the ids of new memories; a random UUID when omitted. */
  newId?: () => string;
  /** Memories whose last written version the session remembers. */
  sessionIdsMax?: number;
}

export interface WriteOptions {
  /** Answer once the home index applied the write (bounded by the agent's wait maximum). */
  wait?: boolean;
  signal?: AbortSignal;
}

export interface DeleteOptions extends WriteOptions {
  /** Delete only if this is the current version (409 `version_conflict` otherwise). */
  ifVersion?: number;
}

export interface ReadOptions {
  signal?: AbortSignal;
}

export interface MemmeshClient {
  /** Stores a memory; `input.id` is generated when absent (and returned). */
  add(input: MemoryInput, options?: WriteOptions): Promise<WriteResult>;
  /** One batch request (at most LIMITS.batchDocsMax memories); ids are generated when absent. */
  addBatch(memories: readonly MemoryInput[], options?: WriteOptions): Promise<BatchResult>;
  /** Any number of memories, in as many batch requests as the API's limits need, in order. */
  addMany(memories: readonly MemoryInput[], options?: WriteOptions): Promise<BatchItemResult[]>;
  get(id: string, options?: ReadOptions): Promise<Memory>;
  delete(id: string, options?: DeleteOptions): Promise<WriteResult>;
  /** Searches; `minVersion` is at least the session's highest write. */
  search(input: SearchInput, options?: ReadOptions): Promise<SearchResponse>;
  /** One page of memories, newest first. */
  list(params?: ListParams, options?: ReadOptions): Promise<MemoryList>;
  /** Every page from `params.cursor` (or the first) to the last. */
  pages(params?: ListParams, options?: ReadOptions): AsyncIterableIterator<MemoryList>;
  /** Every memory the filters match, page after page. */
  iterate(params?: ListParams, options?: ReadOptions): AsyncIterableIterator<Memory>;
  history(id: string, options?: ReadOptions): Promise<MemoryHistory>;
  stats(options?: ReadOptions): Promise<StatsResponse>;
  regions(options?: ReadOptions): Promise<RegionsResponse>;
  /**
   * Erases every memory whose scope has all the given ids (at least one), history included,
   * from every region and store; answers at once (the same scope again: the same erasure).
   */
  erase(scope: Scope, options?: ReadOptions): Promise<ErasureAccepted>;
  /** An erasure's receipt: counts per region and store, and the service's verification. */
  erasure(id: string, options?: ReadOptions): Promise<ErasureReceipt>;
  /** Administration reads; they need the operator's admin key (or a tenant admin key: apiKeys). */
  readonly admin: MemmeshAdmin;
  /** Read-your-writes state of this client. */
  readonly session: Session;
}

export interface MemmeshAdmin {
  /** A tenant's placement policy (gateway). */
  tenantPolicy(tenant: string, options?: ReadOptions): Promise<TenantPolicy>;
  /** A tenant's API keys: ids, scopes and dates, never a key (gateway). */
  apiKeys(tenant: string, options?: ReadOptions): Promise<ApiKeyList>;
  /** A re-index job: state, progress and models. */
  reindexJob(id: string, options?: ReadOptions): Promise<ReindexJob>;
  /** Any tenant's erasure receipt. */
  erasure(id: string, options?: ReadOptions): Promise<ErasureReceipt>;
}

export function createClient(options: ClientOptions): MemmeshClient {
  if (!/^https?:\/\//.test(options.url)) {
    throw new MeshError(ErrorCode.Config, `url must be an http(s) URL, got '${options.url}'`);
  }
  if (!options.apiKey) throw new MeshError(ErrorCode.Config, 'apiKey is required');
  const transport = createTransport({
    baseUrl: options.url.replace(/\/+$/, ''),
    apiKey: options.apiKey,
    fetch: options.fetch ?? ((input, init) => globalThis.fetch(input, init)),
    retry: { ...DEFAULT_CLIENT_RETRY_POLICY, ...options.retry },
    requestTimeoutMs: options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS,
    clientRegion: options.clientRegion,
    nowMs: Date.now,
    sleep: sleepMs,
  });
  const newId = options.newId ?? (() => globalThis.crypto.randomUUID());
  return new ClientImpl(transport, newId, createSession(options.sessionIdsMax ?? DEFAULT_SESSION_IDS_MAX));
}

/** A route's path template with its `{name}` parameters filled in, percent-encoded. */
const fill = (template: string, values: Record<string, string>) =>
  template.replace(/\{(\w+)\}/g, (_all, name: string) => encodeURIComponent(values[name] ?? ''));
const memoryPath = (id: string, suffix = '') => `/v1/memories/${encodeURIComponent(id)}${suffix}`;
const waitQuery = (options?: WriteOptions) => (options?.wait ? '?wait=true' : '');

class ClientImpl implements MemmeshClient {
  private readonly call: Transport;
  private readonly newId: () => string;
  readonly session: Session;

  constructor(call: Transport, newId: () => string, session: Session) {
    this.call = call;
    this.newId = newId;
    this.session = session;
  }

  async add(input: MemoryInput, options?: WriteOptions): Promise<WriteResult> {
    const body = { ...input, id: input.id ?? this.newId() };
    const result = await this.call<WriteResult>({
      method: OPERATIONS.writeMemory.method,
      path: `${OPERATIONS.writeMemory.path}${waitQuery(options)}`,
      body,
      idempotent: true,
      signal: options?.signal,
    });
    this.session.wrote(result.id, result.version);
    return result;
  }

  async addBatch(memories: readonly MemoryInput[], options?: WriteOptions): Promise<BatchResult> {
    const body = { memories: memories.map((m) => ({ ...m, id: m.id ?? this.newId() })) };
    const result = await this.call<BatchResult>({
      method: OPERATIONS.writeBatch.method,
      path: `${OPERATIONS.writeBatch.path}${waitQuery(options)}`,
      body,
      idempotent: true,
      signal: options?.signal,
    });
    for (const item of result.results) if ('version' in item) this.session.wrote(item.id, item.version);
    return result;
  }

  async addMany(
    memories: readonly MemoryInput[],
    options?: WriteOptions,
    limits: BatchLimits = API_BATCH_LIMITS,
  ): Promise<BatchItemResult[]> {
    const results: BatchItemResult[] = [];
    // One batch at a time: the order of the answers is the order given, and a tenant's rate
    // limit is met by the retries' backoff rather than by a burst of parallel requests.
    for (const batch of splitBatches(memories, limits)) {
      results.push(...(await this.addBatch(batch, options)).results);
    }
    return results;
  }

  get(id: string, options?: ReadOptions): Promise<Memory> {
    return this.call<Memory>({
      method: OPERATIONS.getMemory.method,
      path: memoryPath(id),
      idempotent: true,
      signal: options?.signal,
      accept: (value) => {
        const wrote = this.session.lastWriteOf(id);
        const { version } = value as Memory;
        if (wrote !== undefined && version < wrote.version) {
          throw staleRead(id, `at version ${version}`, wrote.version);
        }
      },
      // Not found, yet written (not deleted) in this session: the region has not caught up.
      mapError: (err) => {
        const wrote = this.session.lastWriteOf(id);
        if (err.code !== ErrorCode.NotFound || wrote === undefined || wrote.deleted) return err;
        return staleRead(id, 'as not found', wrote.version);
      },
    });
  }

  async delete(id: string, options?: DeleteOptions): Promise<WriteResult> {
    const query = new URLSearchParams();
    if (options?.wait) query.set('wait', 'true');
    if (options?.ifVersion !== undefined) query.set('ifVersion', String(options.ifVersion));
    const qs = query.size > 0 ? `?${query}` : '';
    const result = await this.call<WriteResult>({
      method: OPERATIONS.deleteMemory.method,
      path: `${memoryPath(id)}${qs}`,
      idempotent: true,
      signal: options?.signal,
    });
    this.session.wrote(result.id, result.version, true);
    return result;
  }

  search(input: SearchInput, options?: ReadOptions): Promise<SearchResponse> {
    const session = this.session.minVersion;
    const minVersion = session === undefined ? input.minVersion : Math.max(session, input.minVersion ?? 0);
    return this.call<SearchResponse>({
      method: OPERATIONS.search.method,
      path: OPERATIONS.search.path,
      body: minVersion === undefined ? input : { ...input, minVersion },
      idempotent: true,
      signal: options?.signal,
    });
  }

  list(params: ListParams = {}, options?: ReadOptions): Promise<MemoryList> {
    const qs = listQuery(params);
    return this.call<MemoryList>({
      method: OPERATIONS.listMemories.method,
      path: `${OPERATIONS.listMemories.path}${qs ? `?${qs}` : ''}`,
      idempotent: true,
      signal: options?.signal,
    });
  }

  async *pages(params: ListParams = {}, options?: ReadOptions): AsyncIterableIterator<MemoryList> {
    let cursor = params.cursor;
    do {
      const page = await this.list({ ...params, ...(cursor === undefined ? {} : { cursor }) }, options);
      yield page;
      cursor = page.nextCursor;
    } while (cursor !== undefined);
  }

  async *iterate(params: ListParams = {}, options?: ReadOptions): AsyncIterableIterator<Memory> {
    for await (const page of this.pages(params, options)) yield* page.memories;
  }

  history(id: string, options?: ReadOptions): Promise<MemoryHistory> {
    return this.read<MemoryHistory>(memoryPath(id, '/history'), options);
  }

  stats(options?: ReadOptions): Promise<StatsResponse> {
    return this.read<StatsResponse>(OPERATIONS.stats.path, options);
  }

  regions(options?: ReadOptions): Promise<RegionsResponse> {
    return this.read<RegionsResponse>(OPERATIONS.listRegions.path, options);
  }

  async erase(scope: Scope, options?: ReadOptions): Promise<ErasureAccepted> {
    const query = new URLSearchParams();
    for (const name of ['userId', 'agentId', 'sessionId'] as const) {
      const value = scope[name];
      if (value !== undefined) query.set(name, value);
    }
    const accepted = await this.call<ErasureAccepted>({
      method: OPERATIONS.eraseMemories.method,
      path: `${OPERATIONS.eraseMemories.path}?${query}`,
      // The same scope again answers the same erasure: safe to send again.
      idempotent: true,
      signal: options?.signal,
    });
    this.session.forgetIds();
    return accepted;
  }

  erasure(id: string, options?: ReadOptions): Promise<ErasureReceipt> {
    return this.read<ErasureReceipt>(`/v1/erasures/${encodeURIComponent(id)}`, options);
  }

  readonly admin: MemmeshAdmin = {
    tenantPolicy: (tenant, options) =>
      this.read(fill(ADMIN_OPERATIONS.getTenantPolicy.path, { tenant }), options),
    apiKeys: (tenant, options) => this.read(fill(ADMIN_OPERATIONS.listApiKeys.path, { tenant }), options),
    reindexJob: (id, options) => this.read(fill(ADMIN_OPERATIONS.getReindex.path, { id }), options),
    erasure: (id, options) => this.read(fill(ADMIN_OPERATIONS.getErasureAdmin.path, { id }), options),
  };

  private read<T>(path: string, options?: ReadOptions): Promise<T> {
    return this.call<T>({ method: 'get', path, idempotent: true, signal: options?.signal });
  }
}

/**
 * The list query: scope filters, `metadata.<key>=<value>` with strings quoted (so that "1"
 * stays a string, as the route documents), the cursor and the page size.
 */
export function listQuery(params: ListParams): string {
  const query = new URLSearchParams();
  for (const name of ['userId', 'agentId', 'sessionId', 'cursor'] as const) {
    const value = params[name];
    if (value !== undefined) query.set(name, value);
  }
  for (const [key, value] of Object.entries(params.metadata ?? {})) {
    query.set(`metadata.${key}`, typeof value === 'string' ? JSON.stringify(value) : String(value));
  }
  if (params.limit !== undefined) query.set('limit', String(params.limit));
  return query.toString();
}
