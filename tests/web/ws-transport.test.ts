// The web client's WebSocket without a browser (WEB-1, WEB-4): the same line protocol into the
// same session rules and limits as TCP, one line per frame; the Origin check; the page's CSP.

import { afterEach, describe, expect, test } from 'bun:test';
import { join } from 'node:path';
import { originAllowed } from '../../src/web/web-server.ts';
import { as, PASSWORDS, RawClient } from '../helpers/raw-client.ts';
import { SlowReader } from '../helpers/slow-reader.ts';
import { FakeClock, SAMPLE_CREDENTIALS, startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';
import { startServer, type RunningServer } from '../../src/server/server.ts';

let server: TestServer | undefined;
const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.kill();
  await server?.stop();
  server = undefined;
});

async function start(config: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
  server = await startTestServer({ ...config, web: true });
  return server;
}

async function ws(headers: Record<string, string> = {}): Promise<RawClient> {
  const c = await RawClient.connectWs(server?.wsUrl as string, headers);
  clients.push(c);
  return c;
}

async function webUser(name: string): Promise<RawClient> {
  const c = await ws();
  await c.login(name, PASSWORDS[name] as string);
  return c;
}

async function tcpUser(name: string): Promise<RawClient> {
  const c = await as((server as TestServer).port, name);
  clients.push(c);
  return c;
}

