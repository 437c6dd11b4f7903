// Server log lines: one per notable event, timestamped, on stderr, as text or (--log-format json)
// one JSON object a line. Lines of one event-loop turn leave in one write (a login storm logs
// thousands a second).

let pending: string[] = [];
let scheduled = false;
let stderr: ReturnType<typeof Bun.stderr.writer> | undefined;

function flush(): void {
  scheduled = false;
  if (pending.length === 0) return;
  const text = pending.join('');
  pending = [];
  // Bun's own writer, not process.stderr: that loads Node's streams, ~7 MiB of RSS (B8).
  stderr ??= Bun.stderr.writer();
  stderr.write(text);
  void stderr.flush();
}

process.on('exit', flush);

function queue(text: string): void {
  pending.push(text);
  if (!scheduled) {
    scheduled = true;
    setImmediate(flush);
  }
}

export function stderrLogger(line: string): void {
  queue(`${new Date().toISOString()} ${line}\n`);
}

/** `--log-format json`: the same lines, each one JSON object `{"time": …, "message": …}`. */
export function jsonLogger(line: string): void {
  queue(`${JSON.stringify({ time: new Date().toISOString(), message: line })}\n`);
}
