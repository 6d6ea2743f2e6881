/**
 * @module chaos
 * `npm run chaos [-- --docs N --faults K --seed S]`: the fault suite on the local topology
 * (real processes on loopback), one scenario after another, each bounded in time, with the
 * ledger's verdict per scenario: acknowledged writes, lost, duplicated, unexpected, recovery
 * times. Prints one table and writes it, with the date and the command, to
 * scripts/chaos/CHAOS_RESULTS.md. `npm test` runs a short version (chaos.test.ts).
 */
import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { runRetryStorm, runScenario, type ScenarioResult } from './scenarios.ts';

const argv = process.argv.slice(2);
const { values } = parseArgs({
  args: argv,
  options: {
    docs: { type: 'string', default: '4000' },
    faults: { type: 'string', default: '5' },
    seed: { type: 'string', default: '1' },
  },
});
const COMMAND = `npm run chaos${argv.length > 0 ? ` -- ${argv.join(' ')}` : ''}`;
const RESULTS = new URL('./CHAOS_RESULTS.md', import.meta.url).pathname;
const docs = Number(values.docs);
const faults = Number(values.faults);
const seed = Number(values.seed);
if (![docs, faults, seed].every((n) => Number.isSafeInteger(n) && n >= 0) || docs < 1) {
  console.error('chaos: --docs, --faults and --seed take non-negative integers (docs at least 1)');
  process.exit(2);
}

/**
 * What NATS's fsync policy means here: the servers the suite starts keep NATS's default, a
 * `sync_interval` of 2 minutes. A kill -9 of nats-server loses nothing (the kernel still has
 * what it wrote); a power loss of a single server may lose what it acknowledged in the last
 * 2 minutes. Production runs R3 streams, where an acknowledged write is on a majority: losing
 * it takes two servers losing power within the interval, or `sync_interval: always`.
 */
const SYNC_POLICY =
  'nats-server `sync_interval` is the default (2 min): kill -9 of a server loses nothing, a power loss of a single server may lose the last 2 min of acknowledged writes; R3 streams need a majority to lose power within that interval (or set `sync_interval: always`).';

const timeMsMax = Math.max(120_000, docs * 60);
const results: ScenarioResult[] = [];
for (const scenario of ['agent-kill', 'nats-kill'] as const) {
  console.info(`chaos: ${scenario}, ${docs} documents, ${faults} faults`);
  results.push(await runScenario(scenario, { docs, faults, seed, timeMsMax }));
}
console.info('chaos: retry-storm');
results.push(await runRetryStorm({ docs: Math.min(docs, 1_000), copies: 5, timeMsMax }));

const table = render(results);
console.info(`\n${table}\n${SYNC_POLICY}`);
await writeFile(
  RESULTS,
  `# Fault suite results\n\n${new Date().toISOString().slice(0, 10)}, \`${COMMAND}\`\n\n${table}\n\n${SYNC_POLICY}\n`,
);
process.exit(results.every((r) => r.lost.length + r.duplicated.length + r.unexpected.length === 0) ? 0 : 1);

function render(rows: ScenarioResult[]): string {
  const head =
    '| scenario | faults | writes acknowledged | retries | lost | duplicated | unexpected | recovery p50 / max | elapsed |';
  const lines = rows.map((r) => {
    const sorted = [...r.recoveryMs].sort((a, b) => a - b);
    const p50 = sorted[Math.floor(sorted.length / 2)];
    const recovery =
      sorted.length === 0
        ? '—'
        : `${(p50 as number).toFixed(0)} / ${(sorted.at(-1) as number).toFixed(0)} ms`;
    const named = (ids: string[]) =>
      ids.length === 0 ? '0' : `${ids.length} (${ids.slice(0, 3).join(', ')}…)`;
    return `| ${r.scenario} | ${r.faults} | ${r.acked} | ${r.retries} | ${named(r.lost)} | ${named(r.duplicated)} | ${named(r.unexpected)} | ${recovery} | ${(r.elapsedMs / 1_000).toFixed(1)} s |`;
  });
  return [head, '|---|---|---|---|---|---|---|---|---|', ...lines].join('\n');
}
