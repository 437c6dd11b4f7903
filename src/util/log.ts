// Server log lines: one per notable event, timestamped, on stderr.

export function stderrLogger(line: string): void {
  process.stderr.write(`${new Date().toISOString()} ${line}\n`);
}
