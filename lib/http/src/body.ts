/**
 * @module body
 * Request bodies, read with a byte limit as they arrive (a declared Content-Length is checked
 * first), so that no client can make a service hold more than the route allows; and JSON
 * bodies checked against the route's schema, so that bad input is a 400 naming the field.
 */
import { describeIssues, ErrorCode, MeshError } from '@memmesh/core';
import type { Context } from 'hono';
import type { z } from 'zod';

const decoder = new TextDecoder('utf-8', { fatal: true });

function tooLarge(bytesMax: number): MeshError {
  return new MeshError(ErrorCode.PayloadTooLarge, `request body is larger than ${bytesMax} bytes`);
}

/** The body's bytes (undefined when empty), or `payload_too_large` once past `bytesMax`. */
export async function readBody(request: Request, bytesMax: number): Promise<Uint8Array | undefined> {
  if (Number(request.headers.get('content-length') ?? 0) > bytesMax) throw tooLarge(bytesMax);
  if (!request.body) return undefined;
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  // Bounded: every round adds at least one byte, and the loop stops past bytesMax.
  for (;;) {
    const { done, value } = await reader.read().catch((err: unknown) => {
      // The client went away, or the server cut a body that arrived too slowly: the client's doing, not a 500.
      throw new MeshError(ErrorCode.BadRequest, 'the request body did not arrive whole', { cause: err });
    });
    if (done) break;
    size += value.byteLength;
    if (size > bytesMax) {
      await reader.cancel();
      throw tooLarge(bytesMax);
    }
    chunks.push(value);
  }
  if (size === 0) return undefined;
  const body = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return body;
}

/**
 * A `__proto__` key survives JSON.parse as an own property, but every copy of the object
 * (zod's parse among them) drops it, so a metadata key or filter on it would silently vanish or
 * match everything: refused at the door instead. (`constructor` and `prototype` are refused by
 * the metadata schema.)
 */
function refuseProtoKeys(key: string, value: unknown): unknown {
  if (key === '__proto__') throw new MeshError(ErrorCode.BadRequest, 'the key __proto__ is reserved');
  return value;
}

/** The body as JSON matching `schema`; empty, non-UTF-8, non-JSON or mismatching bodies are 400. */
export async function parseJsonBody<S extends z.ZodType>(
  c: Context,
  schema: S,
  bytesMax: number,
): Promise<z.infer<S>> {
  const bytes = await readBody(c.req.raw, bytesMax);
  let text: string;
  try {
    text = bytes ? decoder.decode(bytes) : '';
  } catch {
    throw new MeshError(ErrorCode.BadRequest, 'request body is not valid UTF-8');
  }
  if (text.trim() === '') throw new MeshError(ErrorCode.BadRequest, 'request body is empty; send JSON');
  let json: unknown;
  try {
    json = JSON.parse(text, refuseProtoKeys);
  } catch (err) {
    if (err instanceof MeshError) throw err;
    throw new MeshError(ErrorCode.BadRequest, 'request body is not valid JSON');
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    throw new MeshError(ErrorCode.BadRequest, 'request body does not match the schema', {
      details: describeIssues(parsed.error),
    });
  }
  return parsed.data;
}
