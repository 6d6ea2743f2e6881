/**
 * @module commands
 * The memory subcommands (add/store, search, get, delete, list, history), each declared
 * with commander and run as a function of its parsed options that calls the client and
 * answers what to print. Commander (no dependencies, typed, ESM, maintained) replaces
 * node:util's parseArgs: it gives per-command help, repeated and validated options, and
 * subcommand groups (`memmesh admin …`) without code of our own to parse a command line.
 */
import type { ListParams, MemmeshClient, Metadata, Scope } from '@memmesh/client';
import { type Command, InvalidArgumentError } from 'commander';
import { UsageError } from './config.ts';

/** What a command prints: its JSON (with --json), or one line per item for people. */
export type Output = { json: unknown; lines: string[] };
/** Runs a command's body with the client its global options configure, and prints it. */
export type Act = <A extends unknown[]>(
  body: (client: MemmeshClient, ...args: A) => Promise<Output | number>,
) => (...args: A) => Promise<void>;

export interface ScopeOptions {
  user?: string;
  agent?: string;
  session?: string;
  meta?: string[];
}

/** A whole number option (`--top-k 3`); anything else is a usage error. */
export function whole(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError(`a whole number, got '${value}'`);
  return Number(value);
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function withScope(command: Command, meta = true): Command {
  command
    .option('--user <userId>', 'the scope’s user')
    .option('--agent <agentId>', 'the scope’s agent')
    .option('--session <sessionId>', 'the scope’s session');
  if (meta)
    command.option('--meta <key=value>', 'metadata (repeatable; numbers and true/false typed)', collect);
  return command;
}

export function scopeOf(o: ScopeOptions): Scope | undefined {
  const scope: Scope = {
    ...(o.user ? { userId: o.user } : {}),
    ...(o.agent ? { agentId: o.agent } : {}),
    ...(o.session ? { sessionId: o.session } : {}),
  };
  return Object.keys(scope).length > 0 ? scope : undefined;
}

/** `--meta k=v`: a number or true/false when it reads as one, else the string. */
export function metadataOf(o: ScopeOptions): Metadata | undefined {
  if (!o.meta || o.meta.length === 0) return undefined;
  const metadata: Metadata = {};
  for (const pair of o.meta) {
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

export function listParamsOf(o: ScopeOptions & { cursor?: string; limit?: number }): ListParams {
  const scope = scopeOf(o);
  const metadata = metadataOf(o);
  return {
    ...scope,
    ...(metadata ? { metadata } : {}),
    ...(o.cursor ? { cursor: o.cursor } : {}),
    ...(o.limit === undefined ? {} : { limit: o.limit }),
  };
}

const line = (m: { id: string; version: number; text: string }) => `${m.id}\tversion ${m.version}\t${m.text}`;

export function memoryCommands(program: Command, act: Act): void {
  withScope(program.command('add').alias('store').argument('<text...>').description('store a memory'))
    .option('--id <id>', 'an id of your own (else one is generated)')
    .option('--ttl <seconds>', 'forget it this many seconds after the write', whole)
    .option('--wait', 'answer once the home index applied it')
    .action(act(add));
  withScope(program.command('search').argument('<query...>').description('search by meaning'))
    .option('--top-k <n>', 'results, 1 to 50', whole)
    .option('--min-version <v>', 'only from state that includes this version', whole)
    .action(act(search));
  program
    .command('get')
    .argument('<id>')
    .description('read a memory')
    .action(
      act(async (client, id: string) => {
        const memory = await client.get(id);
        return { json: memory, lines: [`${memory.id}\tversion ${memory.version}`, memory.text] };
      }),
    );
  program
    .command('delete')
    .argument('<id>')
    .description('delete a memory')
    .option('--if-version <v>', 'only if this is its current version', whole)
    .option('--wait', 'answer once the home index applied it')
    .action(
      act(async (client, id: string, o: { ifVersion?: number; wait?: boolean }) => {
        const options = {
          wait: o.wait === true,
          ...(o.ifVersion === undefined ? {} : { ifVersion: o.ifVersion }),
        };
        const result = await client.delete(id, options);
        return { json: result, lines: [`deleted ${result.id}\tversion ${result.version}`] };
      }),
    );
  withScope(program.command('list').description('memories, newest first'))
    .option('--limit <n>', 'memories per page, 1 to 100', whole)
    .option('--cursor <cursor>', 'the previous page’s next cursor')
    .option('--all', 'every page')
    .action(act(list));
  program
    .command('history')
    .argument('<id>')
    .description('a memory’s versions')
    .action(
      act(async (client, id: string) => {
        const history = await client.history(id);
        const lines = history.versions.map((v) => `${v.version}\t${v.type}\t${v.at}\t${v.text ?? ''}`);
        return { json: history, lines };
      }),
    );
}

type AddOptions = ScopeOptions & { id?: string; ttl?: number; wait?: boolean };

async function add(client: MemmeshClient, words: string[], o: AddOptions): Promise<Output> {
  const scope = scopeOf(o);
  const metadata = metadataOf(o);
  const result = await client.add(
    {
      text: words.join(' '),
      ...(o.id ? { id: o.id } : {}),
      ...(scope ? { scope } : {}),
      ...(metadata ? { metadata } : {}),
      ...(o.ttl === undefined ? {} : { ttlSeconds: o.ttl }),
    },
    { wait: o.wait === true },
  );
  return { json: result, lines: [`${result.id}\tversion ${result.version}\t${result.region}`] };
}

type SearchOptions = ScopeOptions & { topK?: number; minVersion?: number };

async function search(client: MemmeshClient, words: string[], o: SearchOptions): Promise<Output> {
  const scope = scopeOf(o);
  const metadata = metadataOf(o);
  const filter =
    scope || metadata ? { ...(scope ? { scope } : {}), ...(metadata ? { metadata } : {}) } : undefined;
  const found = await client.search({
    query: words.join(' '),
    ...(o.topK === undefined ? {} : { topK: o.topK }),
    ...(o.minVersion === undefined ? {} : { minVersion: o.minVersion }),
    ...(filter ? { filter } : {}),
  });
  return { json: found, lines: found.results.map((r) => `${r.score.toFixed(3)}\t${r.id}\t${r.text}`) };
}

/** One page, or with --all every page. */
async function list(
  client: MemmeshClient,
  o: ScopeOptions & { limit?: number; cursor?: string; all?: boolean },
): Promise<Output> {
  const params = listParamsOf(o);
  if (o.all) {
    const memories = [];
    for await (const memory of client.iterate(params)) memories.push(memory);
    return { json: { memories }, lines: memories.map(line) };
  }
  const page = await client.list(params);
  const lines = page.memories.map(line);
  if (page.nextCursor) lines.push(`next: --cursor ${page.nextCursor}`);
  return { json: page, lines };
}
