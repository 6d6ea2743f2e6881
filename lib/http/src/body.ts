/**
 * @module body
 * Request bodies, read with a byte limit as they arrive (a declared Content-Length is checked
 * first), so that no client can make a service hold more than the route allows; and JSON
 * bodies checked against the route's schema, so that bad input is a 400 naming the field.
 */
import { IncomingMessage } from 'node:http';
import { describeIssues, ErrorCode, MeshError } from '@memmesh/core';
import type { Context } from 'hono';
import type { z } from 'zod';

const decoder = new TextDecoder('utf-8', { fatal: true });

function tooLarge(bytesMax: number): MeshError {
  return new MeshError(ErrorCode.PayloadTooLarge, `request body is larger than ${bytesMax} bytes`);
}

/**
 * The body's bytes (undefined when empty), or `payload_too_large` once past `bytesMax`.
 * Served by Node (@hono/node-server), the body is read from the Node request itself: the web
 * stream over it (a ReadableStream, a reader and a promise per chunk) cost more than the rest
 * of reading a small body. Elsewhere (`app.request()` in tests, other runtimes) it is read
 * from the web Request.
 */
export function readBody(c: Context, bytesMax: number): Promise<Uint8Array | undefined> {
  const request = c.req.raw;
  if (Number(request.headers.get('content-length') ?? 0) > bytesMax)
    return Promise.reject(tooLarge(bytesMax));
  const incoming = nodeRequestOf(c);
  if (!incoming) return readWebBody(request, bytesMax);
  return readNodeBody(incoming, bytesMax).catch((err: unknown) => {
    // The rest of an oversized body is read and dropped while the 413 goes out; the connection
    // then closes, so that a client sending more is not read for any longer than it takes.
    if (err instanceof MeshError && err.code === ErrorCode.PayloadTooLarge) c.header('connection', 'close');
    throw err;
  });
}

/** The Node request under the web one, while nothing has read from it yet. */
function nodeRequestOf(c: Context): IncomingMessage | undefined {
  const incoming = (c.env as { incoming?: unknown } | undefined)?.incoming;
  if (!(incoming instanceof IncomingMessage) || incoming.readableDidRead) return undefined;
  return incoming;
}

function readNodeBody(incoming: IncomingMessage, bytesMax: number): Promise<Uint8Array | undefined> {
  if (incoming.complete && incoming.readableEnded) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = () => {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onBroken);
      incoming.off('aborted', onBroken);
      incoming.off('close', onBroken);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size > bytesMax) {
        // No more is kept: the stream flows on into nothing until the body's end.
        done();
        reject(tooLarge(bytesMax));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      done();
      if (size === 0) resolve(undefined);
      else resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    };
    const onBroken = (err?: unknown) => {
      done();
      // The client went away, or the server cut a body that arrived too slowly: the client's doing, not a 500.
      reject(new MeshError(ErrorCode.BadRequest, 'the request body did not arrive whole', { cause: err }));
    };
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onBroken);
    incoming.on('aborted', onBroken);
    // Closed before its end: cut off (a client gone, or the server's request timeout).
    incoming.on('close', onBroken);
  });
}

async function readWebBody(request: Request, bytesMax: number): Promise<Uint8Array | undefined> {
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
  const bytes = await readBody(c, bytesMax);
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
