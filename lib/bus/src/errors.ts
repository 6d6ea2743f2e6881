/**
 * @module errors
 * Maps NATS client errors to MeshErrors, deciding which are worth a retry.
 */
import { ErrorCode, MeshError } from '@memmesh/core';
import { JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import { errors as natsErrors } from '@nats-io/transport-node';

/** Suggested client wait when NATS is unreachable: about one reconnect cycle. */
export const UNAVAILABLE_RETRY_AFTER_MS = 1_000;

/**
 * Timeouts, missing responders (JetStream or the stream leader is not there yet, e.g.
 * during an election) and connection loss are transient. Published messages carry a
 * Nats-Msg-Id, so a retry after a timeout whose publish did land is dropped as a duplicate.
 */
export function isTransientNatsError(err: unknown): boolean {
  if (err instanceof natsErrors.TimeoutError) return true;
  if (err instanceof natsErrors.NoRespondersError) return true;
  if (err instanceof natsErrors.ConnectionError) return true;
  if (err instanceof natsErrors.ClosedConnectionError) return false;
  if (err instanceof natsErrors.RequestError) return isTransientNatsError(err.cause);
  if (err instanceof JetStreamApiError) return err.status === 503;
  return false;
}

export function isWrongLastSequence(err: unknown): boolean {
  return (
    err instanceof JetStreamApiError &&
    (err.code === JetStreamApiCodes.StreamWrongLastSequence ||
      err.code === JetStreamApiCodes.StreamWrongLastSequenceUnknown)
  );
}

export function toMeshError(err: unknown, what: string): MeshError {
  if (err instanceof MeshError) return err;
  if (isWrongLastSequence(err)) {
    return new MeshError(ErrorCode.VersionConflict, `${what}: the document has a newer version`, {
      cause: err,
    });
  }
  if (err instanceof natsErrors.TimeoutError) {
    return new MeshError(ErrorCode.Unavailable, `${what}: NATS did not answer in time`, {
      cause: err,
      retryAfterMs: UNAVAILABLE_RETRY_AFTER_MS,
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  return new MeshError(ErrorCode.Unavailable, `${what}: ${message}`, {
    cause: err,
    retryAfterMs: UNAVAILABLE_RETRY_AFTER_MS,
  });
}
