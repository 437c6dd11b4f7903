// SEC-4 over real sockets and processes: registrations survive `chat hash-credentials` run beside
// a live server, and a stored message never goes to a later account that takes the same name.

import { describe, expect, test } from 'bun:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { runCli } from '../helpers/cli.ts';
import { as, RawClient } from '../helpers/raw-client.ts';
import { startTestServer, tempDir, useServer } from '../helpers/test-server.ts';

const { start, track } = useServer();

async function register(port: number, name: string): Promise<boolean> {
  const c = await RawClient.connect(port);
  try {
    const first = await c.request(`login ${name}`);
    if (first.code !== 'new-account') return false;
    return (await c.request('password correct-horse')).code === 'welcome';
  } finally {
    c.kill();
  }
}

describe('SEC-4 an acknowledged registration is never lost', () => {
  test('chat hash-credentials on a live server: every account registered meanwhile is in the file afterwards', async () => {
    const plain = Array.from({ length: 40 }, (_, i) => `old${i} password${i}`).join('\n');
    const { port, credentialsPath } = await start({ credentials: `${plain}\n`, config: { registrationsPerAddress: 0, registrationsTotal: 0 } });
    const registered: string[] = [];
    let running = true;
    const loops = Array.from({ length: 3 }, async (_, loop) => {
      for (let i = 0; running || i < 5; i++) {
        const name = `new${loop}x${i}`;
        if (await register(port, name)) registered.push(name);
      }
    });
    const hashing = runCli(['hash-credentials', credentialsPath], { timeoutMs: 30_000 });
    const { code, stdout } = await hashing;
    running = false;
    await Promise.all(loops);
    expect(code).toBe(0);
    expect(stdout).toContain('40 passwords hashed');
    expect(registered.length).toBeGreaterThan(15);
    const names = new Set(readFileSync(credentialsPath, 'utf8').split('\n').map((l) => l.split(' ')[0]));
    expect(registered.filter((n) => !names.has(n))).toEqual([]);
    expect(readFileSync(credentialsPath, 'utf8')).not.toContain('password1');
  }, 40_000);
});

describe('SEC-4 a stored message goes only to the account it was sent to', () => {
  test('the account line is lost, a stranger registers the same name after a restart: the old message is not theirs', async () => {
    const dir = tempDir();
    let server = await startTestServer({ dir });
    expect(await register(server.port, 'obiwan')).toBe(true);
    const yoda = await as(server.port, 'yoda');
    expect(await yoda.request('message obiwan the plans are in the droid')).toMatchObject({ code: 'stored' });
    yoda.kill();
    await server.stop();
    // The line disappears from the file (an editor, a rewrite that raced a registration, ...).
    const file = `${dir}/credentials.txt`;
    writeFileSync(file, readFileSync(file, 'utf8').split('\n').filter((l) => !l.startsWith('obiwan ')).join('\n'));
    server = await startTestServer({ dir });
    try {
      const stranger = track(await RawClient.connect(server.port));
      expect((await stranger.request('login obiwan')).code).toBe('new-account');
      expect((await stranger.request('password not-the-owner')).code).toBe('welcome');
      await stranger.request('whoelse');
      expect(stranger.seen((l) => l.type === 'message')).toEqual([]);
      expect(await server.server.state.store.countFor('obiwan')).toBe(0);
    } finally {
      await server.stop();
    }
  });
});

describe('SEC-3 new usernames come from a safe set', () => {
  async function tryRegister(port: number, name: string): Promise<{ code: string; text: string }> {
    const c = track(await RawClient.connect(port));
    const reply = await c.request(`login ${name}`);
    return { code: String(reply.code), text: String(reply.text) };
  }

  test('look-alike, invisible, bidi, fullwidth and path-like names are refused with a reason; nothing is written', async () => {
    const { port, credentialsPath } = await start();
    const before = readFileSync(credentialsPath, 'utf8');
    const cases: [string, string][] = [
      ['h\u0430ns', 'mixes scripts'],
      ['hans\u200b', 'invisible'],
      ['\u200b\u200b', 'invisible'],
      ['\u3164\u3164', 'invisible'],
      ['\uff28\uff21\uff2e\uff33', 'compatibility characters'],
      ['\u202eleia', 'bidi'],
      ['../../etc/passwd', 'letters, digits'],
      ['ju\u0308rgen', 'NFC'],
      ['\u0430\u0441\u0435', 'looks like a Latin one'],
      ['x', 'at least 2 characters'],
    ];
    for (const [name, reason] of cases) {
      const { code, text } = await tryRegister(port, name);
      expect({ name, code }).toEqual({ name, code: 'bad-username' });
      expect(text).toContain(reason);
    }
    expect(readFileSync(credentialsPath, 'utf8')).toBe(before);
  });

  test('a name that differs from an existing one only by case or look-alike letters is refused; logins stay case-sensitive', async () => {
    const { port } = await start();
    for (const name of ['Hans', 'HANS', 'y0da', 'Ieia', 'Iuke', 'vadеr']) {
      const { code } = await tryRegister(port, name);
      expect({ name, code }).toEqual({ name, code: name === 'vadеr' ? 'bad-username' : 'name-taken' });
    }
    expect((await tryRegister(port, 'Hans')).text).toContain('too much like the existing "hans"');
    // Real new names are fine: other scripts, CJK with Latin, digits.
    for (const name of ['jürgen', 'Дмитрий', '山田taro', 'r2d2']) expect((await tryRegister(port, name)).code).toBe('new-account');
  });

  test('a new password needs MIN_PASSWORD_CHARS; the connection may try a longer one', async () => {
    const { port } = await start();
    const c = track(await RawClient.connect(port));
    await c.request('login padme');
    expect(await c.request('password short')).toMatchObject({ type: 'error', code: 'password-too-short' });
    expect(await c.request('password long-enough')).toMatchObject({ code: 'welcome' });
  });

  test('existing accounts in the file keep working whatever they look like', async () => {
    const credentials = 'x shortpw\n\uff28\uff21\uff2e\uff33 fullwidth\nHans upper\nhans lower\n';
    const { port } = await start({ credentials, register: false });
    for (const [name, password] of [['x', 'shortpw'], ['\uff28\uff21\uff2e\uff33', 'fullwidth'], ['Hans', 'upper'], ['hans', 'lower']] as const) {
      const c = track(await RawClient.connect(port));
      await c.login(name, password);
    }
  });
});
