// A load-generator process. bench/run.ts starts one or more and drives them over IPC: each command
// is one JSON object with an `id` and a `cmd`, answered by one object with the same `id`.
// A worker holds a list of simulated users (Client) on one server (or the bare relay).

import * as hdr from 'hdr-histogram-js';
import { Client, connectClient, connectClientWs, countLine, field, flusher, intAt, login, pool, presenceNames, type LineHandler } from './lib/client.ts';
import { nowMs, nowUs, sleep } from './lib/clock.ts';
import { answerPing, ircRegister, numeric, privmsgText } from './lib/irc.ts';

type Msg = Record<string, unknown> & { id: number; cmd: string };

let clients: Client[] = [];
let host = '127.0.0.1';
let port = 0;
/** What the users speak: chat's protocol, the bare relay's pairing, or IRC (ngIRCd). */
let proto: 'chat' | 'relay' | 'irc' = 'chat';
let relay = false;

function newHistogram() {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
}

function pad(chars: number): string {
  return 'x'.repeat(Math.max(1, chars - 20));
}

// ---- setup: connect and log in (or pair, on the relay) -------------------------------------------

async function setup(m: Msg): Promise<object> {
  host = m.host as string;
  port = m.port as number;
  proto = (m.proto as typeof proto | undefined) ?? 'chat';
  relay = proto === 'relay';
  const users = m.users as string[];
  const countOnly = m.countOnly === true;
  const fresh = users.map((name) => new Client(name));
  // Partners in another worker (the web scenario pairs WebSocket users with TCP users), else in pairs here.
  const partners = m.partners as string[] | undefined;
  fresh.forEach((c, i) => {
    c.partner = partners?.[i] ?? users[i ^ 1] ?? '';
    if (!partners) c.peer = fresh[i ^ 1];
  });
  const wsUrl = m.wsUrl as string | undefined;
  const started = nowMs();
  const times: number[] = [];
  // Logins in progress are bounded: a connect completes in the kernel before the server accepts it,
  // and past the listen backlog (512) SYNs are dropped and retried a second later.
  const index = new Map(fresh.map((c, i) => [c, i]));
  await pool(fresh, (m.concurrency as number) ?? 100, async (c) => {
    const t0 = nowMs();
    if (wsUrl) await connectClientWs(c, wsUrl);
    else await connectClient(c, host, port);
    if (relay) await pairOnRelay(c, `${m.tag}-${(index.get(c) as number) >> 1}`);
    else if (proto === 'irc') await ircRegister(c, ircIdleLine);
    else await login(c, m.password as string);
    c.countOnly = countOnly;
    times.push(nowMs() - t0);
  });
  clients.push(...fresh);
  times.sort((a, b) => a - b);
  return { ms: nowMs() - started, loginP50: times[Math.floor(times.length / 2)] ?? 0, loginMax: times.at(-1) ?? 0 };
}

function pairOnRelay(c: Client, key: string): Promise<void> {
  return new Promise((resolve) => {
    c.onLine = (client, line) => {
      if (line.includes('"code":"welcome"')) {
        client.welcomed = true;
        client.onLine = countLine;
        resolve();
      }
    };
    c.send(`pair ${key}\n`);
  });
}

function stats(): object {
  let lines = 0;
  let closed = 0;
  for (const c of clients) {
    lines += c.linesAfterWelcome;
    if (c.closed) closed++;
  }
  return { lines, closed, users: clients.length };
}

/** Back to line mode (after a presence flood counted in count mode has settled). */
function lineMode(): object {
  for (const c of clients) {
    c.countOnly = false;
    c.partial = '';
  }
  return {};
}

// ---- direct messages (B1, B6, the relay ceiling) and latency (B2) -----------------------------------

const MSG = '{"type":"message","id":';
let running = false;
let window = 0;
/** Messages each user sends at most (directCount: a fixed amount of work, for instruction counts). */
let sendLimit = Infinity;
let body = 'b';
let histogram: ReturnType<typeof newHistogram> | undefined;
let lastError = '';

function sendOne(c: Client): void {
  c.inflight++;
  c.sent++;
  const seq = ++c.seq;
  if (relay) {
    c.send(`{"type":"message","id":${seq},"from":"${c.name}","at":${Date.now()},"body":"b ${nowUs()} ${body}"}\n`);
  } else if (proto === 'irc') {
    c.send(`PRIVMSG ${c.partner} :b ${nowUs()} ${body}\r\n`);
  } else {
    c.send(`#${seq.toString(36)} message ${c.partner} b ${nowUs()} ${body}\n`);
  }
}

