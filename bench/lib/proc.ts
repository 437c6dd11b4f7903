// What /proc says about a process: resident memory and CPU time. Linux only.

import { readFileSync } from 'node:fs';

const TICKS_PER_SECOND = 100; // sysconf(_SC_CLK_TCK) on Linux

/** Resident set size and its peak, in bytes. */
export function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** User + system CPU time used so far, in seconds. */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

/** CPU use between two samples, as a fraction of one core. */
export class CpuMeter {
  private cpu: number;
  private at: number;
  constructor(private readonly pid: number) {
    this.cpu = cpuSecondsOf(pid);
    this.at = performance.now();
  }
  /** Fraction of one core since construction (or the last call with reset). */
  read(reset = false): number {
    const cpu = cpuSecondsOf(this.pid);
    const at = performance.now();
    const fraction = (cpu - this.cpu) / ((at - this.at) / 1000);
    if (reset) {
      this.cpu = cpu;
      this.at = at;
    }
    return fraction;
  }
}
