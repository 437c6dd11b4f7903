// CLU-5, the lines that wait while a node is stopped: a client on a node paused (SIGSTOP) past its
// lease keeps typing; its lines wait in the socket. The user logs in again on the other node. When the
// paused node wakes (SIGCONT) it must act on none of those lines before the lease check fences it:
// nothing the old connection sent may reach anyone while the user is online on the other node.

import { afterAll, describe, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../helpers/engines.ts';
import { useEngines } from '../helpers/use-engines.ts';
import { as, PASSWORDS, RawClient } from '../helpers/raw-client.ts';
import { SAMPLE_CREDENTIALS, tempDir } from '../helpers/test-server.ts';
import { faultNodes, logIn } from './fault-kit.ts';

const clients: RawClient[] = [];
afterAll(() => {
  for (const c of clients) c.kill();
});
const nodes = faultNodes(() => engines.redis.url);
const engines = useEngines(import.meta.path);
const { skip } = engines;

describe.skipIf(skip)('CLU-5 lines sent to a paused node', () => {
  test('a woken node acts on none of the lines that waited while it was stopped: nothing reaches the recipient, nothing is acknowledged', async () => {
    const store = await engines.pg.createDatabase();
    const credentials = join(tempDir(), 'credentials.txt');
    writeFileSync(credentials, SAMPLE_CREDENTIALS);
    const [p1, p2] = [freePort(), freePort()];
    const paused = await nodes.start(p1, store, 'q1', credentials);
    await nodes.start(p2, store, 'q2', credentials);
    const hans = await as(p2, 'hans');
    clients.push(hans);
    const before = await as(p1, 'leia');
    clients.push(before);
    await hans.presence('leia', true);
    // The route works before the pause.
    expect((await before.request('message hans before the pause')).code).toBe('delivered');
    paused.kill('SIGSTOP');
    for (let i = 0; i < 5; i++) before.send(`#q${i} message hans queued-${i}`);
    before.send('#qb broadcast queued-broadcast');
    const after = await logIn(p2, 'leia');
    clients.push(after);
    paused.kill('SIGCONT');
    await before.waitClosed(10_000);
    // A marker sent from the woken node after it rejoined travels the same road (q1's stream entries
    // to q2, read in order): once hans has it, anything the woken node sent before it has arrived too.
    const yoda = await logIn(p1, 'yoda');
    clients.push(yoda);
    expect((await yoda.request('message hans marker')).code).toBe('delivered');
    await hans.waitFor((l) => l.type === 'message' && l.body === 'marker', 'the marker');
    const reached = hans.lines.filter((l) => (l.type === 'message' || l.type === 'broadcast') && String(l.body).startsWith('queued')).map((l) => l.body);
    expect(reached).toEqual([]);
    // The old connection was told no success for any of them (an error, or nothing before its bye).
    const replies = before.lines.filter((l) => typeof l.re === 'string' && l.re.startsWith('q'));
    expect(replies.filter((l) => l.type !== 'error')).toEqual([]);
    expect(before.lines.at(-1)).toMatchObject({ type: 'bye', code: 'shutdown' });
    after.kill();
  }, 60_000);
});