const directLine: LineHandler = (c, line) => {
  if (line.startsWith(MSG)) {
    c.received++;
    const id = intAt(line, MSG.length);
    // On the relay nobody turns an ack into "delivered": the recipient answers each message itself.
    if (relay) c.send(`{"type":"ok","re":"${id.toString(36)}","code":"delivered","id":${id},"to":"${c.name}"}\n`);
    else if (id > c.maxId) c.maxId = id;
    if (histogram) {
      if (c.chunkAt === 0) c.chunkAt = nowUs();
      const sentAt = field(line, '"body":"b ');
      if (sentAt > 0) histogram.recordValue(Math.max(1, c.chunkAt - sentAt));
    }
  } else if (line.startsWith('{"type":"ok"')) {
    if (line.includes('"code":"delivered"')) {
      c.inflight--;
      c.delivered++;
    } else if (line.includes('"code":"stored"')) {
      c.inflight--;
      c.stored++;
    }
  } else if (line.startsWith('{"type":"error"')) {
    c.inflight--;
    c.failed++;
    lastError = line;
  } else {
    c.linesAfterWelcome += presenceNames(line);
  }
};

// IRC has no delivery confirmation. The analogue of `delivered`: the recipient, in this same
// process, has the message; the sender's window opens then, with no reply crossing the server.
const ircDirectLine: LineHandler = (c, line) => {
  const text = privmsgText(line);
  if (text >= 0) {
    c.received++;
    const from = c.peer;
    if (from) {
      from.inflight--;
      from.delivered++;
    }
    if (histogram) {
      if (c.chunkAt === 0) c.chunkAt = nowUs();
      if (line.startsWith('b ', text)) histogram.recordValue(Math.max(1, c.chunkAt - intAt(line, text + 2)));
    }
  } else {
    ircIdleLine(c, line);
  }
};

/** Lines outside a measurement: PINGs answered, error replies kept (4xx/5xx, ERROR). */
const ircIdleLine: LineHandler = (c, line) => {
  if (answerPing(c, line)) return;
  const code = numeric(line);
  if ((code >= '400' && code < '600') || line.startsWith('ERROR ')) {
    c.failed++;
    lastError = line;
  } else if (line.includes(' JOIN ')) {
    c.linesAfterWelcome++;
  }
};

/** IRC: what the recipient read opens its partner's window. */
function refillPeer(c: Client): void {
  const sender = c.peer;
  if (sender && running && window > 0) while (sender.inflight < window && sender.sent < sendLimit) sendOne(sender);
}

function ackAndRefill(c: Client): void {
  if (c.maxId > c.ackedId) {
    c.send(`ack ${c.maxId}\n`);
    c.ackedId = c.maxId;
  }
  if (running && window > 0) while (c.inflight < window && c.sent < sendLimit) sendOne(c);
}

function totals(list: readonly Client[]) {
  let sent = 0;
  let received = 0;
  let delivered = 0;
  let stored = 0;
  let failed = 0;
  let inflight = 0;
  for (const c of list) {
    sent += c.sent;
    received += c.received;
    delivered += c.delivered;
    stored += c.stored;
    failed += c.failed;
    inflight += c.inflight;
  }
  return { sent, received, delivered, stored, failed, inflight };
}

function resetCounters(list: readonly Client[]): void {
  for (const c of list) {
    c.sent = c.received = c.delivered = c.stored = c.failed = c.inflight = 0;
  }
}

/** Active users are the first `active` clients (the rest stay idle and only read). */
function activeClients(m: Msg): Client[] {
  const n = (m.active as number | undefined) ?? clients.length;
  return clients.slice(0, n);
}

async function waitDrained(list: readonly Client[], ms: number): Promise<boolean> {
  const until = nowMs() + ms;
  while (nowMs() < until) {
    if (totals(list).inflight <= 0) return true;
    await sleep(20);
  }
  return false;
}

/** Line mode, with direct-message handling and acks after each chunk. */
function toDirectMode(list: readonly Client[]): void {
  for (const c of list) {
    c.countOnly = false;
    c.onLine = proto === 'irc' ? ircDirectLine : directLine;
    c.afterChunk = proto === 'irc' ? refillPeer : ackAndRefill;
  }
}

