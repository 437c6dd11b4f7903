// The fault test of issue 7: while senders stream messages to an online and an offline user,
// the server process is killed with SIGKILL and restarted, several times. Afterwards every
// message whose sender was told it was accepted (`delivered` or `stored`) has been shown exactly
// once by the recipient's real client, in the order each sender sent them (OFF-1, OFF-2).

import { afterAll, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Subprocess } from 'bun';
import { CHAT, STATE_DIR } from '../helpers/cli.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { tempDir } from '../helpers/test-server.ts';

const dir = tempDir();
const credentials = join(dir, 'credentials.txt');
writeFileSync(credentials, ['s1 pw', 's2 pw', 'ron pw', 'rof pw'].join('\n'));
let port = 0;
let server: Subprocess<'ignore', 'pipe', 'pipe'> | undefined;
let running = true;
const spawned: Subprocess[] = [];
afterAll(() => {
  running = false;
  for (const p of spawned) p.kill('SIGKILL');
});

async function freePort(): Promise<number> {
  const probe = Bun.listen({ hostname: '127.0.0.1', port: 0, socket: { data() {} } });
  const p = probe.port;
  probe.stop(true);
  return p;
}

async function startServer(): Promise<void> {
  const proc = Bun.spawn([...CHAT, 'serve', String(port), '60', '300', '--host', '127.0.0.1', '--credentials', credentials, '--db', join(dir, 'chat.db'), '--rate-limit', '0'], {
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  spawned.push(proc);
  const reader = proc.stdout.getReader();
  const first = new TextDecoder().decode((await reader.read()).value);
  if (!first.includes('listening')) throw new Error(`server did not start: ${first} ${await new Response(proc.stderr).text()}`);
  reader.releaseLock();
  server = proc;
}

function crash(): Promise<number> {
  server?.kill('SIGKILL');
  return server?.exited ?? Promise.resolve(0);
}

/** A sender: keeps sending `<name>:<seq>` to ron and rof, reconnecting after each crash. */
async function sender(name: string, accepted: Map<string, number[]>): Promise<void> {
  let seq = 0;
  while (running) {
    let client: RawClient;
    try {
      client = await RawClient.connect(port);
      await client.login(name, 'pw');
    } catch {
      await Bun.sleep(20);
      continue;
    }
    const inFlight = new Set<Promise<void>>();
    while (running && !client.isClosed) {
      const n = ++seq;
      const to = n % 2 === 0 ? 'ron' : 'rof';
      const sent = client.request(`message ${to} ${name}:${n}`).then(
        (reply) => {
          if (reply.type === 'ok' && (reply.code === 'delivered' || reply.code === 'stored')) accepted.get(to)?.push(n);
        },
        () => {},
      );
      inFlight.add(sent);
      void sent.finally(() => inFlight.delete(sent));
      if (inFlight.size >= 8) await Promise.race(inFlight);
    }
    await Promise.allSettled(inFlight);
    client.kill();
  }
}

/** A recipient's real client (--json), started again whenever it ends, until `stop()`. */
function recipient(name: string) {
  const shown: string[] = [];
  let stopping = false;
  let current: Subprocess<'pipe', 'pipe', 'ignore'> | undefined;
  const loop = (async () => {
    while (!stopping) {
      const proc = Bun.spawn([...CHAT, 'connect', String(port), '--json'], {
        stdin: 'pipe',
        stdout: 'pipe',
        stderr: 'ignore',
        env: { ...process.env, CHAT_STATE_DIR: STATE_DIR },
      });
      spawned.push(proc);
      current = proc;
      proc.stdin.write(`${name}\npw\n`);
      proc.stdin.flush();
      // Read as it comes: what the client has shown so far, line by line.
      const decoder = new TextDecoder();
      let partial = '';
      for await (const chunk of proc.stdout) {
        const lines = (partial + decoder.decode(chunk, { stream: true })).split('\n');
        partial = lines.pop() ?? '';
        for (const line of lines) {
          if (!line) continue;
          const event = JSON.parse(line) as { type: string; body?: string };
          if (event.type === 'message' && event.body) shown.push(event.body);
        }
      }
      await proc.exited;
      if (!stopping) await Bun.sleep(20);
    }
  })();
  return {
    shown,
    stop: async () => {
      stopping = true;
      current?.stdin.end();
      await loop;
    },
  };
}

test('SIGKILL of the server at any moment loses no accepted message, and none is shown twice', async () => {
  port = await freePort();
  await startServer();
  const accepted = new Map<string, number[]>([
    ['ron', []],
    ['rof', []],
  ]);
  const acceptedBy = { s1: new Map([['ron', [] as number[]], ['rof', [] as number[]]]), s2: new Map([['ron', [] as number[]], ['rof', [] as number[]]]) };
  const ron = recipient('ron');
  const senders = [sender('s1', acceptedBy.s1), sender('s2', acceptedBy.s2)];
  for (let round = 0; round < 5; round++) {
    await Bun.sleep(250 + round * 37);
    await crash();
    await startServer();
  }
  await Bun.sleep(250);
  running = false;
  await Promise.all(senders);
  for (const [, byTo] of Object.entries(acceptedBy)) for (const [to, seqs] of byTo) accepted.get(to)?.push(...seqs);
  expect(accepted.get('ron')?.length).toBeGreaterThan(20);
  expect(accepted.get('rof')?.length).toBeGreaterThan(20);

  // rof logs in for the first time now; ron once more, to collect what was stored for it.
  const rof = recipient('rof');
  const want = (to: 'ron' | 'rof') => Object.entries(acceptedBy).flatMap(([s, byTo]) => (byTo.get(to) ?? []).map((n) => `${s}:${n}`));
  const deadline = Date.now() + 15_000;
  for (const [r, to] of [[ron, 'ron'], [rof, 'rof']] as const) {
    while (!want(to).every((body) => r.shown.includes(body))) {
      if (Date.now() > deadline) break;
      await Bun.sleep(50);
    }
  }
  await Promise.all([ron.stop(), rof.stop()]);
  await crash();
  console.log(`accepted: ron ${want('ron').length}, rof ${want('rof').length}; shown: ron ${ron.shown.length}, rof ${rof.shown.length}`);

  for (const [r, to] of [[ron, 'ron'], [rof, 'rof']] as const) {
    // Every accepted message was shown.
    expect(want(to).filter((body) => !r.shown.includes(body))).toEqual([]);
    // Nothing was shown twice.
    expect(r.shown.length).toBe(new Set(r.shown).size);
    // In the order each sender sent them.
    for (const s of ['s1', 's2']) {
      const seqs = r.shown.filter((b) => b.startsWith(`${s}:`)).map((b) => Number(b.split(':')[1]));
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
  }
}, 40_000);

test('an account registered just before a SIGKILL is there after the restart (AUTH-3)', async () => {
  port = await freePort();
  await startServer();
  const before = await Bun.file(credentials).text();
  const c = await RawClient.connect(port);
  expect((await c.request('login newbie')).code).toBe('new-account');
  expect((await c.request('password fresh-pw')).code).toBe('welcome');
  await crash();
  c.kill();
  await startServer();
  const after = await Bun.file(credentials).text();
  expect(after.startsWith(before)).toBe(true);
  expect(after.slice(before.length)).toMatch(/^\n?newbie \$argon2id\$\S+\n$/);
  const again = await RawClient.connect(port);
  await again.login('newbie', 'fresh-pw');
  again.kill();
  await crash();
}, 15_000);
