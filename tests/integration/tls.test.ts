// TLS end to end: chat serve --tls-cert/--tls-key, chat connect --tls [--ca].

import { afterEach, beforeAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { LiveClient, runCli } from '../helpers/cli.ts';
import { SAMPLE_CREDENTIALS, tempDir } from '../helpers/test-server.ts';
import { startServer, type RunningServer } from '../../src/server/server.ts';

let dir: string;
let cert: string;
let key: string;
let server: RunningServer | undefined;
let logs: string[] = [];
const lives: LiveClient[] = [];

beforeAll(async () => {
  dir = tempDir();
  const made = Bun.spawnSync(['bash', join(import.meta.dir, '../../scripts/make-cert.sh'), dir]);
  if (!made.success) throw new Error(`scripts/make-cert.sh failed (is openssl installed?): ${made.stderr.toString()}`);
  cert = join(dir, 'cert.pem');
  key = join(dir, 'key.pem');
  await Bun.write(join(dir, 'credentials.txt'), SAMPLE_CREDENTIALS);
});
afterEach(async () => {
  for (const c of lives.splice(0)) c.kill();
  await server?.stop();
  server = undefined;
  logs = [];
});

async function serve(tls: boolean): Promise<RunningServer> {
  server = await startServer({
    port: 0,
    host: '127.0.0.1',
    blockDurationMs: 60_000,
    timeoutMs: 300_000,
    credentials: join(dir, 'credentials.txt'),
    db: ':memory:',
    tls: tls ? { cert, key } : undefined,
    log: (line) => logs.push(line),
  });
  return server;
}

function client(port: number, args: string[]): LiveClient {
  const c = new LiveClient(port, args);
  lives.push(c);
  return c;
}

describe('TLS', () => {
  test('two clients chat over TLS, trusting the self-signed certificate with --ca', async () => {
    const { port } = await serve(true);
    expect(logs.some((l) => l.includes('plain text'))).toBe(false);
    const yoda = client(port, ['--tls', '--ca', cert]);
    await yoda.logIn('yoda', 'wise@!man');
    const { code, stdout } = await runCli(['connect', String(port), '--tls', '--ca', cert], { stdin: 'hans\nfalcon*solo\nwhoelse\nmessage yoda over TLS 🔒\n' });
    expect(code).toBe(0);
    expect(stdout).toContain('1 user online now: yoda');
    await yoda.waitFor('hans: over TLS 🔒');
  });

  test('the bytes on the wire are not the protocol', async () => {
    const { port } = await serve(true);
    let received = '';
    let onClose!: () => void;
    const closed = new Promise<void>((r) => (onClose = r));
    // A plain TCP client speaking the protocol gets nothing it can read, and is dropped.
    const socket = await Bun.connect({ hostname: '127.0.0.1', port, socket: { data: (_s, d) => void (received += Buffer.from(d).toString('latin1')), close: () => onClose(), error: () => onClose() } });
    socket.write('login hans\n');
    await closed;
    expect(received).not.toContain('password');
  });

  test('a plain client is told the server closed the connection and that it may need --tls', async () => {
    const { port } = await serve(true);
    const { code, stdout } = await runCli(['connect', String(port)], { stdin: 'hans\nfalcon*solo\n' });
    expect(code).toBe(1);
    expect(stdout).toContain('does it need --tls?');
  });

  test('without --ca the self-signed certificate is refused: one line, exit 1', async () => {
    const { port } = await serve(true);
    const { code, stdout } = await runCli(['connect', String(port), '--tls'], { stdin: 'hans\nfalcon*solo\n' });
    expect(code).toBe(1);
    expect(stdout).toContain('is not trusted: self signed certificate (pass --ca with its certificate)');
  });

  test('a certificate for another name is refused', async () => {
    const other = tempDir();
    Bun.spawnSync(['bash', join(import.meta.dir, '../../scripts/make-cert.sh'), other]);
    const { port } = await serve(true);
    const { code, stdout } = await runCli(['connect', String(port), '--tls', '--ca', join(other, 'cert.pem')], { stdin: 'hans\nfalcon*solo\n' });
    expect(code).toBe(1);
    expect(stdout).toContain('is not trusted');
  });

  test('a TLS client at a plain server is told it does not speak TLS', async () => {
    const { port } = await serve(false);
    const { code, stdout } = await runCli(['connect', String(port), '--tls', '--ca', cert], { stdin: 'hans\nfalcon*solo\n' });
    expect(code).toBe(1);
    expect(stdout).toContain('does not speak TLS');
  });

  test('without TLS the server says once, at start-up, that traffic is plain text', async () => {
    await serve(false);
    expect(logs.filter((l) => l.includes('plain text'))).toHaveLength(1);
  });

  test('command line: --tls-cert needs --tls-key (exit 2); an unreadable certificate is one clear line (exit 1)', async () => {
    const half = await runCli(['serve', '0', '60', '300', '--tls-cert', cert, '--db', ':memory:'], { cwd: dir });
    expect(half.code).toBe(2);
    expect(half.stderr).toContain('--tls-cert and --tls-key go together');
    const missing = await runCli(['serve', '0', '60', '300', '--tls-cert', join(dir, 'nope.pem'), '--tls-key', key, '--db', ':memory:'], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('cannot read the TLS certificate');
    expect(missing.stderr).not.toMatch(/\n\s+at /);
    const ca = await runCli(['connect', '5000', '--ca', cert]);
    expect(ca.code).toBe(2);
    expect(ca.stderr).toContain('--ca goes with --tls');
  });
});
