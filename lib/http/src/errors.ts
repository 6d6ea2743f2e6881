/**
 * @module errors
 * The one error answer of both services: every error becomes
 * `{error: {code, message, details?}}` with the status of its code (lib/core's
 * `httpStatusOf`), and one Retry-After rule: every retryable answer (429, 503, 504) says
 * when to come back, in whole seconds, also when its cause named no time.
 */
import { ErrorCode, httpStatusOf, MeshError } from '@memmesh/core';
import type { Logger } from '@memmesh/telemetry';
import type { Context, Env, Hono } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';

/** Retry-After of a retryable answer whose cause did not say. */
export const DEFAULT_RETRY_AFTER_MS = 1_000;

/** The Retry-After header value (seconds, at least 1) of a wait in milliseconds. */
export function retryAfterSeconds(retryAfterMs: number): string {
  return String(Math.max(1, Math.ceil(retryAfterMs / 1000)));
}

/** The MeshError of anything thrown; an unknown error is `internal` (a 500, which is a bug). */
export function asMeshError(err: unknown): MeshError {
  return err instanceof MeshError ? err : new MeshError(ErrorCode.Internal, 'internal error', { cause: err });
}

/** The status and headers an error is answered with. */
export function errorHeaders(mesh: MeshError): Record<string, string> {
  const headers: Record<string, string> = {};
  const retryAfterMs = mesh.retryAfterMs ?? (mesh.retryable ? DEFAULT_RETRY_AFTER_MS : undefined);
  if (retryAfterMs !== undefined) headers['retry-after'] = retryAfterSeconds(retryAfterMs);
  if (mesh.code === ErrorCode.Unauthorized) headers['www-authenticate'] = 'Bearer';
  const allow = (mesh.details as { allow?: unknown } | undefined)?.allow;
  if (mesh.code === ErrorCode.MethodNotAllowed && Array.isArray(allow)) headers.allow = allow.join(', ');
  return headers;
}

export function errorResponse(c: Context, err: unknown, log: Logger): Response {
  const mesh = asMeshError(err);
  const status = httpStatusOf[mesh.code] as ContentfulStatusCode;
  if (status >= 500 && !mesh.retryable) {
    // A 500 is a bug and a 502 a dependency answering wrongly: log what is needed to find it.
    log.error('request failed', { method: c.req.method, path: c.req.path, err: mesh.cause ?? mesh });
  }
  const body = {
    error: { code: mesh.code, message: mesh.message, ...(mesh.details ? { details: mesh.details } : {}) },
  };
  return c.json(body, status, errorHeaders(mesh));
}

/** Installs the error answer for thrown errors and for paths that match no route. */
export function answerErrors<E extends Env>(app: Hono<E>, log: Logger): void {
  app.onError((err, c) => errorResponse(c, err, log));
  app.notFound((c) =>
    errorResponse(c, new MeshError(ErrorCode.NotFound, `no route ${c.req.method} ${c.req.path}`), log),
  );
}
