/**
 * @module commands
 * The subcommands, each a function of its parsed flags and positionals that calls the client
 * and returns what to print. Argument parsing is node:util's parseArgs: built into Node (no
 * dependency), strict about unknown flags, and enough for a handful of subcommands with
 * string, boolean and repeated flags.
 */
import { parseArgs } from 'node:util';
import type { ListParams, MemmeshClient, Metadata, Scope } from '@memmesh/client';
import { UsageError } from './config.ts';

type Flags = Record<string, string | boolean | string[] | undefined>;
export interface Parsed {
  flags: Flags;
  positionals: string[];
}

const SCOPE_FLAGS = {
  user: { type: 'string' },
  agent: { type: 'string' },
  session: { type: 'string' },
  meta: { type: 'string', multiple: true },
} as const;

/** Flags of each command, besides the global ones (--url, --api-key, --json, --help). */
export const COMMAND_FLAGS = {
  add: { ...SCOPE_FLAGS, id: { type: 'string' }, ttl: { type: 'string' }, wait: { type: 'boolean' } },
  search: { ...SCOPE_FLAGS, 'top-k': { type: 'string' }, 'min-version': { type: 'string' } },
  get: {},
  delete: { 'if-version': { type: 'string' }, wait: { type: 'boolean' } },
  list: { ...SCOPE_FLAGS, limit: { type: 'string' }, cursor: { type: 'string' }, all: { type: 'boolean' } },
  history: {},
  mcp: {},
} as const;
export type CommandName = keyof typeof COMMAND_FLAGS;

export const GLOBAL_FLAGS = {
  url: { type: 'string' },
  'api-key': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export function parse(command: CommandName, args: string[]): Parsed {
  try {
    const { values, positionals } = parseArgs({
      args,
      options: { ...GLOBAL_FLAGS, ...COMMAND_FLAGS[command] },
      allowPositionals: true,
      strict: true,
    });
    return { flags: values as Flags, positionals };
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

const text = (flags: Flags, name: string) => flags[name] as string | undefined;

function integer(flags: Flags, name: string): number | undefined {
  const value = text(flags, name);
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${name} must be a whole number, got '${value}'`);
  return Number(value);
}

function one(positionals: string[], what: string): string {
  if (positionals.length !== 1 || !positionals[0]) throw new UsageError(`give exactly one ${what}`);
  return positionals[0];
}

function scopeOf(flags: Flags): Scope | undefined {
  const scope: Scope = {};
  if (text(flags, 'user')) scope.userId = text(flags, 'user');
  if (text(flags, 'agent')) scope.agentId = text(flags, 'agent');
  if (text(flags, 'session')) scope.sessionId = text(flags, 'session');
  return Object.keys(scope).length > 0 ? scope : undefined;
}

/** `--meta k=v`: a number or true/false when it reads as one, else the string. */
function metadataOf(flags: Flags): Metadata | undefined {
  const pairs = (flags.meta as string[] | undefined) ?? [];
  if (pairs.length === 0) return undefined;
  const metadata: Metadata = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at < 1) throw new UsageError(`--meta takes key=value, got '${pair}'`);
    const value = pair.slice(at + 1);
    metadata[pair.slice(0, at)] =
      value === 'true' || value === 'false'
        ? value === 'true'
        : /^-?\d+(\.\d+)?$/.test(value)
          ? Number(value)
          : value;
  }
  return metadata;
}

/** Each command: what it prints as JSON, and as one line per item for people. */
export type Output = { json: unknown; lines: string[] };

export async function run(
  command: Exclude<CommandName, 'mcp'>,
  client: MemmeshClient,
  p: Parsed,
): Promise<Output> {
  const { flags, positionals } = p;
  switch (command) {
    case 'add': {
      const ttlSeconds = integer(flags, 'ttl');
      const result = await client.add(
        {
          text: positionals.join(' '),
          ...(text(flags, 'id') ? { id: text(flags, 'id') } : {}),
          ...(scopeOf(flags) ? { scope: scopeOf(flags) } : {}),
          ...(metadataOf(flags) ? { metadata: metadataOf(flags) } : {}),
          ...(ttlSeconds === undefined ? {} : { ttlSeconds }),
        },
        { wait: flags.wait === true },
      );
      return { json: result, lines: [`${result.id}\tversion ${result.version}\t${result.region}`] };
    }
    case 'search':
      return search(client, flags, positionals);
    case 'get': {
      const memory = await client.get(one(positionals, 'memory id'));
      return { json: memory, lines: [`${memory.id}\tversion ${memory.version}`, memory.text] };
    }
    case 'delete': {
      const ifVersion = integer(flags, 'if-version');
      const result = await client.delete(one(positionals, 'memory id'), {
        wait: flags.wait === true,
        ...(ifVersion === undefined ? {} : { ifVersion }),
      });
      return { json: result, lines: [`deleted ${result.id}\tversion ${result.version}`] };
    }
    case 'list':
      return list(client, flags);
    case 'history': {
      const history = await client.history(one(positionals, 'memory id'));
      const lines = history.versions.map((v) => `${v.version}\t${v.type}\t${v.at}\t${v.text ?? ''}`);
      return { json: history, lines };
    }
  }
}

async function search(client: MemmeshClient, flags: Flags, positionals: string[]): Promise<Output> {
  const topK = integer(flags, 'top-k');
  const minVersion = integer(flags, 'min-version');
  const scope = scopeOf(flags);
  const metadata = metadataOf(flags);
  const filter =
    scope || metadata ? { ...(scope ? { scope } : {}), ...(metadata ? { metadata } : {}) } : undefined;
  const found = await client.search({
    query: positionals.join(' '),
    ...(topK === undefined ? {} : { topK }),
    ...(minVersion === undefined ? {} : { minVersion }),
    ...(filter ? { filter } : {}),
  });
  return { json: found, lines: found.results.map((r) => `${r.score.toFixed(3)}\t${r.id}\t${r.text}`) };
}

/** One page, or with --all every page (JSON Lines, one memory a line, as they arrive). */
async function list(client: MemmeshClient, flags: Flags): Promise<Output> {
  const limit = integer(flags, 'limit');
  const scope = scopeOf(flags);
  const metadata = metadataOf(flags);
  const params: ListParams = {
    ...(scope?.userId ? { userId: scope.userId } : {}),
    ...(scope?.agentId ? { agentId: scope.agentId } : {}),
    ...(scope?.sessionId ? { sessionId: scope.sessionId } : {}),
    ...(metadata ? { metadata } : {}),
    ...(text(flags, 'cursor') ? { cursor: text(flags, 'cursor') } : {}),
    ...(limit === undefined ? {} : { limit }),
  };
  if (flags.all) {
    const memories = [];
    for await (const memory of client.iterate(params)) memories.push(memory);
    return { json: { memories }, lines: memories.map((m) => `${m.id}\tversion ${m.version}\t${m.text}`) };
  }
  const page = await client.list(params);
  const lines = page.memories.map((m) => `${m.id}\tversion ${m.version}\t${m.text}`);
  if (page.nextCursor) lines.push(`next: --cursor ${page.nextCursor}`);
  return { json: page, lines };
}
