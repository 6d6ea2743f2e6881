/**
 * @module nats-security
 * What a locked-down NATS needs, made for the local mesh and the tests: a private CA and a
 * certificate for the servers (client, route and gateway connections all use TLS), an nkey
 * user per role with the permissions of `@memmesh/core`'s nats-permissions, and the files
 * each client connects with.
 *
 * Certificates come from the `openssl` command (ECDSA P-256, valid for 127.0.0.1 and
 * localhost, for server and client use since routes and gateways verify each other); nkeys
 * from nats.js's own nkeys. Nothing is reused between calls: every mesh and every test has
 * its own CA and keys, so a leaked test key opens nothing else.
 */
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  gatewayInboxPrefix,
  gatewayPermissions,
  MEMMESH_ACCOUNT,
  type NatsPermissions,
  natsPermissionsConfig,
  OPERATOR_PERMISSIONS,
  regionAgentPermissions,
  regionInboxPrefix,
} from '@memmesh/core';
import { nkeyAuthenticator, nkeys } from '@nats-io/transport-node';

const run = promisify(execFile);

/** The files a client connects with: what an agent gets as MEMMESH_NATS_CREDS and MEMMESH_NATS_TLS_CA. */
export interface NatsClientFiles {
  /** The role's nkey user seed. */
  credsFile: string;
  tls: { caFile: string };
  /** Where the role's permissions let its replies arrive; undefined for the operator (`_INBOX`). */
  inboxPrefix: string | undefined;
}

/** The server's half: its certificate and key, the CA it trusts, and the accounts block. */
export interface NatsServerSecurity {
  readonly tls: { certFile: string; keyFile: string; caFile: string };
  /** `accounts { … }`, with every role's public nkey and permissions. */
  readonly accountsConfig: string;
}

export interface NatsSecurity extends NatsServerSecurity {
  readonly dir: string;
  /** The operator role: the whole account (inspection, tests). */
  operator(): NatsClientFiles;
  /** The region agent role of one region. */
  agent(region: string): NatsClientFiles;
  /** The gateway role of one region: appends to its audit log, nothing else. */
  gateway(region: string): NatsClientFiles;
  /** Options for nats.js's `connect` as `role`: its nkey, the CA and its inbox prefix. */
  connectOptions(role: NatsClientFiles): NatsConnectSecurity;
  /** Removes the directory, if this module created it. */
  remove(): Promise<void>;
}

export interface NatsConnectSecurity {
  authenticator: ReturnType<typeof nkeyAuthenticator>;
  tls: { caFile: string };
  inboxPrefix?: string;
}

export interface NatsSecurityOptions {
  /** Every region of the mesh; each gets its agent role. */
  regions: readonly string[];
  /** Where the files go (kept); a temporary directory, removed by `remove()`, when omitted. */
  dir?: string;
  /** Certificate lifetime; a test needs hours, the local mesh a year. */
  validDays?: number;
}

const DEFAULT_VALID_DAYS = 2;