async function direct(m: Msg): Promise<object> {
  const list = activeClients(m);
  window = m.window as number;
  body = pad(m.bodyChars as number);
  histogram = undefined;
  lastError = '';
  resetCounters(list);
  toDirectMode(list);
  running = true;
  // (On IRC this only fills the window: nothing is ever acked.)
  for (const c of list) ackAndRefill(c);
  flusher.request();
  await sleep(m.warmupMs as number);
  const a = totals(list);
  const t0 = nowMs();
  await sleep((m.seconds as number) * 1000);
  const b = totals(list);
  const t1 = nowMs();
  running = false;
  const drained = await waitDrained(list, 15_000);
  const seconds = (t1 - t0) / 1000;
  return {
    seconds,
    received: b.received - a.received,
    delivered: b.delivered - a.delivered,
    receivedPerSecond: (b.received - a.received) / seconds,
    deliveredPerSecond: (b.delivered - a.delivered) / seconds,
    totals: totals(list),
    drained,
    lastError,
  };
}

/** Each user sends exactly `perUser` messages to its partner, `window` in flight; resolves when all are answered. */
async function directCount(m: Msg): Promise<object> {
  const list = activeClients(m);
  window = m.window as number;
  sendLimit = m.perUser as number;
  body = pad(m.bodyChars as number);
  histogram = undefined;
  lastError = '';
  resetCounters(list);
  toDirectMode(list);
  running = true;
  const t0 = nowMs();
  for (const c of list) ackAndRefill(c);
  const drained = await (async () => {
    const until = nowMs() + (m.timeoutMs as number);
    while (nowMs() < until) {
      const t = totals(list);
      if (t.delivered + t.stored + t.failed >= list.length * sendLimit) return true;
      await sleep(10);
    }
    return false;
  })();
  // The last acks go out with the chunk that completed the count; give them a moment to leave.
  await sleep(100);
  running = false;
  sendLimit = Infinity;
  return { ms: nowMs() - t0, drained, ...totals(list), lastError };
}

async function latency(m: Msg): Promise<object> {
  const list = activeClients(m);
  const rate = m.rate as number;
  const seconds = m.seconds as number;
  window = 0;
  body = pad(m.bodyChars as number);
  lastError = '';
  resetCounters(list);
  toDirectMode(list);
  running = true;
  // Warm-up: one second at the rate, not recorded.
  histogram = undefined;
  await pace(list, rate, Math.min(1, seconds));
  await waitDrained(list, 5_000);
  histogram = newHistogram();
  resetCounters(list);
  const t0 = nowMs();
  await pace(list, rate, seconds);
  const paced = (nowMs() - t0) / 1000;
  const drained = await waitDrained(list, 15_000);
  running = false;
  const h = histogram;
  histogram = undefined;
  const t = totals(list);
  return { offered: rate, seconds: paced, sent: t.sent, received: t.received, achieved: t.sent / paced, drained, histogram: hdr.encodeIntoCompressedBase64(h), lastError };
}

/** Sends at `rate` messages a second for `seconds`, round-robin over the users, every millisecond. */
function pace(list: readonly Client[], rate: number, seconds: number): Promise<void> {
  return new Promise((resolve) => {
    const start = nowMs();
    const total = Math.round(rate * seconds);
    let sent = 0;
    let next = 0;
    const timer = setInterval(() => {
      const due = Math.min(total, Math.floor(((nowMs() - start) * rate) / 1000));
      while (sent < due) {
        sendOne(list[next] as Client);
        next = (next + 1) % list.length;
        sent++;
      }
      if (sent >= total) {
        clearInterval(timer);
        resolve();
      }
    }, 1);
  });
}

/** Records the latency of what this worker's users receive (their senders are in another worker). */
function recordStart(): object {
  toDirectMode(clients);
  histogram = newHistogram();
  return {};
}

function recordStop(): object {
  const h = histogram ?? newHistogram();
  histogram = undefined;
  const t = totals(clients);
  return { received: t.received, histogram: hdr.encodeIntoCompressedBase64(h) };
}

// ---- broadcast (B4) -----------------------------------------------------------------------------

const BCAST = '{"type":"broadcast","id":';
/** Per broadcast id: copies received here and the latest arrival (µs since the send). */
const copies = new Map<number, { count: number; maxUs: number }>();

function countCopy(id: number, latencyUs: number): void {
  histogram?.recordValue(latencyUs);
  const entry = copies.get(id);
  if (entry) {
    entry.count++;
    if (latencyUs > entry.maxUs) entry.maxUs = latencyUs;
  } else {
    copies.set(id, { count: 1, maxUs: latencyUs });
  }
}

