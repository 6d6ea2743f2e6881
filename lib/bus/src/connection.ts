/**
 * @module connection
 * The NATS connection of an agent or a tool. It reconnects forever: an agent without NATS
 * cannot do anything useful, and giving up would turn a network blip into an outage that
 * needs a restart. Requests made while disconnected fail fast with `unavailable`.
 *
 * Credentials and TLS come from files, the way NATS deployments hand them out (a Secret
 * mounted as files): a credentials file is either a `.creds` file (user JWT and nkey seed,
 * for servers in operator mode) or an nkey user seed (for servers that list users' public
 * nkeys in their configuration, as memmesh's own do). A first connection that the server
 * refuses is a start-up error that names the file; it is never retried, because a wrong key
 * does not become right by waiting.
 */
import { readFile } from 'node:fs/promises';
import { ErrorCode, MeshError } from '@memmesh/core';
import {
  type Authenticator,
  AuthorizationError,
  connect,
  credsAuthenticator,
  type NatsConnection,
  nkeyAuthenticator,
} from '@nats-io/transport-node';
import { UNAVAILABLE_RETRY_AFTER_MS } from './errors.ts';

/** Files of a TLS connection: the CA that signed the servers' certificates, and a client certificate for mutual TLS. */
export interface BusTlsFiles {
  caFile: string;
  /** Client certificate and key, only where the servers verify clients (mutual TLS). */
  certFile?: string | undefined;
  keyFile?: string | undefined;
}

export interface BusConnectionOptions {
  servers: string | string[];
  /** Client name, shown in the server's connection list. */
  name: string;
  connectTimeoutMs?: number;
  reconnectWaitMs?: number;
  /** A `.creds` file or an nkey user seed file; anonymous when omitted. */
  credsFile?: string | undefined;
  /** TLS to the servers; plaintext when omitted (and refused by servers that require TLS). */
  tls?: BusTlsFiles | undefined;
  /** Subject prefix of this client's reply inboxes; its permissions must allow subscribing under it. */
  inboxPrefix?: string | undefined;
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_RECONNECT_WAIT_MS = 250;
/** A credentials file is a few hundred bytes; anything much larger is the wrong file. */
const CREDS_FILE_BYTES_MAX = 64 * 1024;
const USER_SEED_PATTERN = /\bSU[A-Z2-7]{56}\b/;

export async function connectBus(options: BusConnectionOptions): Promise<NatsConnection> {
  const authenticator = options.credsFile ? await authenticatorOf(options.credsFile) : undefined;
  try {
    return await connect({
      servers: options.servers,
      name: options.name,
      timeout: options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
      reconnect: true,
      maxReconnectAttempts: -1,
      reconnectTimeWait: options.reconnectWaitMs ?? DEFAULT_RECONNECT_WAIT_MS,
      // nats.js otherwise builds an Error (with a stack trace) for every request and publish
      // in case it times out: ~5% of the agent's CPU under load, measured with --cpu-prof.
      noAsyncTraces: true,
      ...(authenticator ? { authenticator } : {}),
      ...(options.tls ? { tls: tlsOptionsOf(options.tls) } : {}),
      ...(options.inboxPrefix ? { inboxPrefix: options.inboxPrefix } : {}),
    });
  } catch (err) {
    throw connectError(options, err);
  }
}

/** Reads the credentials file once: an nkey seed, or a `.creds` file with a user JWT. */
async function authenticatorOf(path: string): Promise<Authenticator> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new MeshError(
      ErrorCode.BadRequest,
      `NATS credentials file ${path} cannot be read: ${(err as Error).message}`,
    );
  }
  if (bytes.length > CREDS_FILE_BYTES_MAX) {
    throw new MeshError(
      ErrorCode.BadRequest,
      `NATS credentials file ${path} is over ${CREDS_FILE_BYTES_MAX} bytes`,
    );
  }
  const text = bytes.toString('utf8');
  if (text.includes('BEGIN NATS USER JWT')) return credsAuthenticator(new Uint8Array(bytes));
  const seed = USER_SEED_PATTERN.exec(text)?.[0];
  if (!seed) {
    throw new MeshError(
      ErrorCode.BadRequest,
      `NATS credentials file ${path} holds neither a user JWT (.creds) nor an nkey user seed (SU...)`,
    );
  }
  return nkeyAuthenticator(new TextEncoder().encode(seed));
}

function tlsOptionsOf(tls: BusTlsFiles) {
  return {
    caFile: tls.caFile,
    ...(tls.certFile ? { certFile: tls.certFile } : {}),
    ...(tls.keyFile ? { keyFile: tls.keyFile } : {}),
  };
}

/** Says which of the usual first-connection failures this is, naming what to check. */
function connectError(options: BusConnectionOptions, err: unknown): MeshError {
  const where = String(options.servers);
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: string } | undefined)?.code ?? '';
  if (err instanceof AuthorizationError || /authorization violation/i.test(message)) {
    const who = options.credsFile ? `the credentials in ${options.credsFile}` : 'an anonymous connection';
    return new MeshError(ErrorCode.Unauthorized, `NATS at ${where} refused ${who}: ${message}`, {
      cause: err,
    });
  }
  if (/CERT|SSL|TLS|self.signed|unable to (get|verify)/i.test(`${code} ${message}`)) {
    const ca = options.tls ? `the CA in ${options.tls.caFile}` : 'no CA given (the servers require TLS?)';
    return new MeshError(ErrorCode.Unavailable, `TLS with NATS at ${where} failed with ${ca}: ${message}`, {
      cause: err,
    });
  }
  return new MeshError(ErrorCode.Unavailable, `cannot connect to NATS at ${where}: ${message}`, {
    cause: err,
  });
}

export interface ConnectionState {
  /** False from a disconnect until the next reconnect, and after close. */
  readonly connected: boolean;
  /** Throws `unavailable` (503, Retry-After) at once while disconnected. */
  ensureConnected(what: string): void;
}

/**
 * Tracks whether the connection is up. While NATS is away the client would queue requests
 * until they time out (seconds, times the retries); callers check this first so that a
 * client hears `503 Retry-After` at once instead.
 */
export function watchConnection(nc: NatsConnection): ConnectionState {
  let connected = !nc.isClosed();
  void (async () => {
    for await (const status of nc.status()) {
      if (status.type === 'disconnect') connected = false;
      else if (status.type === 'reconnect') connected = true;
    }
  })();
  void nc.closed().then(() => {
    connected = false;
  });
  return {
    get connected() {
      return connected;
    },
    ensureConnected(what) {
      if (!connected) {
        throw new MeshError(ErrorCode.Unavailable, `${what}: NATS is not reachable`, {
          retryAfterMs: UNAVAILABLE_RETRY_AFTER_MS,
        });
      }
    },
  };
}