export async function createNatsSecurity(options: NatsSecurityOptions): Promise<NatsSecurity> {
  const ownsDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'memmesh-nats-security-')));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  try {
    const tls = await makeCertificates(dir, options.validDays ?? DEFAULT_VALID_DAYS);
    const roles = new Map<
      string,
      { files: NatsClientFiles; publicKey: string; permissions: NatsPermissions }
    >();
    // The seeds in memory too, so that a test's connectOptions needs no file read.
    const seeds = new Map<string, Uint8Array>();
    const addRole = async (name: string, permissions: NatsPermissions, inboxPrefix: string | undefined) => {
      const user = nkeys.createUser();
      const credsFile = join(dir, `${name}.nk`);
      const seed = user.getSeed();
      seeds.set(credsFile, seed);
      await writeFile(credsFile, `${new TextDecoder().decode(seed)}\n`, { mode: 0o600 });
      roles.set(name, {
        files: { credsFile, tls: { caFile: tls.caFile }, inboxPrefix },
        publicKey: user.getPublicKey(),
        permissions,
      });
    };
    await addRole('operator', OPERATOR_PERMISSIONS, undefined);
    for (const region of options.regions) {
      await addRole(
        `agent-${region}`,
        regionAgentPermissions(region, options.regions),
        regionInboxPrefix(region),
      );
      await addRole(`gateway-${region}`, gatewayPermissions(region), gatewayInboxPrefix(region));
    }
    const role = (name: string) => {
      const found = roles.get(name);
      if (!found) throw new RangeError(`no NATS role ${name} in this mesh`);
      return found.files;
    };
    return {
      dir,
      tls,
      accountsConfig: accountsConfig([...roles.values()]),
      operator: () => role('operator'),
      agent: (region) => role(`agent-${region}`),
      gateway: (region) => role(`gateway-${region}`),
      connectOptions: (files) => {
        const seed = seeds.get(files.credsFile);
        if (!seed) throw new RangeError(`${files.credsFile} is not a credentials file of this mesh`);
        return connectSecurity(files, seed);
      },
      remove: async () => {
        if (ownsDir) await rm(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    if (ownsDir) await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

function connectSecurity(files: NatsClientFiles, seed: Uint8Array): NatsConnectSecurity {
  return {
    authenticator: nkeyAuthenticator(seed),
    tls: files.tls,
    ...(files.inboxPrefix ? { inboxPrefix: files.inboxPrefix } : {}),
  };
}

function accountsConfig(users: { publicKey: string; permissions: NatsPermissions }[]): string {
  const lines = users.map(
    (u) => `      { nkey: "${u.publicKey}", permissions: ${natsPermissionsConfig(u.permissions)} }`,
  );
  // No `no_auth_user`: a client without credentials is refused, not let into some account.
  return [
    'accounts {',
    `  ${MEMMESH_ACCOUNT}: {`,
    '    jetstream: enabled',
    '    users: [',
    lines.join(',\n'),
    '    ]',
    '  }',
    '}',
  ].join('\n');
}

/** A CA and one server certificate signed by it, for 127.0.0.1 and localhost. */
async function makeCertificates(dir: string, validDays: number) {
  const caFile = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca-key.pem');
  const certFile = join(dir, 'server.pem');
  const keyFile = join(dir, 'server-key.pem');
  const csr = join(dir, 'server.csr');
  const ext = join(dir, 'server.ext');
  const days = String(validDays);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await openssl([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    caKey,
    '-out',
    caFile,
    '-days',
    days,
    '-subj',
    '/CN=memmesh local NATS CA',
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  await openssl(['req', ...ec, '-keyout', keyFile, '-out', csr, '-subj', '/CN=memmesh nats-server']);
  await writeFile(
    ext,
    [
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      'extendedKeyUsage=serverAuth,clientAuth',
      'keyUsage=critical,digitalSignature,keyEncipherment',
      'basicConstraints=CA:FALSE',
    ].join('\n'),
  );
  await openssl([
    'x509',
    '-req',
    '-in',
    csr,
    '-CA',
    caFile,
    '-CAkey',
    caKey,
    '-set_serial',
    `0x${Date.now().toString(16)}`,
    '-out',
    certFile,
    '-days',
    days,
    '-extfile',
    ext,
  ]);
  // The CA's key signs nothing else: removing it means no one can mint a certificate later.
  await rm(caKey, { force: true });
  await rm(csr, { force: true });
  return { caFile, certFile, keyFile };
}

async function openssl(args: string[]): Promise<void> {
  try {
    await run('openssl', args, { timeout: 30_000 });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT') {
      throw new Error("openssl is missing: it makes the NATS certificates ('apt-get install openssl')");
    }
    throw new Error(`openssl ${args[0]} failed: ${e.stderr ?? e.message}`);
  }
}