describe('WEB-1 the WebSocket carries the line protocol into the same session', () => {
  test('WEB-1 a web user and a TCP user message each other both ways, with presence and acks', async () => {
    await start();
    const yoda = await tcpUser('yoda');
    const hans = await webUser('hans');
    await yoda.presence('hans', true);
    expect(await hans.request('whoelse')).toMatchObject({ code: 'users', users: ['yoda'] });
    expect(await hans.request('message yoda from the browser')).toMatchObject({ code: 'delivered', to: 'yoda' });
    expect(await yoda.event('message')).toMatchObject({ from: 'hans', body: 'from the browser' });
    expect(await yoda.request('message hans from the terminal')).toMatchObject({ code: 'delivered', to: 'hans' });
    expect(await hans.event('message')).toMatchObject({ from: 'yoda', body: 'from the terminal' });
    // Each frame from the server is exactly one JSON line, with no LF in it.
    expect(hans.received.split('\n').filter((l) => l !== '').every((l) => JSON.parse(l).type)).toBe(true);
    hans.kill();
    await yoda.presence('hans', false);
  });

  test('WEB-1 one session per user across transports: a web login while online on TCP is refused (AUTH-5)', async () => {
    await start();
    await tcpUser('hans');
    const web = await ws();
    await web.request('login hans');
    expect(await web.request(`password ${PASSWORDS.hans}`)).toMatchObject({ type: 'error', code: 'already-online' });
  });

  test('WEB-1 a frame over the line limit is refused with line-too-long and the connection closed; others go on', async () => {
    await start();
    const yoda = await tcpUser('yoda');
    const hans = await webUser('hans');
    hans.write(`message yoda ${'x'.repeat(9000)}`);
    expect(await hans.event('error', { code: 'line-too-long' })).toBeDefined();
    await hans.waitClosed();
    expect(await yoda.request('whoelse')).toMatchObject({ code: 'users' });
  });

  test('WEB-1 a frame over the WebSocket payload limit is closed by the server without harm', async () => {
    await start();
    const hans = await webUser('hans');
    hans.write(`message yoda ${'x'.repeat(100_000)}`);
    await hans.waitClosed();
    expect(hans.closeCode).toBe(1009);
    const again = await webUser('hans');
    expect(await again.request('whoelse')).toMatchObject({ code: 'users' });
  });

  test('WEB-1 the command rate limit applies over the WebSocket', async () => {
    await start({ config: { rateLimit: 2 } });
    const hans = await webUser('hans');
    // A burst of 5 s worth (10) passes; the next ones are refused, and far more closes the connection.
    const replies = await Promise.all(Array.from({ length: 14 }, () => hans.request('whoelse')));
    expect(replies.filter((r) => r.code === 'rate-limited').length).toBeGreaterThan(0);
    for (let i = 0; i < 30; i++) hans.send('whoelse');
    expect(await hans.event('error', { code: 'rate-limited', text: 'Far too many commands; closing the connection' })).toBeDefined();
    await hans.waitClosed();
  });

  test('WEB-1 connection caps count web and TCP connections together', async () => {
    await start({ config: { maxPerAddress: 2 } });
    clients.push(await RawClient.connect((server as TestServer).port));
    await ws();
    const refused = await ws();
    expect(await refused.event('error', { code: 'too-many-connections' })).toMatchObject({ text: expect.stringContaining('127.0.0.1') });
    await refused.waitClosed();
  });

  test('WEB-1 the login deadline and the inactivity timeout hold over the WebSocket', async () => {
    const clock = new FakeClock();
    await start({ clock, timeoutSeconds: 30, config: { loginTimeoutMs: 5000 } });
    const idle = await ws();
    const hans = await webUser('hans');
    clock.advance(5001);
    expect(await idle.event('bye', { code: 'login-timeout' })).toBeDefined();
    await idle.waitClosed();
    clock.advance(30_000);
    expect(await hans.event('bye', { code: 'timeout' })).toBeDefined();
    await hans.waitClosed();
  });

  test('WEB-1 invalid UTF-8 in a binary frame gets bad-utf8 and the session goes on', async () => {
    await start();
    const hans = await webUser('hans');
    hans.write(new Uint8Array([0x77, 0x68, 0xff, 0xfe]));
    expect(await hans.event('error', { code: 'bad-utf8' })).toBeDefined();
    expect(await hans.request('whoelse')).toMatchObject({ code: 'users' });
  });

  test('WEB-1 private chats: a web client cannot offer one, and asking a web user gives a clear error', async () => {
    await start();
    const yoda = await tcpUser('yoda');
    const hans = await webUser('hans');
    expect(await hans.request('p2pport 4000')).toMatchObject({ type: 'error', code: 'web-client' });
    expect(await hans.request('startprivate yoda')).toMatchObject({ type: 'error', code: 'web-client' });
    expect(await yoda.request('startprivate hans')).toMatchObject({ type: 'error', code: 'peer-unavailable', text: expect.stringContaining('web client') });
  });

  test('WEB-1 the page is served at / and /ws refuses a plain GET', async () => {
    const s = await start();
    const base = `http://127.0.0.1:${s.server.webPort}`;
    const page = await fetch(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-type')).toContain('text/html');
    const html = await page.text();
    const script = html.match(/<script[^>]*src="([^"]+)"/)?.[1];
    expect(script).toBeDefined();
    expect((await fetch(new URL(script as string, base))).status).toBe(200);
    expect((await fetch(`${base}/ws`)).status).toBe(426);
    expect((await fetch(`${base}/nothing`)).status).toBe(404);
  });

  test('WEB-1 with --tls-cert/--tls-key the page and the WebSocket are served over HTTPS/WSS', async () => {
    const dir = tempDir();
    const made = Bun.spawnSync(['bash', join(import.meta.dir, '../../scripts/make-cert.sh'), dir]);
    if (!made.success) throw new Error(`scripts/make-cert.sh failed (is openssl installed?): ${made.stderr.toString()}`);
    await Bun.write(join(dir, 'credentials.txt'), SAMPLE_CREDENTIALS);
    const running: RunningServer = await startServer({
      port: 0,
      host: '127.0.0.1',
      blockDurationMs: 60_000,
      timeoutMs: 300_000,
      credentials: join(dir, 'credentials.txt'),
      db: ':memory:',
      tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') },
      web: { port: 0 },
    });
    try {
      const ca = await Bun.file(join(dir, 'cert.pem')).text();
      const page = await fetch(`https://127.0.0.1:${running.webPort}/`, { tls: { ca } });
      expect(page.status).toBe(200);
      const plain = await fetch(`http://127.0.0.1:${running.webPort}/`).then(() => 'answered', () => 'refused');
      expect(plain).toBe('refused');
      const wss = new WebSocket(`wss://127.0.0.1:${running.webPort}/ws`, { tls: { rejectUnauthorized: false } } as unknown as string[]);
      const first = await new Promise<string>((resolve, reject) => {
        wss.onopen = () => wss.send('login hans');
        wss.onmessage = (e) => resolve(String(e.data));
        wss.onerror = () => reject(new Error('wss failed'));
      });
      expect(JSON.parse(first)).toMatchObject({ type: 'ok', code: 'password', user: 'hans' });
      wss.close();
    } finally {
      await running.stop();
    }
  });
});

