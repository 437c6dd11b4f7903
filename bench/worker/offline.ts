// Offline messages (B5): senders fill the recipients' backlogs (each reply "stored"), then each
// recipient logs in and the time until its whole backlog has arrived is measured.

import { Client, connectClient, flusher, intAt, login, type LineHandler } from '../lib/client.ts';
import { nowMs, nowUs, sleep } from '../lib/clock.ts';
import { directLine, MSG } from './direct.ts';
import { pad, resetCounters, state, totals, type Msg } from './users.ts';

export async function offlineSend(m: Msg): Promise<object> {
  const to = m.to as string[];
  const perSender = m.perSender as number;
  const win = m.window as number;
  const text = pad(m.bodyChars as number);
  resetCounters(state.clients);
  state.lastError = '';
  const started = nowMs();
  let lastStoredAt = started;
  await new Promise<void>((resolve) => {
    let finished = 0;
    state.clients.forEach((c, index) => {
      let next = index;
      const fill = () => {
        while (c.inflight < win && c.sent < perSender) {
          c.inflight++;
          c.sent++;
          c.send(`#${c.sent.toString(36)} message ${to[next++ % to.length]} b ${nowUs()} ${text}\n`);
        }
      };
      c.countOnly = false;
      c.onLine = directLine;
      c.afterChunk = (client) => {
        if (client.stored + client.failed + client.delivered >= perSender) {
          if (client.afterChunk !== noAfter) {
            client.afterChunk = noAfter;
            lastStoredAt = nowMs();
            if (++finished === state.clients.length) resolve();
          }
          return;
        }
        fill();
      };
      fill();
    });
    flusher.request();
  });
  const seconds = (lastStoredAt - started) / 1000;
  const t = totals(state.clients);
  return { seconds, stored: t.stored, delivered: t.delivered, failed: t.failed, storedPerSecond: t.stored / seconds, lastError: state.lastError };
}

function noAfter(): void {}

export async function offlineLogin(m: Msg): Promise<object> {
  const users = m.users as string[];
  const expect = m.expectEach as number;
  const results: { user: string; ms: number; received: number }[] = [];
  for (const name of users) {
    const c = new Client(name);
    await connectClient(c, m.host as string, m.port as number);
    let firstAt = 0;
    let done: () => void = () => {};
    const all = new Promise<void>((resolve) => (done = resolve));
    const t0 = nowMs();
    let lastAt = t0;
    const onLine: LineHandler = (client, line) => {
      if (line.startsWith(MSG) && line.endsWith('"offline":true}')) {
        if (client.received++ === 0) firstAt = nowMs();
        const id = intAt(line, MSG.length);
        if (id > client.maxId) client.maxId = id;
      }
    };
    c.afterChunk = (client) => {
      if (client.maxId > client.ackedId) {
        client.send(`ack ${client.maxId}\n`);
        client.ackedId = client.maxId;
      }
      if (client.received >= expect) {
        lastAt = nowMs();
        client.afterChunk = noAfter;
        done();
      }
    };
    await login(c, m.password as string, onLine);
    await Promise.race([all, sleep(30_000)]);
    results.push({ user: name, ms: (lastAt > t0 ? lastAt : nowMs()) - t0, received: c.received });
    void firstAt;
    state.clients.push(c);
  }
  return { results };
}
