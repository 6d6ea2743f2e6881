/**
 * @module report
 * The bench's output: a table of memmesh against its same-run baselines with the aims,
 * a breakdown of where a search's time goes, and the run's circumstances (date, machine,
 * versions, command), printed and written to scripts/bench/RESULTS.md.
 */
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { cpus, release, totalmem } from 'node:os';
import { natsServerBin } from '@memmesh/testkit';

export interface Row {
  metric: string;
  memmesh: string;
  baseline: string;
  ratio: string;
  aim: string;
  /** undefined: a figure without an aim. */
  met: boolean | undefined;
}

export interface Part {
  part: string;
  p50: string;
  note: string;
}

export interface Report {
  rows: Row[];
  parts: Part[];
  /** What was measured, in a sentence or two. */
  setup: string;
  command: string;
  runS: number;
  /** Cores' worth of CPU used by other processes during the run: they skew every figure. */
  otherCores: number | undefined;
}

export const fmt = (n: number, digits = 0): string =>
  Number.isFinite(n)
    ? n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })
    : 'n/a';

export const ms = (n: number): string => fmt(n, 2);

/** A rate against its baseline, with the aim as the smallest acceptable ratio. */
export function rateRow(
  metric: string,
  value: number,
  baseline: number,
  baselineName: string,
  aimRatio: number | undefined,
): Row {
  const ratio = value / baseline;
  return {
    metric,
    memmesh: fmt(value),
    baseline: `${fmt(baseline)} ${baselineName}`,
    ratio: `${fmt(ratio * 100)}%`,
    aim: aimRatio === undefined ? '' : `≥ ${fmt(aimRatio * 100)}%`,
    met: aimRatio === undefined ? undefined : ratio >= aimRatio,
  };
}

export function errorRow(metric: string, err: unknown): Row {
  const message = (err instanceof Error ? err.message : String(err))
    .replaceAll('|', '/')
    .replaceAll('\n', ' ');
  return { metric, memmesh: `error: ${message.slice(0, 300)}`, baseline: '', ratio: '', aim: '', met: false };
}

function table(header: string[], lines: string[][]): string {
  const row = (cells: string[]) => `| ${cells.join(' | ')} |`;
  return [row(header), row(header.map(() => '---')), ...lines.map(row)].join('\n');
}

function machine(): string {
  const natsVersion = execFileSync(natsServerBin(), ['--version']).toString().trim();
  const cpu = cpus();
  const memoryGiB = fmt(totalmem() / 1024 ** 3, 1);
  return `${cpu.length} cores (${cpu[0]?.model.trim() ?? 'unknown'}), ${memoryGiB} GiB, Linux ${release()}, Node ${process.version}, ${natsVersion}`;
}

function otherLoad(cores: number | undefined): string {
  if (cores === undefined) return '';
  const warning = cores > 0.2 ? ' — the machine was shared, so the figures are pessimistic' : '';
  return `Other processes used ${fmt(cores, 2)} of ${cpus().length} cores on average during the run${warning}.`;
}

export function render(report: Report): string {
  const main = table(
    ['metric', 'memmesh', 'baseline (same run)', 'ratio', 'aim', 'met'],
    report.rows.map((r) => [
      r.metric,
      r.memmesh,
      r.baseline,
      r.ratio,
      r.aim,
      r.met === undefined ? '' : r.met ? 'yes' : '**missed**',
    ]),
  );
  const parts = table(
    ['part of a search (alone, same run)', 'p50', 'note'],
    report.parts.map((p) => [p.part, p.p50, p.note]),
  );
  const aimed = report.rows.filter((r) => r.met !== undefined);
  const missed = aimed.filter((r) => r.met === false);
  const verdict =
    missed.length === 0
      ? `All ${aimed.length} aims met.`
      : `${missed.length} of ${aimed.length} aims missed: ${missed.map((r) => r.metric).join('; ')}.`;
  return [
    `Measured ${new Date().toISOString().replace('T', ' ').slice(0, 16)} UTC with \`${report.command}\` ` +
      `(run time ${fmt(report.runS)} s) on ${machine()}. ${otherLoad(report.otherCores)}`,
    '',
    report.setup,
    '',
    main,
    '',
    verdict,
    '',
    parts,
    '',
  ].join('\n');
}

export async function writeResults(
  text: string,
  file = 'RESULTS.md',
  title = 'Bench results',
): Promise<void> {
  await writeFile(new URL(`./${file}`, import.meta.url), `# ${title}\n\n${text}`);
}
