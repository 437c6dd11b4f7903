// The reference C server: Debian's ngIRCd, started by the bench on a free loopback port with a
// config generated in the run's directory (no PAM, no IDENT, no DNS, no flood penalties, no
// connection cap), and stopped by its pid. Absent on a machine without the `ngircd` package.

import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Target } from './procs.ts';

/**
 * Where ngircd is, or undefined (Debian puts it in /usr/sbin, often not on PATH).
 * BENCH_NGIRCD=<path> names another binary; BENCH_NGIRCD=none runs the bench as if it were absent.
 */
export function ngircdPath(): string | undefined {
  const forced = process.env.BENCH_NGIRCD;
  if (forced) return forced === 'none' ? undefined : forced;
  for (const candidate of [Bun.which('ngircd'), '/usr/sbin/ngircd']) {
    if (candidate && existsSync(candidate)) return candidate;
  }
  return undefined;
}

/** A port that was free a moment ago (ngircd cannot be told to take port 0 and report it). */
function freePort(): number {
  const probe = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
  const { port } = probe;
  probe.stop(true);
  return port;
}

function config(dir: string, port: number): string {
  return `[Global]
Name = bench.chat.local
Info = chat bench reference server
AdminInfo1 = bench
AdminInfo2 = bench
AdminEMail = bench@localhost
Listen = 127.0.0.1
Ports = ${port}
PidFile = ${join(dir, 'ngircd.pid')}
MotdPhrase = bench
[Limits]
# The bench's users all come from 127.0.0.1 and send as fast as they are answered: no caps, no
# flood penalties (chat runs with --rate-limit 0 and the per-address limits off, likewise).
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
MaxNickLength = 31
MaxPenaltyTime = 0
PingTimeout = 600
PongTimeout = 600
[Options]
DNS = no
Ident = no
PAM = no
`;
}

async function accepts(port: number): Promise<boolean> {
  try {
    const socket = await Bun.connect({ hostname: '127.0.0.1', port, socket: { data() {} } });
    socket.end();
    return true;
  } catch {
    return false;
  }
}

/** Starts ngircd in the foreground (-n) and resolves once its port accepts connections. */
export async function startNgircd(binary: string, dir: string, wrap: string[] = []): Promise<Target> {
  const file = join(dir, 'ngircd.conf');
  let lastError = '';
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = freePort();
    writeFileSync(file, config(dir, port));
    const log = Bun.file(join(dir, `ngircd-${attempt}.log`));
    const proc = Bun.spawn([...wrap, binary, '-n', '-f', file], { stdin: 'ignore', stdout: log, stderr: log });
    const until = performance.now() + (wrap.length > 0 ? 120_000 : 10_000);
    while (performance.now() < until && proc.exitCode === null) {
      if (await accepts(port)) {
        return {
          kind: 'irc',
          port,
          pid: proc.pid,
          dir,
          db: '',
          async stop() {
            proc.kill('SIGTERM');
            const exited = await Promise.race([proc.exited.then(() => true), Bun.sleep(wrap.length > 0 ? 120_000 : 5000).then(() => false)]);
            if (!exited) {
              proc.kill('SIGKILL');
              await proc.exited;
            }
          },
        };
      }
      await Bun.sleep(50);
    }
    proc.kill('SIGKILL');
    await proc.exited;
    lastError = `ngircd did not accept on port ${port} (log: ${join(dir, `ngircd-${attempt}.log`)})`;
  }
  throw new Error(lastError);
}
