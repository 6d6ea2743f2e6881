/**
 * @module main
 * `memmesh <command>`: commander parses the command line; the client is made from
 * MEMMESH_URL and MEMMESH_API_KEY (or --url, --api-key); the command runs and its answer is
 * printed (JSON with --json); the exit code says how it went. Errors are one line on stderr
 * with the API's code. `memmesh mcp` serves the MCP tools over stdio through the client.
 */
import { createClient, isMeshError, type MemmeshClient } from '@memmesh/client';
import { createMcpServer } from '@memmesh/mcp';
import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { Command, CommanderError } from 'commander';
import { bulkCommands } from './bulk.ts';
import { type Act, memoryCommands, type Output } from './commands.ts';
import { CLI_ENV_NAMES, configOf, DEFAULT_MEMMESH_URL, EXIT, UsageError } from './config.ts';
import { createProgress } from './progress.ts';

export interface CliIo {
  /** One line of output; a promise when stdout is full, so that an export waits for it. */
  out: (text: string) => void | Promise<void>;
  err: (text: string) => void;
  /** Where a progress bar may be drawn (stderr); none in tests that capture output. */
  progressStream?: NodeJS.WriteStream;
  /** Calls `listener` on Ctrl-C (SIGINT); answers a function that stops listening. */
  onInterrupt?: (listener: () => void) => () => void;
}

export const EXIT_CODES_HELP = `exit codes: 0 ok, 1 failed, 2 usage, 3 not found, 4 version conflict, 5 unauthorized/forbidden, 6 unavailable (retry later), 130 interrupted (import: run it again to resume)`;

export async function runCli(
  argv: string[],
  env: Record<string, string | undefined>,
  io: CliIo,
): Promise<number> {
  let code: number = EXIT.ok;
  const program = buildProgram(env, io, (value) => {
    code = value;
  });
  try {
    await program.parseAsync(argv, { from: 'user' });
    return code;
  } catch (err) {
    return reportError(err, io);
  }
}

/**
 * Ctrl-C as a flag, for a command that stops cleanly (an import); other commands keep the
 * default (Ctrl-C ends them at once).
 */
function interruptsOf(io: CliIo) {
  return () => {
    let interrupted = false;
    const release = io.onInterrupt?.(() => {
      interrupted = true;
    });
    return { stopped: () => interrupted, release: () => release?.() };
  };
}

function buildProgram(
  env: Record<string, string | undefined>,
  io: CliIo,
  exit: (code: number) => void,
): Command {
  const program = new Command('memmesh')
    .description('memmesh — shared memory for AI agents')
    .option(
      '--url <url>',
      `memmesh (gateway or region) URL; default $${CLI_ENV_NAMES.url} or ${DEFAULT_MEMMESH_URL}`,
    )
    .option('--api-key <key>', `API key; default $${CLI_ENV_NAMES.apiKey}`)
    .option('--json', 'print the API’s JSON answer')
    .addHelpText('after', `\n${EXIT_CODES_HELP}`)
    .showHelpAfterError('(memmesh --help)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => void io.out(text.replace(/\n$/, '')),
      writeErr: (text) => io.err(text.replace(/\n$/, '')),
    });
  const clientOf = (command: Command): MemmeshClient => {
    const globals = command.optsWithGlobals<{ url?: string; apiKey?: string }>();
    return createClient(configOf({ url: globals.url, 'api-key': globals.apiKey }, env));
  };
  const write = async (line: string) => {
    await io.out(line);
  };
  const act: Act =
    (body) =>
    async (...args) => {
      // Commander passes the positionals, the command's options and the command itself last.
      const command = args[args.length - 1] as Command;
      const answer = await body(clientOf(command), ...args);
      if (typeof answer === 'number') return exit(answer);
      await printOutput(write, command.optsWithGlobals().json === true, answer);
    };
  memoryCommands(program, act);
  bulkCommands(program, {
    act,
    write,
    progress: (json) => createProgress(io.progressStream, !json),
    interrupts: interruptsOf(io),
  });
  program
    .command('mcp')
    .description('serve the MCP tools over stdio (for desktop and IDE agents)')
    .action(async (_options, command: Command) => exit(await serveMcp(clientOf(command))));
  return program;
}

async function printOutput(write: (line: string) => Promise<void>, json: boolean, output: Output) {
  if (json) return write(JSON.stringify(output.json));
  for (const line of output.lines) await write(line);
}

/** Commander's own exits (help, version) and usage errors, then the API's errors by code. */
function reportError(err: unknown, io: CliIo): number {
  if (err instanceof CommanderError) {
    // Commander has printed its message already (an unknown option, a missing argument, help).
    return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' ? EXIT.ok : EXIT.usage;
  }
  if (err instanceof UsageError) {
    io.err(`memmesh: ${err.message} (memmesh --help)`);
    return EXIT.usage;
  }
  if (!isMeshError(err)) throw err;
  io.err(`memmesh: ${err.code}: ${err.message}`);
  return exitCodeOf(err.code);
}

function exitCodeOf(code: string): number {
  switch (code) {
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
    case 'config':
      return EXIT.usage;
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
