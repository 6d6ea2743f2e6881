/**
 * @module machine
 * How busy the machine was with work other than the bench's: the CPU time all processes
 * used (from /proc/stat) minus the CPU time of this process and its reaped children
 * (nats-server, the clients; from /proc/self/stat). A bench on a shared 2-core machine is
 * only as good as this figure is small, so the results state it.
 */
import { readFileSync } from 'node:fs';

/** Linux reports both files in USER_HZ ticks, 100 per second on every common platform. */
const TICKS_PER_S = 100;

export interface CpuSnapshot {
  atMs: number;
  /** Busy ticks of the whole machine (user, nice, system, irq, softirq, steal). */
  machineTicks: number;
  /** Ticks of this process and of its children that have exited and been waited for. */
  ownTicks: number;
}

/** undefined where /proc is not there (not Linux): the figure is then left out. */
export function cpuSnapshot(): CpuSnapshot | undefined {
  try {
    const cpu = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).map(Number);
    const [, user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = cpu;
    // The command name (field 2) may hold spaces; the numeric fields follow its closing paren.
    const stat = readFileSync('/proc/self/stat', 'utf8');
    const fields = stat
      .slice(stat.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    // utime, stime, cutime, cstime are fields 14-17, i.e. 11-14 after the paren.
    const own = fields.slice(11, 15).reduce((a, b) => a + b, 0);
    return { atMs: Date.now(), machineTicks: user + nice + system + irq + softirq + steal, ownTicks: own };
  } catch {
    return undefined;
  }
}

/** Cores' worth of CPU that other processes used on average between two snapshots. */
export function otherCores(start: CpuSnapshot | undefined, end: CpuSnapshot | undefined): number | undefined {
  if (!start || !end || end.atMs <= start.atMs) return undefined;
  const otherTicks = end.machineTicks - start.machineTicks - (end.ownTicks - start.ownTicks);
  return Math.max(0, otherTicks / TICKS_PER_S / ((end.atMs - start.atMs) / 1000));
}
