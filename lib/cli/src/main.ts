/**
 * @module main
 * `memmesh <command>`: parses the command line, makes a client from MEMMESH_URL and
 * MEMMESH_API_KEY (or --url, --api-key), runs the command, prints its answer (JSON with
 * --json) and returns the exit code; errors are one line on stderr with the API's code.
 * `memmesh mcp` serves the MCP tools over stdio, each calling MEMMESH_URL through the client.
 */
import { createClient, isMeshError, type MemmeshClient } from '@memmesh/client';
import { createMcpServer } from '@memmesh/mcp';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { COMMAND_FLAGS, type CommandName, parse, run } from './commands.ts';
import { CLI_ENV_NAMES, configOf, DEFAULT_MEMMESH_URL, EXIT, UsageError } from './config.ts';

export interface CliIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

export const USAGE = `memmesh — shared memory for AI agents

usage: memmesh <command> [flags]

  add <text>        store a memory    [--id ID] [--user U] [--agent A] [--session S] [--meta k=v]... [--ttl SECONDS] [--wait]
  search <query>    search by meaning [--top-k N] [--min-version V] [--user U] [--agent A] [--session S] [--meta k=v]...
  get <id>          read a memory
  delete <id>       delete a memory   [--if-version V] [--wait]
  list              newest first      [--user U] [--agent A] [--session S] [--meta k=v]... [--limit N] [--cursor C] [--all]
  history <id>      a memory's versions
  mcp               serve the MCP tools over stdio (for desktop and IDE agents)

  --json            print the API's JSON answer
  --url URL         memmesh (gateway) URL; default $${CLI_ENV_NAMES.url} or ${DEFAULT_MEMMESH_URL}
  --api-key KEY     API key; default $${CLI_ENV_NAMES.apiKey}

exit codes: 0 ok, 1 failed, 2 usage, 3 not found, 4 version conflict, 5 unauthorized/forbidden, 6 unavailable (retry later)
`;

const isCommand = (name: string | undefined): name is CommandName =>
  name !== undefined && name in COMMAND_FLAGS;

export async function runCli(
  argv: string[],
  env: Record<string, string | undefined>,
  io: CliIo,
): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === '--help' || command === '-h' || command === 'help') {
    io.out(USAGE);
    return command === undefined ? EXIT.usage : EXIT.ok;
  }
  try {
    if (!isCommand(command)) throw new UsageError(`unknown command '${command}'`);
    const parsed = parse(command, rest);
    if (parsed.flags.help) {
      io.out(USAGE);
      return EXIT.ok;
    }
    const config = configOf(parsed.flags as { url?: string; 'api-key'?: string }, env);
    const client = createClient(config);
    if (command === 'mcp') return await serveMcp(client);
    const output = await run(command, client, parsed);
    io.out(parsed.flags.json ? JSON.stringify(output.json) : output.lines.join('\n'));
    return EXIT.ok;
  } catch (err) {
    return reportError(err, io);
  }
}

function reportError(err: unknown, io: CliIo): number {
  if (err instanceof UsageError) {
    io.err(`memmesh: ${err.message} (memmesh --help)`);
    return EXIT.usage;
  }
  if (!isMeshError(err)) throw err;
  io.err(`memmesh: ${err.code}: ${err.message}`);
  switch (err.code) {
    case 'not_found':
      return EXIT.notFound;
    case 'version_conflict':
    case 'conflict':
      return EXIT.conflict;
    case 'unauthorized':
    case 'forbidden':
      return EXIT.auth;
    case 'rate_limited':
    case 'unavailable':
    case 'timeout':
      return EXIT.unavailable;
    case 'bad_request':
    case 'config':
      return err.code === 'config' ? EXIT.usage : EXIT.failed;
    default:
      return EXIT.failed;
  }
}

/**
 * MCP over stdio until stdin closes. One client for the connection, so the session's
 * read-your-writes covers the agent's whole conversation; stdout carries only the protocol.
 */
async function serveMcp(client: MemmeshClient): Promise<number> {
  const closed = new Promise<void>((resolve) => process.stdin.once('close', resolve));
  const handle = serveStdio(() => createMcpServer(client), {
    onerror: (err) => process.stderr.write(`memmesh mcp: ${err.message}\n`),
  });
  await closed;
  await handle.close();
  return EXIT.ok;
}