describe('WEB-4 Origin check and Content-Security-Policy', () => {
  test('WEB-4 a WebSocket from another origin is refused before the upgrade; same origin and no origin are let in', async () => {
    const s = await start();
    const port = s.server.webPort;
    await expect(ws({ origin: 'http://evil.example' })).rejects.toThrow();
    await expect(ws({ origin: `https://127.0.0.1:${port}` })).rejects.toThrow();
    const res = await fetch(`http://127.0.0.1:${port}/ws`, { headers: { origin: 'http://evil.example', connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' } });
    expect(res.status).toBe(403);
    const same = await ws({ origin: `http://127.0.0.1:${port}` });
    expect(await same.request('login hans')).toMatchObject({ code: 'password' });
    const none = await ws();
    expect(await none.request('login yoda')).toMatchObject({ code: 'password' });
  });

  test('WEB-4 originAllowed: same host and scheme only', () => {
    expect(originAllowed(null, 'a:1', false)).toBe(true);
    expect(originAllowed('http://a:1', 'a:1', false)).toBe(true);
    expect(originAllowed('https://a:1', 'a:1', true)).toBe(true);
    expect(originAllowed('http://a:1', 'a:1', true)).toBe(false);
    expect(originAllowed('http://a:2', 'a:1', false)).toBe(false);
    expect(originAllowed('http://b:1', 'a:1', false)).toBe(false);
    expect(originAllowed('null', 'a:1', false)).toBe(false);
    expect(originAllowed('http://a:1', null, false)).toBe(false);
  });

  test("WEB-4 the page has a Content-Security-Policy of 'self', no inline script or style, and no password field kept", async () => {
    const s = await start();
    const html = await (await fetch(`http://127.0.0.1:${s.server.webPort}/`)).text();
    const csp = html.match(/<meta http-equiv="Content-Security-Policy" content="([^"]+)"/)?.[1];
    expect(csp).toContain("default-src 'self'");
    expect(csp).not.toContain('unsafe');
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    expect(html).not.toMatch(/\son\w+=/i);
    expect(html).not.toMatch(/<style/);
    // Bun's 404 and our own responses carry the header too.
    expect((await fetch(`http://127.0.0.1:${s.server.webPort}/nothing`)).headers.get('content-security-policy')).toBe("default-src 'self'");
  });
});

describe('WEB-1 a slow reader over the WebSocket', () => {
  test('WEB-1 is cut off past the outbox bound (what the WebSocket holds counts); senders hear stored; others are served', async () => {
    const s = await start({ outboxLimit: 64 * 1024, config: { rateLimit: 0 } });
    const { state } = s.server;
    const hans = await tcpUser('hans');
    const yoda = await tcpUser('yoda');
    const reader = await SlowReader.loginAndStopWs(s.server.webPort as number, 'luke', PASSWORDS.luke as string);
    try {
      await hans.presence('luke', true);
      let sent = 0;
      while (state.sessions.has('luke')) {
        if (sent > 20_000) throw new Error(`luke is still online after ${sent} messages of 1900 characters`);
        let batch = '';
        for (let i = 0; i < 100; i++, sent++) batch += `#m${sent} message luke m${sent} ${'x'.repeat(1900)}\n`;
        hans.write(batch);
        expect((await hans.request('whoelse')).code).toBe('users');
        expect((await yoda.request('whoelse')).code).toBe('users');
      }
      // (A paused socket never reads the server's close: the others are told instead.)
      const loggedOut = (l: { type: string; online?: unknown; users?: unknown }) => l.type === 'presence' && l.online === false && (l.users as string[]).includes('luke');
      if (yoda.seen(loggedOut).length === 0) await yoda.waitFor(loggedOut, 'presence luke out');
      // Nothing was acknowledged by the reader: every message it was sent is stored for it (OFF-1).
      for (let i = 0; i < sent; i++) {
        const tag = `m${i}`;
        const reply = hans.seen((l) => l.re === tag)[0] ?? (await hans.waitFor((l) => l.re === tag));
        expect(reply.code).toBe('stored');
      }
      expect(await state.store.countFor('luke')).toBe(sent);
    } finally {
      reader.destroy();
    }
  }, 20_000);
});
