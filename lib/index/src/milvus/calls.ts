/**
 * @module calls
 * Every Milvus call, bounded by a deadline of its own, and the one mapping of what Milvus,
 * gRPC or the SDK report into MeshErrors: an unreachable or timed-out Milvus is `unavailable`
 * (retryable, so the shard consumer keeps the event and retries); a request Milvus refuses is
 * `internal`.
 */
import { ErrorCode, MeshError } from '@memmesh/core';
import type { MilvusClient, ResStatus } from '@zilliz/milvus2-sdk-node';

/** Milvus status codes (the numeric `code`) that mean "not now" rather than "never". */
const TRANSIENT_STATUS_CODES: ReadonlySet<number> = new Set([
  // CollectionNotFound and CollectionNotLoaded: a collection being recreated or (re)loaded.
  100, 101,
  // RateLimit, ForceDeny, ServiceNotReady, NodeNotFound, NodeNotMatch, MemoryQuotaExhausted.
  8, 9, 1, 901, 902, 7,
]);
/** gRPC statuses of a server that is down, overloaded, or did not answer in time. */
const TRANSIENT_GRPC_CODES: ReadonlySet<number> = new Set([1, 4, 8, 10, 13, 14]);
const UNAVAILABLE_RETRY_AFTER_MS = 1_000;
const COLLECTION_NOT_LOADED = 101;
/** Milvus Lite answers "not loaded" without Milvus's code: "is in state 'released'". */
const NOT_LOADED_REASON = /not loaded|in state 'released'/i;

/** Whether a call failed because its collection is not loaded, so loading it may help. */
export function isNotLoaded(err: unknown): boolean {
  return (
    err instanceof MeshError && (err.details as { code?: number } | undefined)?.code === COLLECTION_NOT_LOADED
  );
}

/**
 * Every Milvus call goes through `run`: a deadline of its own on top of the gRPC deadline
 * (the SDK may queue for a channel before the call starts), and one mapping of failures.
 */
export class MilvusCalls {
  readonly client: MilvusClient;
  readonly timeoutMs: number;

  constructor(client: MilvusClient, timeoutMs: number) {
    this.client = client;
    this.timeoutMs = timeoutMs;
  }

  async run<T>(what: string, call: () => Promise<T>): Promise<T> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(unavailable(`${what}: Milvus did not answer within ${this.timeoutMs} ms`)),
        // A margin over the gRPC deadline, so the usual DEADLINE_EXCEEDED wins when it fires.
        this.timeoutMs + 1_000,
      );
    });
    try {
      const result = await Promise.race([call(), deadline]);
      checkStatus(what, statusOf(result));
      return result;
    } catch (err) {
      throw toMilvusMeshError(err, what);
    } finally {
      clearTimeout(timer);
    }
  }
}

function statusOf(result: unknown): ResStatus | undefined {
  if (typeof result !== 'object' || result === null) return undefined;
  // Responses are either a status or carry one; `error_code` marks a bare status.
  if ('error_code' in result) return result as ResStatus;
  return (result as { status?: ResStatus }).status;
}

function checkStatus(what: string, status: ResStatus | undefined): void {
  if (status === undefined) return;
  const code = Number(status.code ?? 0);
  if (code === 0 && (status.error_code === 'Success' || status.error_code === undefined)) return;
  const reason = String(status.reason || status.error_code || `code ${code}`);
  if (code === COLLECTION_NOT_LOADED || NOT_LOADED_REASON.test(reason)) {
    throw new MeshError(ErrorCode.Unavailable, `${what}: ${reason}`, {
      details: { code: COLLECTION_NOT_LOADED },
      retryAfterMs: UNAVAILABLE_RETRY_AFTER_MS,
    });
  }
  if (status.retriable || TRANSIENT_STATUS_CODES.has(code)) throw unavailable(`${what}: ${reason}`);
  throw new MeshError(ErrorCode.Internal, `${what}: Milvus refused the request: ${reason}`, {
    details: { code, errorCode: status.error_code },
  });
}

export function unavailable(message: string, cause?: unknown): MeshError {
  return new MeshError(ErrorCode.Unavailable, message, { cause, retryAfterMs: UNAVAILABLE_RETRY_AFTER_MS });
}

export function toMilvusMeshError(err: unknown, what: string): MeshError {
  if (err instanceof MeshError) return err;
  const grpcCode = (err as { code?: unknown } | null)?.code;
  const message = err instanceof Error ? err.message : String(err);
  if (typeof grpcCode === 'number' && !TRANSIENT_GRPC_CODES.has(grpcCode)) {
    return new MeshError(ErrorCode.Internal, `${what}: ${message}`, { cause: err });
  }
  // Connection failures without a gRPC code (the pool, the socket) are outages too.
  return unavailable(`${what}: Milvus is unavailable: ${message}`, err);
}
