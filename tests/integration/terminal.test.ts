// The client on a real pseudo-terminal: the line editor (CLI-1), colours (CLI-2), help,
// completion and history (CLI-3), and the password prompt (AUTH-2).

import { afterEach, describe, expect, test } from 'bun:test';
import { KEY, PtyClient } from '../helpers/pty-client.ts';
import { as, RawClient } from '../helpers/raw-client.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

let server: TestServer;
const raws: RawClient[] = [];
const ptys: PtyClient[] = [];
afterEach(async () => {
  for (const p of ptys.splice(0)) p.kill();
  for (const r of raws.splice(0)) r.kill();
  await server?.stop();
});

async function pty(options: ConstructorParameters<typeof PtyClient>[1] = {}): Promise<PtyClient> {
  const p = new PtyClient(server.port, options);
  ptys.push(p);
  return p;
}
async function rawUser(name: string): Promise<RawClient> {
  const r = await as(server.port, name);
  raws.push(r);
  return r;
}

describe('AUTH-2 on a terminal', () => {
  test('the password is not echoed', async () => {
    server = await startTestServer();
    const hans = await pty();
    await hans.login('hans', 'falcon*solo');
    expect(hans.text()).not.toContain('falcon');
    expect(hans.raw).not.toContain('falcon');
  });
});

describe('CLI-1 incoming lines appear above the line being typed', () => {
  test('a message arriving mid-line leaves the half-typed text intact, and Enter sends all of it', async () => {
    server = await startTestServer();
    const yoda = await rawUser('yoda');
    const hans = await pty();
    await hans.login('hans', 'falcon*solo');
    hans.type('message yoda half of what I me');
    await hans.waitFor(() => hans.cursorRow() === '> message yoda half of what I me');
    await yoda.request('message hans an interruption 🙂');
    await yoda.request('broadcast and another');
    await hans.waitFor('yoda: an interruption 🙂');
    await hans.waitFor('yoda to everyone: and another');
    expect(hans.cursorRow()).toBe('> message yoda half of what I me');
    const lines = hans.lines();
    const prompt = lines.indexOf('> message yoda half of what I me');
    const interruption = lines.findIndex((l) => l.includes('yoda: an interruption'));
    expect(interruption).toBeGreaterThan(-1);
    expect(interruption).toBeLessThan(prompt);
    // Nothing of the half line was left behind on other rows.
    expect(lines.filter((l) => l.includes('half of what')).length).toBe(1);
    hans.type(`ant${KEY.enter}`);
    expect(await yoda.event('message', { from: 'hans' })).toMatchObject({ body: 'half of what I meant' });
  });

  test('a half-typed line that wraps over several rows survives too', async () => {
    server = await startTestServer();
    const yoda = await rawUser('yoda');
    const hans = await pty({ cols: 40 });
    await hans.login('hans', 'falcon*solo');
    const long = 'message yoda this line is far too long for one forty-column row';
    hans.type(long);
    await hans.waitFor(() => hans.text().replace(/\n/g, '').includes(long));
    await yoda.request('message hans ping');
    await hans.waitFor('yoda: ping');
    const joined = hans.lines().join('');
    expect(joined).toContain(`> ${long}`);
    expect(joined.split('far too long').length).toBe(2);
    hans.type(KEY.enter);
    expect(await yoda.event('message', { from: 'hans' })).toMatchObject({ body: long.slice('message yoda '.length) });
  });
});

describe('CLI-2 colours', () => {
  test('on a terminal: names in a stable colour per user, errors in red, timestamps', async () => {
    server = await startTestServer();
    const yoda = await rawUser('yoda');
    const hans = await pty();
    await hans.login('hans', 'falcon*solo');
    await yoda.request('message hans one');
    await yoda.request('message hans two');
    await hans.waitFor('yoda: two');
    const named = [...hans.raw.matchAll(/(\x1b\[[0-9;]*m)+yoda(\x1b\[[0-9;]*m)+: (one|two)/g)].map((m) => m[0].split('yoda')[0]);
    expect(named).toHaveLength(2);
    expect(named[0]).toBe(named[1] as string);
    expect(named[0]).toMatch(/\x1b\[3[1-6]m/);
    hans.type(`message nobody x${KEY.enter}`);
    await hans.waitFor('There is no user called nobody');
    // A refused message is shown in red with its reason (CLI-8).
    expect(hans.raw).toMatch(/\x1b\[31mhans → nobody: x  ✗ not sent: There is no user called nobody/);
    expect(hans.text()).toMatch(/\d\d:\d\d yoda: two/);
  });

  test('NO_COLOR turns colours off', async () => {
    server = await startTestServer();
    const yoda = await rawUser('yoda');
    const hans = await pty({ env: { NO_COLOR: '1' } });
    await hans.login('hans', 'falcon*solo');
    await yoda.request('message hans plain please');
    await hans.waitFor('yoda: plain please');
    expect(hans.raw).not.toMatch(/\x1b\[3\dm/);
  });
});

describe('CLI-3 help, completion, history', () => {
  test('help lists the commands with their arguments; help <command> explains one', async () => {
    server = await startTestServer();
    const hans = await pty({ rows: 40 });
    await hans.login('hans', 'falcon*solo');
    hans.type(`help${KEY.enter}`);
    await hans.waitFor('private <user> <text>');
    for (const usage of ['message <user> <text>', 'broadcast <text>', 'whoelsesince <seconds>', 'block <user>', 'startprivate <user>', 'logout']) {
      expect(hans.text()).toContain(usage);
    }
    hans.type(`help whoelsesince${KEY.enter}`);
    await hans.waitFor('list the users online within the last <seconds>');
  });

  test('tab completes command names and online usernames', async () => {
    server = await startTestServer();
    await rawUser('yoda');
    const hans = await pty();
    await hans.login('hans', 'falcon*solo');
    hans.type(`whoel${KEY.tab}`);
    await hans.waitFor(() => hans.cursorRow() === '> whoelse');
    hans.type('\x15'); // Ctrl-U: clear the line
    hans.type(`message y${KEY.tab}`);
    await hans.waitFor(() => hans.cursorRow() === '> message yoda');
    hans.type(`hi${KEY.enter}`);
    await hans.waitFor(() => hans.cursorRow() === '>');
  });

  test('up recalls the previous command', async () => {
    server = await startTestServer();
    const hans = await pty();
    await hans.login('hans', 'falcon*solo');
    hans.type(`whoelsesince 60${KEY.enter}`);
    await hans.waitFor('Nobody else online in the last 60 s');
    hans.type(KEY.up);
    await hans.waitFor(() => hans.cursorRow() === '> whoelsesince 60');
  });

  test.each([['Ctrl-D', KEY.ctrlD], ['Ctrl-C', KEY.ctrlC]])('%s logs out cleanly', async (_name, key) => {
    server = await startTestServer();
    const yoda = await rawUser('yoda');
    const hans = await pty();
    await hans.login('hans', 'falcon*solo');
    hans.type(key);
    expect(await hans.exited).toBe(0);
    await hans.waitFor('Goodbye, hans');
    await yoda.presence('hans', false);
  });
});
