// What a run records: its clock and work directory, the log on stderr, the table's rows and the
// details written to the results file, and the machine and commit they were measured on.
// Importing it makes the work directory: bench/run.ts imports it once the command line is checked.

import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { flags, quick } from './parameters.ts';

export const ROOT = join(import.meta.dir, '../..');

export interface Row {
  id: string;
  scenario: string;
  target: string;
  measured: string;
  met: boolean | null;
  ofCeiling?: string;
}

export const rows: Row[] = [];
export const details: Record<string, unknown> = {};
export const workDir = mkdtempSync(join(os.tmpdir(), 'chat-bench-'));
export const startedAt = new Date();
export const resultsDir = quick && !flags.out ? workDir : join(ROOT, 'bench/results');
export const profileDir = flags.profile ? join(resultsDir, `profile-${startedAt.toISOString().replace(/[:.]/g, '-')}`) : undefined;

export function log(line: string): void {
  console.error(`[bench ${((Date.now() - startedAt.getTime()) / 1000).toFixed(1).padStart(5)} s] ${line}`);
}

export function gitCommit(): { commit: string; dirty: boolean } {
  const rev = Bun.spawnSync(['git', 'rev-parse', '--short', 'HEAD'], { cwd: ROOT });
  const status = Bun.spawnSync(['git', 'status', '--porcelain', '--untracked-files=no'], { cwd: ROOT });
  return { commit: rev.success ? rev.stdout.toString().trim() : 'unknown', dirty: status.stdout.toString().trim() !== '' };
}

export function machine() {
  const cpus = os.cpus();
  const fd = Bun.spawnSync(['sh', '-c', 'ulimit -n']).stdout.toString().trim();
  return { cores: cpus.length, cpuModel: cpus[0]?.model ?? 'unknown', memoryBytes: os.totalmem(), bun: Bun.version, os: `${os.type()} ${os.release()}`, fdLimit: Number(fd) };
}

export function printTable(): void {
  const header: Row = { id: 'id', scenario: 'scenario', target: 'target', measured: 'measured', met: null, ofCeiling: 'of ceiling' };
  const cells = (r: Row) => [r.id, r.scenario, r.target, r.measured, r === header ? 'met' : r.met === null ? '' : r.met ? 'yes' : 'NO', r.ofCeiling ?? ''];
  const all = [header, ...rows].map(cells);
  const widths = all[0]!.map((_, i) => Math.max(...all.map((row) => row[i]!.length)));
  const line = (row: string[]) => `| ${row.map((cell, i) => cell.padEnd(widths[i]!)).join(' | ')} |`;
  console.log(line(all[0]!));
  console.log(`|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`);
  for (const row of all.slice(1)) console.log(line(row));
}
