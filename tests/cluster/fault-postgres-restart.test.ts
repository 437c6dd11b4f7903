// CLU-4 under load, PostgreSQL: PostgreSQL is stopped abruptly (immediate shutdown: every backend
// aborted, nothing flushed, recovery from the WAL at the next start) and started again, or stalled
// (SIGSTOP) and woken, in turns, while senders on two nodes message users online on both nodes and
// users who are offline, four rounds. Messages
// to online users are delivered meanwhile; a sender to an offline user waits and hears `stored` only
// after a commit (never while PostgreSQL is down); a login meanwhile is refused with one clear line.
// At the end every message whose sender was told `delivered` or `stored` is shown to its recipient
// exactly once, at once or at the next login.

import { describe, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../helpers/engines.ts';
import { useEngines } from '../helpers/use-engines.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { tempDir } from '../helpers/test-server.ts';
import { describeCount, FAULT_CREDENTIALS, FAULT_PASSWORDS, faultNodes, logIn, logInAgainAndCount, OFFLINE, ONLINE, Sender, SENDERS, type Count, until } from './fault-kit.ts';

/** Even rounds stop PostgreSQL abruptly and start it again; odd ones stall it (SIGSTOP, then SIGCONT). */
const ROUNDS = 4;

const nodes = faultNodes(() => engines.redis.url);
const engines = useEngines(import.meta.path);
const { skip } = engines;

/** One login attempt: the reply to the password, or the line the connection was closed with. */
async function tryLogin(port: number, user: string): Promise<{ client: RawClient; reply: Record<string, unknown> }> {
  const client = await RawClient.connect(port);
  await client.request(`login ${user}`);
  const reply = await client.request(`password ${FAULT_PASSWORDS[user]}`);
  return { client, reply };
}

/** The counts of the test under load, for the test after it. */
let counted: Count | undefined;

describe.skipIf(skip)('CLU-4 PostgreSQL stopped abruptly and started again, under load', () => {
  test(`immediate shutdown of PostgreSQL (and SIGSTOP), ${ROUNDS} rounds: stored only after a commit, a clear line meanwhile, nothing told delivered or stored is lost or shown twice`, async () => {
    const store = await engines.pg.createDatabase();
    const credentials = join(tempDir(), 'credentials.txt');
    writeFileSync(credentials, FAULT_CREDENTIALS);
    const ports = [freePort(), freePort()];
    await nodes.start(ports[0] as number, store, 'n1', credentials);
    await nodes.start(ports[1] as number, store, 'n2', credentials);
    const connections = new Map<string, RawClient[]>([...ONLINE, ...OFFLINE].map((u) => [u, []]));
    for (const [i, user] of ONLINE.entries()) connections.get(user)?.push(await logIn(ports[i] as number, user));
    const senderClients = await Promise.all(SENDERS.flatMap((names, i) => names.map(async (n) => [n, await logIn(ports[i] as number, n)] as const)));
    const everyone = [...ONLINE, ...SENDERS.flat()].sort();
    for (const [name, c] of senderClients) {
      await until(async () => [...((await c.request('whoelse')).users as string[]), name].sort().join() === everyone.join(), `${name} to see everyone`);
    }
    const senders: Sender[] = [];
    const notes: string[] = [];
    /** Replies `stored` heard between the crash and the restart, for messages sent after the crash: must be none. */
    let storedWhileDown = 0;
    /** Messages to offline users sent while PostgreSQL was down (what storedWhileDown looks at). */
    let sentWhileDown = 0;
    const loginsWhileDown: Record<string, unknown>[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // The first sender on each node writes to users online only (no store involved), the others to everyone.
      const roundSenders = senderClients.map(([name, c], s) => new Sender(c, `r${round}s${s}`, SENDERS.some((names) => names[0] === name) ? ONLINE : [...ONLINE, ...OFFLINE]));
      const toEveryone = roundSenders.filter((_, s) => !SENDERS.some((names) => names[0] === senderClients[s]?.[0]));
      const toOnline = roundSenders.filter((s) => !toEveryone.includes(s));
      senders.push(...roundSenders);
      const stored = (since: number) => toEveryone.every((s) => s.heard('stored', since) >= 5);
      const delivered = (since: number) => roundSenders.every((s) => s.heard('delivered', since) >= 5);
      await until(() => stored(0) && delivered(0), 'messages stored and delivered');
      const stall = round % 2 === 1;
      if (stall) engines.pg.pause();
      else await engines.pg.crash();
      const downAt = Date.now();
      // Senders to offline users wait: each has messages to them unanswered (the store cannot commit them).
      await until(() => toEveryone.every((s) => [...s.fates.values()].filter((f) => OFFLINE.includes(f.to) && f.fate === undefined).length >= 2), 'senders waiting for their messages to offline users to be stored');
      // Messages to users online are delivered meanwhile: the store has no part in them.
      await until(() => toOnline.every((s) => s.heard('delivered', downAt) >= 5), 'messages delivered while PostgreSQL is down');
      // A login meanwhile is refused with one clear line (it needs the store), and logs nobody in.
      if (!stall) {
        const { client: probe, reply } = await tryLogin(ports[round % 2] as number, 'r2d2');
        loginsWhileDown.push(reply);
        probe.kill();
      }
      const restartingAt = Date.now();
      for (const s of roundSenders) {
        for (const f of s.fates.values()) {
          if (f.sentAt <= downAt || !OFFLINE.includes(f.to)) continue;
          sentWhileDown++;
          if (f.fate === 'stored' && (f.repliedAt as number) < restartingAt) storedWhileDown++;
        }
      }
      if (stall) engines.pg.resume();
      else await engines.pg.restart();
      const upAt = Date.now();
      await until(() => stored(upAt), 'messages stored after the restart', 30_000);
      await Promise.all(roundSenders.map((s) => s.stop()));
      // Told `stored` only after the restart: those that were waiting for a commit when PostgreSQL went down.
      const waited = roundSenders.flatMap((s) => [...s.fates.values()].filter((f) => f.fate === 'stored' && (f.repliedAt as number) >= restartingAt && f.sentAt < restartingAt).map((f) => (f.repliedAt as number) - upAt));
      notes.push(`round ${round} (${stall ? 'stalled' : 'stopped'}): ${toOnline.reduce((n, s) => n + s.heard('delivered', downAt) - s.heard('delivered', restartingAt), 0)} delivered while down, ${waited.length} waited for it to be back to be told stored (the last ${Math.max(0, ...waited)} ms after)`);
    }
    // Everyone who was sent something logs in again (on the other node) and is given what was stored.
    const c = await logInAgainAndCount(senders, connections, ports);
    counted = c;
    console.log(describeCount(`CLU-4 postgres-restart (${ROUNDS} rounds)`, c, `${notes.join('; ')}; ${sentWhileDown} sent to offline users while it was down, ${storedWhileDown} of them told stored before it was back; a login while down: ${JSON.stringify(loginsWhileDown[0])}`));
    for (const [, sender] of senderClients) sender.kill();
    for (const conns of connections.values()) for (const conn of conns) conn.kill();
    const logs = nodes.logs();
    expect(logs).not.toContain('error in a handler');
    for (const reply of loginsWhileDown) expect(reply).toMatchObject({ type: 'error', code: 'busy' });
    expect(storedWhileDown).toBe(0);
    expect(c.lost).toBe(0);
    expect(c.duplicates).toBe(0);
    expect(c.refusedButArrived).toBe(0);
    expect(c.stored).toBeGreaterThan(0);
    expect(c.refused).toEqual({});
  }, 120_000);

  // CLU-3: the client shows each message once by its key (src/protocol/shown-once.ts). A message
  // stored by the sender's node (held while Redis was away, or its `delivered` lost) keeps its key
  // though it comes again with another id: none may be hidden, none shown twice. Counted apart from
  // `lost` (never reached the connection at all), asserted above.
  test('every message told delivered or stored is shown once by the client: none hidden or shown twice', () => {
    expect(counted).toBeDefined();
    expect({ hidden: counted?.hidden, duplicatesWithoutKey: counted?.duplicatesWithoutKey }).toEqual({ hidden: 0, duplicatesWithoutKey: 0 });
  });
});
