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
  const { user, system } = cpuTimesOf(pid);
  return user + system;
}

/** User and system (kernel: syscalls, TCP) CPU time used so far, in seconds. */
export function cpuTimesOf(pid: number): { user: number; system: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]) / TICKS_PER_SECOND, system: Number(fields[12]) / TICKS_PER_SECOND };
}

/** CPU use between two samples, as a fraction of one core. */
export class CpuMeter {
  private cpu: number;
  private system: number;
  private at: number;
  /** Of the last read: the part spent in the kernel, as a fraction of one core. */
  lastSystem = 0;
  constructor(private readonly pid: number) {
    const times = cpuTimesOf(pid);
    this.cpu = times.user + times.system;
    this.system = times.system;
    this.at = performance.now();
  }
  /** Fraction of one core since construction (or the last call with reset). */
  read(reset = false): number {
    const times = cpuTimesOf(this.pid);
    const cpu = times.user + times.system;
    const at = performance.now();
    const seconds = (at - this.at) / 1000;
    const fraction = (cpu - this.cpu) / seconds;
    this.lastSystem = (times.system - this.system) / seconds;
    if (reset) {
      this.cpu = cpu;
      this.system = times.system;
      this.at = at;
    }
    return fraction;
  }
}
