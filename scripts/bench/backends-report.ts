/**
 * @module backends-report
 * The output of `npm run bench:backends`: one table per part (a production backend beside
 * the embedded one it replaces, measured in the same run), each with what was measured and
 * how busy the machine was meanwhile, under a line naming the date, the command, the machine
 * and the servers' versions. Printed, and written to scripts/bench/BACKENDS_RESULTS.md.
 */
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { milvusLiteBin, natsServerBin, redisServerBin } from '@memmesh/testkit';
import { fmt, type Row } from './report.ts';
import type { LatencySummary } from './stats.ts';

export interface Section {
  title: string;
  /** What the measured column and the baseline column hold. */
  columns: { measured: string; baseline: string };
  /** What was measured, in a sentence or two. */
  setup: string;
  rows: Row[];
  /** Cores' worth of CPU other processes used during this part (machine.ts). */
  otherCores: number | undefined;
}

export interface BackendsReport {
  sections: Section[];
  command: string;
  runS: number;
  otherCores: number | undefined;
}

/** A version line of a server binary; a missing binary is reported, not fatal. */
const VERSION_TIMEOUT_MS = 10_000;

function versionOf(bin: string, args: string[], pattern: RegExp): string {
  try {
    const out = execFileSync(bin, args, { timeout: VERSION_TIMEOUT_MS, stdio: ['ignore', 'pipe', 'ignore'] });
    return pattern.exec(out.toString())?.[1] ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function machine(): string {
  const cpu = cpus();
  const nats = versionOf(natsServerBin(), ['--version'], /(v[\d.]+)/);
  const redis = versionOf(redisServerBin(), ['--version'], /v=([\d.]+)/);
  // Milvus Lite has no --version; its virtualenv's Python knows the installed package.
  let milvusBin: string | undefined;
  try {
    milvusBin = milvusLiteBin();
  } catch {
    milvusBin = undefined;
  }
  const milvus =
    milvusBin === undefined
      ? 'unknown'
      : versionOf(
          join(dirname(milvusBin), 'python'),
          ['-c', 'import importlib.metadata as m; print(m.version("milvus-lite"))'],
          /([\d.]+)/,
        );
  return [
    `${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown'}), ${fmt(totalmem() / 1024 ** 3, 1)} GiB`,
    `Linux ${release()}, Node ${process.version}`,
    `nats-server ${nats}, redis-server ${redis}, Milvus Lite ${milvus}`,
  ].join(', ');
}

function load(cores: number | undefined, during: string): string {
  if (cores === undefined) return '';
  const warning = cores > 0.2 ? ' — the machine was shared, so these figures are pessimistic' : '';
  return `Other processes used ${fmt(cores, 2)} of ${cpus().length} cores on average ${during}${warning}.`;
}

/** The failures of a latency loop, after its figures; nothing when there were none. */
export const errorsNote = (s: LatencySummary): string =>
  s.errors === 0 ? '' : ` (${s.errors} errors, first: ${s.firstError?.slice(0, 120)})`;

/** A rate with the precision it deserves: small rates (a slow backend) keep a decimal. */
const rate = (n: number): string => fmt(n, Math.abs(n) < 100 ? 1 : 0);

/** A rate beside its baseline, the ratio as a percentage that stays readable below 1%. */
export function rateCells(metric: string, value: number, baseline: number): Row {
  const percent = (value / baseline) * 100;
  return {
    metric,
    memmesh: rate(value),
    baseline: rate(baseline),
    ratio: `${fmt(percent, Math.abs(percent) < 1 ? 2 : 0)}%`,
    aim: '',
    met: undefined,
  };
}

/** `a / b` as a multiple, e.g. `3.2×`. */
export const times = (a: number, b: number): string => `${fmt(a / b, 2)}×`;

function table(section: Section): string {
  const row = (cells: string[]) => `| ${cells.map((c) => c.trim()).join(' | ')} |`;
  const header = ['metric', section.columns.measured, section.columns.baseline, 'ratio'];
  return [
    row(header),
    row(header.map(() => '---')),
    ...section.rows.map((r) => row([r.metric, r.memmesh, r.baseline, r.ratio])),
  ].join('\n');
}

export function renderBackends(report: BackendsReport): string {
  const date = new Date().toISOString().replace('T', ' ').slice(0, 16);
  const lines = [
    `Measured ${date} UTC with \`${report.command}\` (run time ${fmt(report.runS)} s) on ${machine()}. ` +
      load(report.otherCores, 'during the run'),
    '',
  ];
  for (const section of report.sections) {
    lines.push(
      `## ${section.title}`,
      '',
      `${section.setup} ${load(section.otherCores, 'during this part')}`,
      '',
      table(section),
      '',
    );
  }
  return lines.join('\n');
}

export async function writeBackendsResults(text: string): Promise<void> {
  await writeFile(new URL('./BACKENDS_RESULTS.md', import.meta.url), `# Backend bench results\n\n${text}`);
}
