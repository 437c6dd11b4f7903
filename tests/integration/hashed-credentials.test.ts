// Logging in with hashed, plain and malformed credential lines, and `chat hash-credentials`.

import { afterEach, describe, expect, test } from 'bun:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';

let server: TestServer | undefined;
const clients: RawClient[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.kill();
  await server?.stop();
  server = undefined;
});

async function tryLogin(port: number, user: string, password: string): Promise<string> {
  const c = await RawClient.connect(port);
  clients.push(c);
  const first = await c.request(`login ${user}`);
  if (first.type === 'error') return String(first.code);
  return String((await c.request(`password ${password}`)).code);
}

describe('AUTH-1 credential lines: plain, hashed, malformed', () => {
  test('argon2id, bcrypt and plain lines all log in with the right password only; malformed lines are skipped', async () => {
    const argon = await Bun.password.hash('pw-argon', { algorithm: 'argon2id', memoryCost: 4096, timeCost: 1 });
    const bcrypt = await Bun.password.hash('pw-bcrypt', { algorithm: 'bcrypt', cost: 4 });
    const credentials = [`anna ${argon}`, `bert ${bcrypt}`, 'carl pw-plain', 'dora $argon2id$not-a-real-hash', 'broken', `eve ${argon} extra`].join('\n');
    server = await startTestServer({ credentials, register: false });
    // Wrong first: a successful login stays connected, and a second would be already-online.
    expect(await tryLogin(server.port, 'anna', 'pw-argon!')).toBe('wrong-password');
    expect(await tryLogin(server.port, 'anna', 'pw-argon')).toBe('welcome');
    expect(await tryLogin(server.port, 'bert', 'nope')).toBe('wrong-password');
    expect(await tryLogin(server.port, 'bert', 'pw-bcrypt')).toBe('welcome');
    expect(await tryLogin(server.port, 'carl', 'pw-plain')).toBe('welcome');
    // Not a well-formed hash, so it is a (strange) plain password.
    expect(await tryLogin(server.port, 'dora', '$argon2id$not-a-real-hash')).toBe('welcome');
    expect(await tryLogin(server.port, 'broken', 'x')).toBe('registration-closed');
    expect(await tryLogin(server.port, 'eve', 'pw-argon')).toBe('registration-closed');
  });

  test('logins stay responsive while hashes are checked: other users are served meanwhile', async () => {
    const hashed = await Bun.password.hash('slow', { algorithm: 'argon2id', memoryCost: 19456, timeCost: 2 });
    const credentials = ['hans falcon*solo', ...Array.from({ length: 8 }, (_, i) => `u${i} ${hashed}`)].join('\n');
    server = await startTestServer({ credentials });
    const hans = await RawClient.connect(server.port);
    clients.push(hans);
    await hans.login('hans', 'falcon*solo');
    let done = 0;
    const logins = Array.from({ length: 8 }, (_, i) => tryLogin(server!.port, `u${i}`, 'slow').then((code) => (done++, code)));
    // Eight argon2 checks queue two at a time; once they are queued, hans's command is still
    // answered before they are through.
    const { hashing } = server.server.state;
    while (hashing.load.waiting === 0) await Bun.sleep(1);
    expect(hashing.load.running).toBe(2);
    await hans.request('whoelse');
    expect(done).toBeLessThan(8);
    expect(await Promise.all(logins)).toEqual(Array(8).fill('welcome'));
  });
});

describe('chat hash-credentials', () => {
  test('rewrites plain passwords as argon2id hashes, keeps everything else, and logins still work', async () => {
    const dir = tempDir();
    const path = join(dir, 'credentials.txt');
    const bcrypt = await Bun.password.hash('pw-b', { algorithm: 'bcrypt', cost: 4 });
    writeFileSync(path, `hans falcon*solo\n\nbert ${bcrypt}\nnot  valid\nleia $blasterpistol$\n`);
    const { code, stdout, stderr } = await runCli(['hash-credentials', path]);
    expect(code).toBe(0);
    expect(stdout).toContain('2 passwords hashed, 1 already hashed, 1 malformed');
    expect(stderr).toContain('credentials.txt:4');
    const lines = readFileSync(path, 'utf8').split('\n');
    expect(lines[0]).toMatch(/^hans \$argon2id\$/);
    expect(lines[1]).toBe('');
    expect(lines[2]).toBe(`bert ${bcrypt}`);
    expect(lines[3]).toBe('not  valid');
    expect(lines[4]).toMatch(/^leia \$argon2id\$/);
    expect(readFileSync(path, 'utf8')).not.toContain('falcon');
    server = await startTestServer({ dir, register: false });
    expect(await tryLogin(server.port, 'hans', 'falcon*solo')).toBe('welcome');
    expect(await tryLogin(server.port, 'leia', '$blasterpistol$')).toBe('welcome');
    expect(await tryLogin(server.port, 'bert', 'pw-b')).toBe('welcome');
    // A second run has nothing to do and changes nothing.
    const before = readFileSync(path, 'utf8');
    expect((await runCli(['hash-credentials', path])).stdout).toContain('0 passwords hashed, 3 already hashed');
    expect(readFileSync(path, 'utf8')).toBe(before);
  });

  test('an unreadable file: one clear line, exit 1', async () => {
    const { code, stderr } = await runCli(['hash-credentials', join(tempDir(), 'missing.txt')]);
    expect(code).toBe(1);
    expect(stderr.trim().split('\n')).toHaveLength(1);
    expect(stderr).toContain('cannot read credentials file');
    expect(stderr).toContain('no such file');
  });
});
