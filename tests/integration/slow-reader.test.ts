// A reader that stops reading while others send it a lot (issue 7, PROTO-3 "one misbehaving client
// never affects the others"; OFF-1/OFF-2 for what it had not acknowledged). The server must bound
// what it queues for that reader, cut it off past the bound (outboxLimit), store what it had not
// acknowledged, tell the senders `stored`, and keep serving everyone else.

import { afterEach, describe, expect, test } from 'bun:test';
import { as, RawClient, type Line } from '../helpers/raw-client.ts';
import { SlowReader } from '../helpers/slow-reader.ts';
import { startTestServer, type TestServer } from '../helpers/test-server.ts';

const OUTBOX_LIMIT = 64 * 1024;
/** Far more than loopback's kernel buffers (~4 MB here) plus the outbox limit. */
const MAX_BYTES = 24 * 1024 * 1024;

let server: TestServer;
const clients: RawClient[] = [];
let reader: SlowReader | undefined;
afterEach(async () => {
  reader?.destroy();
  reader = undefined;
  for (const c of clients.splice(0)) c.kill();
  await server?.stop();
});

async function user(name: string): Promise<RawClient> {
  const c = await as(server.port, name);
  clients.push(c);
  return c;
}

/** A line received at any time, before or after the client's cursor. */
async function anywhere(client: RawClient, match: (l: Line) => boolean): Promise<Line> {
  return client.seen(match)[0] ?? (await client.waitFor(match));
}

const body = (i: number) => `m${i} ${'x'.repeat(1900)}`;

describe('a reader that keeps up', () => {
  test('is not cut off by a burst larger than the bound arriving in one turn', async () => {
    server = await startTestServer({ outboxLimit: OUTBOX_LIMIT, config: { rateLimit: 0 } });
    const hans = await user('hans');
    const luke = await user('luke');
    // ~190 KB for luke, three times the bound, sent in one write: the server reads it in a few
    // chunks and queues many messages for luke in one event-loop turn. The kernel takes them.
    let batch = '';
    for (let i = 0; i < 100; i++) batch += `#b${i} message luke ${body(i)}\n`;
    hans.write(batch);
    for (let i = 0; i < 100; i++) expect(await luke.event('message', { body: body(i) })).toBeTruthy();
    for (let i = 0; i < 100; i++) expect((await anywhere(hans, (l) => l.re === `b${i}`)).code).toBe('delivered');
    expect(luke.isClosed).toBe(false);
    expect((await luke.request('whoelse')).users).toEqual(['hans']);
  });

  test('OFF-2: more stored for it than the bound is all delivered at login, not cut off', async () => {
    server = await startTestServer({ outboxLimit: OUTBOX_LIMIT, config: { rateLimit: 0 } });
    const hans = await user('hans');
    // ~190 KB stored for luke while offline: three times the bound.
    let batch = '';
    for (let i = 0; i < 100; i++) batch += `#s${i} message luke ${body(i)}\n`;
    hans.write(batch);
    for (let i = 0; i < 100; i++) expect((await anywhere(hans, (l) => l.re === `s${i}`)).code).toBe('stored');
    const luke = await user('luke');
    for (let i = 0; i < 100; i++) expect(await luke.event('message', { body: body(i), offline: true })).toBeTruthy();
    expect((await luke.request('whoelse')).users).toEqual(['hans']);
    // Acknowledged, so removed.
    expect(await server.server.state.store.countFor('luke')).toBe(0);
    expect(luke.isClosed).toBe(false);
  });
});

describe('a reader that stops reading', () => {
  test('is cut off past the outbox bound; what it missed is stored, senders hear `stored`, others are served', async () => {
    // Thousands are stored here, past the default offline quota: this test is about the outbox, not the quota (SEC-6).
    server = await startTestServer({ outboxLimit: OUTBOX_LIMIT, config: { rateLimit: 0, offlineQuotaMessages: 0, offlineQuotaBytes: 0 } });
    const { state } = server.server;
    const hans = await user('hans');
    const yoda = await user('yoda');
    const leia = await user('leia');
    reader = await SlowReader.loginAndStop(server.port, 'luke', 'light==saber');
    await hans.presence('luke', true);
    // Every line queued for luke: how much the server holds for him at its worst.
    const outbox = state.sessions.get('luke')?.conn.outbox;
    if (!outbox) throw new Error('luke has no session');
    let maxPending = 0;
    const push = outbox.push.bind(outbox);
    outbox.push = (line: string) => {
      push(line);
      maxPending = Math.max(maxPending, outbox.pending);
    };

    let sent = 0;
    let bytes = 0;
    let round = 0;
    const latencies: number[] = [];
    while (state.sessions.has('luke')) {
      if (bytes > MAX_BYTES) throw new Error(`luke is still online after ${bytes} bytes sent to him`);
      // A batch of 100 messages (~190 KB), pipelined; replies come when each outcome is known.
      let batch = '';
      for (let i = 0; i < 100; i++, sent++) batch += `#m${sent} message luke ${body(sent)}\n`;
      hans.write(batch);
      bytes += batch.length;
      // Requests are handled in order: when this reply comes, the batch has been handled.
      expect((await hans.request('whoelse')).code).toBe('users');
      // The bystanders chat normally meanwhile.
      const started = performance.now();
      expect((await yoda.request(`message leia round ${round}`)).code).toBe('delivered');
      await leia.event('message', { from: 'yoda', body: `round ${round}` });
      latencies.push(performance.now() - started);
      round++;
    }
    // The reader did fill its bound (the kernel's buffers first), and the server never held more
    // than the bound and the one line that passed it: memory does not grow with what is sent.
    expect(maxPending).toBeGreaterThan(OUTBOX_LIMIT / 2);
    expect(maxPending).toBeLessThanOrEqual(OUTBOX_LIMIT + 2100);
    await anywhere(yoda, (l) => l.type === 'presence' && (l.users as string[]).includes('luke') && l.online === false);
    expect(state.connections).toBe(3);

    // Now offline: later messages are stored at once.
    for (let i = 0; i < 5; i++, sent++) hans.send(`#m${sent} message luke ${body(sent)}`);
    const replies: Line[] = [];
    for (let i = 0; i < sent; i++) {
      // Replies come when each outcome is known, so some came before the cursor moved on.
      const tag = `m${i}`;
      replies.push(await anywhere(hans, (l) => l.re === tag));
    }
    // Nothing was delivered (the reader acknowledged nothing); every message is stored (OFF-1).
    expect(replies.filter((r) => r.code !== 'stored')).toEqual([]);
    expect(replies.map((r) => r.id)).toEqual([...replies.map((r) => r.id as number)].sort((a, b) => a - b));
    expect(await state.store.countFor('luke')).toBe(sent);

    // Bystanders were served throughout, without waiting on the stuck reader.
    expect(Math.max(...latencies)).toBeLessThan(1000);
    expect((await leia.request('message yoda still fine')).code).toBe('delivered');
    await reader.closed;

    // At the next login, every message it missed, oldest first, marked offline (OFF-2).
    const again = await user('luke');
    const got: Line[] = [];
    for (let i = 0; i < sent; i++) got.push(await again.waitFor((l) => l.type === 'message', `stored message ${i}`, 10_000));
    expect(got.map((m) => m.body)).toEqual(Array.from({ length: sent }, (_, i) => body(i)));
    expect(got.every((m) => m.offline === true && m.from === 'hans')).toBe(true);
    // Acknowledged (autoAck) and so removed from the store.
    await again.request('whoelse');
    await hans.request('whoelse');
    expect(await state.store.countFor('luke')).toBe(0);
  }, 20_000);
});
