// SEC-5 and the TLS part of SEC-7's neighbour, item 12: with TLS, caps and deadlines apply from the
// TCP accept, before and during the handshake; failed handshakes are logged; only AEAD suites.

import { beforeAll, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { connect as tlsConnect } from 'node:tls';
import { RawClient } from '../helpers/raw-client.ts';
import { FakeClock, tempDir, useServer } from '../helpers/test-server.ts';

const { start, track } = useServer();
let tls: { cert: string; key: string };

beforeAll(() => {
  const dir = tempDir();
  const made = Bun.spawnSync(['bash', join(import.meta.dir, '../../scripts/make-cert.sh'), dir]);
  if (!made.success) throw new Error(`scripts/make-cert.sh failed (is openssl installed?): ${made.stderr.toString()}`);
  tls = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
});

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(1);
  }
}

describe('SEC-5 caps and deadlines from the TCP accept, before the TLS handshake', () => {
  test('connections that never start TLS count against the per-address cap and are closed at the handshake deadline', async () => {
    const clock = new FakeClock();
    const log: string[] = [];
    const { port, server } = await start({ clock, tls, log: (l) => log.push(l), config: { maxPerAddress: 3, handshakeTimeoutMs: 5_000 } });
    // Plain TCP, silent: the TLS handshake never starts.
    const silent = await Promise.all([1, 2, 3].map(async () => track(await RawClient.connect(port))));
    await until(() => server.state.connections === 3, 'three connections counted');
    const fourth = track(await RawClient.connect(port));
    await fourth.waitClosed();
    expect(log.some((l) => l.includes('refused a connection from 127.0.0.1'))).toBe(true);
    clock.advance(5_000);
    for (const c of silent) await c.waitClosed();
    // One line for the three: a flood of them must not flood the log (LogThrottle).
    expect(log.filter((l) => l.includes('TLS handshake from 127.0.0.1 not finished within 5 s'))).toHaveLength(1);
    // Room again: a TLS client logs in.
    const hans = track(await RawClient.connect(port, '127.0.0.1', { tls: true }));
    await hans.login('hans', 'falcon*solo');
  });

  test('the total cap counts connections mid-handshake too', async () => {
    const { port, server } = await start({ tls, config: { maxConnections: 2, maxPerAddress: 0 } });
    track(await RawClient.connect(port));
    track(await RawClient.connect(port));
    await until(() => server.state.connections === 2, 'two connections counted');
    const third = track(await RawClient.connect(port, '127.0.0.1', { tls: true }));
    await third.waitClosed();
  });

  test('the login deadline runs from the accept: a TLS connection that does not log in gets a bye and is closed; the log says so', async () => {
    const clock = new FakeClock();
    const log: string[] = [];
    const { port } = await start({ clock, tls, log: (l) => log.push(l), config: { loginTimeoutMs: 20_000 } });
    const idle = track(await RawClient.connect(port, '127.0.0.1', { tls: true }));
    await idle.request('help');
    clock.advance(20_000);
    expect(await idle.event('bye')).toMatchObject({ code: 'login-timeout', text: expect.stringContaining('No login within 20 s') });
    await idle.waitClosed();
    expect(log.some((l) => l.startsWith('no login within 20 s from 127.0.0.1'))).toBe(true);
  });

  test('a failed handshake is logged in one line and the connection closed', async () => {
    const log: string[] = [];
    const { port } = await start({ tls, log: (l) => log.push(l) });
    const plain = track(await RawClient.connect(port));
    plain.send('login hans');
    await plain.waitClosed();
    await until(() => log.some((l) => l.startsWith('TLS handshake from 127.0.0.1 failed')), 'the log line');
  });
});

describe('TLS suites (issue 10 item 12)', () => {
  async function handshake(port: number, ciphers: string): Promise<string> {
    return new Promise((resolve) => {
      const socket = tlsConnect({ host: '127.0.0.1', port, rejectUnauthorized: false, ciphers, maxVersion: 'TLSv1.2' }, () => {
        resolve(socket.getCipher().name);
        socket.destroy();
      });
      socket.on('error', () => resolve('refused'));
    });
  }

  test('TLS 1.2 with CBC and SHA-1 is refused; AEAD suites are served', async () => {
    const { port } = await start({ tls });
    expect(await handshake(port, 'ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA')).toBe('refused');
    expect(await handshake(port, 'ECDHE-ECDSA-AES128-GCM-SHA256')).toBe('ECDHE-ECDSA-AES128-GCM-SHA256');
  });
});
