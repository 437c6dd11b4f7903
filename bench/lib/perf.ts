// Where a server's CPU goes, kernel and every thread included: Linux `perf record` on the server's
// process during a measured window, its samples sorted by thread and by what the stack was doing.
// The JS profiler (--cpu-prof) sees only the JS thread's own frames; this sees the allocator's
// page purging, the collector's helpers, the JIT, and the kernel's side of each system call.
//
//   BENCH_PERF=1 bun run bench compare          (or direct, scale: any scenario using runDirect)
//
// Needs `perf` (Debian: linux-perf) and perf_event_paranoid ≤ 1 or root; else says why and skips.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** What a stack was doing, judged by the kernel functions on it (checked in this order). */
const KINDS: [kind: string, marks: string[]][] = [
  ['returning memory to the kernel (madvise; its TLB flush)', ['do_madvise', '__x64_sys_madvise']],
  ['page faults (memory touched again)', ['asm_exc_page_fault', 'exc_page_fault']],
  ['sending (TCP, loopback delivery to the reader)', ['tcp_sendmsg', '__sys_sendto', 'sock_write_iter']],
  ['receiving (TCP)', ['tcp_recvmsg', '__sys_recvfrom', 'sock_read_iter']],
  ['epoll and other system calls', ['do_syscall_64']],
];
const OTHER_KERNEL = 'other kernel (interrupts, scheduling)';
const USER = 'user space (JS, JIT code, runtime, allocator)';

export interface PerfBreakdown {
  samples: number;
  /** Share of the process's samples, by thread name. */
  threads: Record<string, number>;
  /** Share of the process's samples, by what the stack was doing. */
  kinds: Record<string, number>;
}

export interface PerfRecording {
  stop(): Promise<PerfBreakdown | string>;
}

/** Starts `perf record` on a process; stop() ends it and sums the samples (or says why it could not). */
export function recordPerf(pid: number): PerfRecording | string {
  if (!Bun.which('perf')) return 'perf is not installed (Debian: apt-get install linux-perf)';
  const dir = mkdtempSync(join(tmpdir(), 'bench-perf-'));
  const data = join(dir, 'perf.data');
  const proc = Bun.spawn(['perf', 'record', '-q', '-F', '999', '-g', '-p', String(pid), '-o', data], { stdout: 'ignore', stderr: 'pipe' });
  return {
    async stop() {
      try {
        proc.kill('SIGINT');
        await proc.exited; // perf ends on SIGINT with a code of its own: judge it by its data
        if (!(await Bun.file(data).exists())) return `perf record failed: ${(await new Response(proc.stderr).text()).trim().split('\n')[0]}`;
        const script = Bun.spawnSync(['perf', 'script', '-i', data, '-F', 'comm,ip,sym,dso'], { stdout: 'pipe', stderr: 'ignore' });
        return summarise(script.stdout.toString());
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Sums `perf script -F comm,ip,sym,dso` output (a header line, then one line per frame, samples apart by a blank line). */
export function summarise(script: string): PerfBreakdown {
  const threads: Record<string, number> = {};
  const kinds: Record<string, number> = {};
  let samples = 0;
  for (const block of script.split('\n\n')) {
    const lines = block.split('\n').filter((l) => l.trim() !== '');
    const head = lines[0];
    if (head === undefined) continue;
    samples++;
    const thread = head.trim().split(/\s+/)[0] as string;
    threads[thread] = (threads[thread] ?? 0) + 1;
    const frames = lines.slice(1);
    const kind = KINDS.find(([, marks]) => frames.some((f) => marks.some((m) => f.includes(m))))?.[0] ?? (frames.some((f) => f.includes('[kernel.kallsyms]')) ? OTHER_KERNEL : USER);
    kinds[kind] = (kinds[kind] ?? 0) + 1;
  }
  const share = (counts: Record<string, number>) => Object.fromEntries(Object.entries(counts).sort((a, b) => b[1] - a[1]).map(([k, n]) => [k, n / Math.max(1, samples)]));
  return { samples, threads: share(threads), kinds: share(kinds) };
}

/** Lines for the log: each share, and what it is per message given the server's CPU per message. */
export function describe(b: PerfBreakdown, cpuMicrosPerMessage: number): string[] {
  const row = (name: string, s: number) => `    ${(s * 100).toFixed(1).padStart(5)} %  ${(s * cpuMicrosPerMessage).toFixed(2).padStart(6)} µs/msg  ${name}`;
  return [
    `  perf: ${b.samples} samples; by thread:`,
    ...Object.entries(b.threads).map(([t, s]) => row(t, s)),
    '  by what the stack was doing:',
    ...Object.entries(b.kinds).map(([k, s]) => row(k, s)),
  ];
}