/** IRC: `PRIVMSG #all :b <sent µs> <index> <padding>`; the index stands in for a message id. */
const ircBroadcastLine: LineHandler = (c, line) => {
  const text = privmsgText(line);
  if (text >= 0 && line.startsWith('b ', text)) {
    if (c.chunkAt === 0) c.chunkAt = nowUs();
    const sentAt = intAt(line, text + 2);
    countCopy(intAt(line, line.indexOf(' ', text + 2) + 1), Math.max(1, c.chunkAt - sentAt));
  } else {
    ircIdleLine(c, line);
  }
};

/** IRC: everyone joins #all (the broadcast's analogue); run.ts waits for the JOIN flood to settle. */
function ircJoin(): object {
  for (const c of clients) c.send('JOIN #all\r\n');
  flusher.request();
  return {};
}

const broadcastLine: LineHandler = (c, line) => {
  if (line.startsWith(BCAST)) {
    if (c.chunkAt === 0) c.chunkAt = nowUs();
    const id = intAt(line, BCAST.length);
    countCopy(id, Math.max(1, c.chunkAt - field(line, '"body":"b ')));
  } else if (line.startsWith('{"type":"ok"') && line.includes('"code":"sent"')) {
    c.delivered++;
  } else {
    c.linesAfterWelcome += presenceNames(line);
  }
};

function broadcastListen(): object {
  histogram = newHistogram();
  copies.clear();
  for (const c of clients) {
    c.countOnly = false;
    c.partial = '';
    c.onLine = proto === 'irc' ? ircBroadcastLine : broadcastLine;
    c.afterChunk = () => {};
  }
  return {};
}

async function broadcastSend(m: Msg): Promise<object> {
  const sender = clients[0] as Client;
  const count = m.count as number;
  const text = pad(m.bodyChars as number);
  sender.delivered = 0;
  for (let i = 0; i < count; i++) {
    if (proto === 'irc') sender.send(`PRIVMSG #all :b ${nowUs()} ${i} ${text}\r\n`);
    else sender.send(`#b${i} broadcast b ${nowUs()} ${text}\n`);
    await sleep(m.intervalMs as number);
  }
  // An IRC channel message has no reply: nothing to confirm.
  if (proto === 'irc') return { sent: count, confirmed: count };
  const until = nowMs() + 10_000;
  while (sender.delivered < count && nowMs() < until) await sleep(10);
  return { sent: count, confirmed: sender.delivered };
}

function broadcastReport(): object {
  const h = histogram ?? newHistogram();
  histogram = undefined;
  return { histogram: hdr.encodeIntoCompressedBase64(h), copies: [...copies].map(([id, e]) => [id, e.count, e.maxUs]) };
}

// ---- offline messages (B5) ----------------------------------------------------------------------

async function offlineSend(m: Msg): Promise<object> {
  const to = m.to as string[];
  const perSender = m.perSender as number;
  const win = m.window as number;
  const text = pad(m.bodyChars as number);
  resetCounters(clients);
  lastError = '';
  const started = nowMs();
  let lastStoredAt = started;
  await new Promise<void>((resolve) => {
    let finished = 0;
    clients.forEach((c, index) => {
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
            if (++finished === clients.length) resolve();
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
  const t = totals(clients);
  return { seconds, stored: t.stored, delivered: t.delivered, failed: t.failed, storedPerSecond: t.stored / seconds, lastError };
}

function noAfter(): void {}

async function offlineLogin(m: Msg): Promise<object> {
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
    clients.push(c);
  }
  return { results };
}

// ---- plumbing ------------------------------------------------------------------------------------

function closeAll(): object {
  for (const c of clients) {
    c.socket?.terminate();
    c.ws?.close();
  }
  clients = [];
  return {};
}

const commands: Record<string, (m: Msg) => object | Promise<object>> = {
  setup,
  stats,
  lineMode,
  direct,
  directCount,
  latency,
  recordStart,
  recordStop,
  broadcastListen,
  ircJoin,
  broadcastSend,
  broadcastReport,
  offlineSend,
  offlineLogin,
  close: closeAll,
  exit: () => {
    closeAll();
    setTimeout(() => process.exit(0), 10);
    return {};
  },
};

process.on('message', async (m: Msg) => {
  try {
    const handler = commands[m.cmd];
    if (!handler) throw new Error(`unknown command ${m.cmd}`);
    const result = await handler(m);
    process.send?.({ id: m.id, ok: true, ...result });
  } catch (err) {
    process.send?.({ id: m.id, ok: false, error: err instanceof Error ? err.message : String(err) });
  }
});
process.send?.({ id: 0, ok: true, ready: true });
