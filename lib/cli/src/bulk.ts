/**
 * @module bulk
 * The bulk and service subcommands: `import` (import.ts), `export` (JSON Lines through the
 * client's list iterator, one memory a line as it arrives), `regions`, `stats`, `erasure`
 * (a tenant's receipt), and `admin …` for the administration reads the API has (a tenant's
 * policy and keys, a re-index job, any erasure's receipt; the operator's admin key).
 */
import type { MemmeshClient } from '@memmesh/client';
import { LIMITS } from '@memmesh/core/limits';
import type { Command } from 'commander';
import {
  type Act,
  listParamsOf,
  type Output,
  type ScopeOptions,
  scopeOf,
  whole,
  withScope,
} from './commands.ts';
import { EXIT } from './config.ts';
import { runImport } from './import.ts';
import type { Progress } from './progress.ts';

export interface BulkContext {
  act: Act;
  /** Writes one line of output, waiting while stdout is full. */
  write: (line: string) => Promise<void>;
  /** A progress bar (a no-op off a terminal or with --json). */
  progress: (json: boolean) => Progress;
  /** Starts taking Ctrl-C as "stop after this batch" until `release`. */
  interrupts: () => { stopped: () => boolean; release: () => void };
}

type ImportCliOptions = ScopeOptions & {
  format?: string;
  idPrefix?: string;
  state?: string;
  batchSize: number;
  wait?: boolean;
  json?: boolean;
};

export function bulkCommands(program: Command, ctx: BulkContext): void {
  withScope(program.command('import'), false)
    .argument('<path>', 'a .jsonl or .csv file, or a folder of .md/.txt files')
    .description('import memories in batches, with progress; resumable after Ctrl-C')
    .option('--format <format>', 'jsonl, csv or dir (else from the path)')
    .option('--id-prefix <prefix>', 'before each generated id (default: the file or folder name)')
    .option('--state <file>', 'where to keep the progress (default: <path>.memmesh-import.json)')
    .option(
      '--batch-size <n>',
      `memories per request, 1 to ${LIMITS.batchDocsMax}`,
      whole,
      LIMITS.batchDocsMax,
    )
    .option('--wait', 'each batch answers once the home index applied it')
    .action(
      ctx.act((client, path: string, o: ImportCliOptions, command: Command) =>
        importAction(ctx, client, path, o, command),
      ),
    );
  withScope(program.command('export'))
    .description('every memory (by scope and metadata) as JSON Lines on stdout, newest first')
    .action(
      ctx.act(async (client, o: ScopeOptions) => {
        for await (const memory of client.iterate({ ...listParamsOf(o), limit: LIMITS.listLimitMax })) {
          await ctx.write(JSON.stringify(memory));
        }
        return EXIT.ok;
      }),
    );
  serviceCommands(program, ctx.act);
}

async function importAction(
  ctx: BulkContext,
  client: MemmeshClient,
  path: string,
  o: ImportCliOptions,
  command: Command,
): Promise<number> {
  const json = command.optsWithGlobals().json === true;
  const interrupts = ctx.interrupts();
  const options = {
    path,
    format: o.format,
    idPrefix: o.idPrefix,
    state: o.state,
    batchSize: o.batchSize,
    wait: o.wait === true,
    scope: scopeOf(o),
  };
  const summary = await runImport(client, options, {
    progress: ctx.progress(json),
    stopped: interrupts.stopped,
  }).finally(interrupts.release);
  const done = summary.resumedFrom + summary.imported + summary.failed;
  const lines = [
    `${summary.complete ? 'imported' : 'stopped:'} ${done} of ${summary.total} memories (${summary.imported} this run, ${summary.failed} refused)`,
    ...summary.failures.map((f) => `refused ${f.id}: ${f.code}: ${f.message}`),
    ...(summary.complete ? [] : [`run the same command again to resume (${summary.stateFile})`]),
  ];
  await print(ctx, json, { json: summary, lines });
  if (!summary.complete) return EXIT.interrupted;
  return summary.failed > 0 ? EXIT.failed : EXIT.ok;
}

async function print(ctx: BulkContext, json: boolean, output: Output): Promise<void> {
  if (json) await ctx.write(JSON.stringify(output.json));
  else for (const line of output.lines) await ctx.write(line);
}

function serviceCommands(program: Command, act: Act): void {
  program
    .command('regions')
    .description('the regions as the gateway sees them: status, RTT, health')
    .action(
      act(async (client) => {
        const { regions } = await client.regions();
        const lines = regions.map(
          (r) => `${r.region}\t${r.status}\t${r.healthy ? 'healthy' : 'unhealthy'}\t${r.rttMs.toFixed(1)} ms`,
        );
        return { json: { regions }, lines };
      }),
    );
  program
    .command('stats')
    .description('your memories per shard in the region that answers')
    .action(
      act(async (client) => {
        const stats = await client.stats();
        const docs = stats.shards.reduce((sum, s) => sum + s.docs, 0);
        const lines = [
          `${stats.region}\t${stats.ready ? 'ready' : 'not ready'}\t${docs} memories in ${stats.shards.length} shards`,
          ...stats.shards.map(
            (s) =>
              `${s.origin}/${s.shard}\t${s.docs} docs\t${s.chunks} chunks${s.caughtUp ? '' : '\tcatching up'}`,
          ),
        ];
        return { json: stats, lines };
      }),
    );
  program
    .command('erasure')
    .argument('<id>')
    .description('an erasure’s receipt (of your tenant)')
    .action(act(async (client, id: string) => receipt(await client.erasure(id))));
  const admin = program.command('admin').description('administration (the operator’s admin key)');
  admin
    .command('policy')
    .argument('<tenant>')
    .description('a tenant’s placement policy')
    .action(
      act(async (client, tenant: string) => {
        const policy = await client.admin.tenantPolicy(tenant);
        return { json: policy, lines: [JSON.stringify(policy, null, 2)] };
      }),
    );
  admin
    .command('keys')
    .argument('<tenant>')
    .description('a tenant’s API keys (ids, scopes, dates; a tenant admin key may list its own)')
    .action(
      act(async (client, tenant: string) => {
        const { keys } = await client.admin.apiKeys(tenant);
        return { json: { keys }, lines: keys.map((k) => `${k.keyId}\t${k.scopes.join(',')}`) };
      }),
    );
  admin
    .command('reindex')
    .argument('<id>')
    .description('a re-index job: state, progress, models')
    .action(
      act(async (client, id: string) => {
        const job = await client.admin.reindexJob(id);
        return { json: job, lines: [JSON.stringify(job, null, 2)] };
      }),
    );
  admin
    .command('erasure')
    .argument('<id>')
    .description('any tenant’s erasure receipt')
    .action(act(async (client, id: string) => receipt(await client.admin.erasure(id))));
}

function receipt(r: { id: string; state: string; documents: number; tenant: string }): Output {
  return { json: r, lines: [`${r.id}\t${r.tenant}\t${r.state}\t${r.documents} documents`] };
}
