// Direct messages (B1, B6, the relay ceiling) and latency (B2): each user keeps a window in flight
// to its partner, or the users send at a paced rate while the recipients record the latency.

import * as hdr from 'hdr-histogram-js';
import { type Client, field, flusher, intAt, presenceNames, type LineHandler } from '../lib/client.ts';
import { nowMs, nowUs, sleep } from '../lib/clock.ts';
import { privmsgText } from '../lib/irc.ts';
import { activeClients, ircIdleLine, newHistogram, pad, resetCounters, state, totals, waitDrained, type Msg } from './users.ts';

export const MSG = '{"type":"message","id":';
let running = false;
let window = 0;
/** Messages each user sends at most (directCount: a fixed amount of work, for instruction counts). */
let sendLimit = Infinity;
let body = 'b';

function sendOne(c: Client): void {
  c.inflight++;
  c.sent++;
  const seq = ++c.seq;
  if (state.relay) {
    c.send(`{"type":"message","id":${seq},"from":"${c.name}","at":${Date.now()},"body":"b ${nowUs()} ${body}"}\n`);
  } else if (state.proto === 'irc') {
    c.send(`PRIVMSG ${c.partner} :b ${nowUs()} ${body}\r\n`);
  } else {
    c.send(`#${seq.toString(36)} message ${c.partner} b ${nowUs()} ${body}\n`);
  }
}

export const directLine: LineHandler = (c, line) => {
  if (line.startsWith(MSG)) {
    c.received++;
    const id = intAt(line, MSG.length);
    // On the relay nobody turns an ack into "delivered": the recipient answers each message itself.
    if (state.relay) c.send(`{"type":"ok","re":"${id.toString(36)}","code":"delivered","id":${id},"to":"${c.name}"}\n`);
    else if (id > c.maxId) c.maxId = id;
    if (state.histogram) {
      if (c.chunkAt === 0) c.chunkAt = nowUs();
      const sentAt = field(line, '"body":"b ');
      if (sentAt > 0) state.histogram.recordValue(Math.max(1, c.chunkAt - sentAt));
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
    state.lastError = line;
  } else {
    c.linesAfterWelcome += presenceNames(line);
  }
};

/**
 * chat's protocol with batched `delivered` lines (bench/floors/min-server.ts `batched`): one line
 * covers "n" messages (absent: 1). Otherwise as directLine, which stays as it was for chat.
 */
const batchedDirectLine: LineHandler = (c, line) => {
  if (line.startsWith('{"type":"ok"') && line.includes('"code":"delivered"')) {
    const n = field(line, '"n":');
    const k = n < 0 ? 1 : n;
    c.inflight -= k;
    c.delivered += k;
  } else {
    directLine(c, line);
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
    if (state.histogram) {
      if (c.chunkAt === 0) c.chunkAt = nowUs();
      if (line.startsWith('b ', text)) state.histogram.recordValue(Math.max(1, c.chunkAt - intAt(line, text + 2)));
    }
  } else {
    ircIdleLine(c, line);
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

/** Line mode, with direct-message handling and acks after each chunk. */
function toDirectMode(list: readonly Client[]): void {
  for (const c of list) {
    c.countOnly = false;
    c.onLine = state.proto === 'irc' ? ircDirectLine : state.batched ? batchedDirectLine : directLine;
    c.afterChunk = state.proto === 'irc' ? refillPeer : ackAndRefill;
  }
}

/** The users of `m` in direct mode, counters reset, `window` and the body set: a run starts. */
function startDirect(m: Msg): Client[] {
  const list = activeClients(m);
  window = m.window as number;
  body = pad(m.bodyChars as number);
  state.histogram = undefined;
  state.lastError = '';
  resetCounters(list);
  toDirectMode(list);
  running = true;
  return list;
}

export async function direct(m: Msg): Promise<object> {
  const list = startDirect(m);
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
    lastError: state.lastError,
  };
}

/** Each user sends exactly `perUser` messages to its partner, `window` in flight; resolves when all are answered. */
export async function directCount(m: Msg): Promise<object> {
  sendLimit = m.perUser as number;
  const list = startDirect(m);
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
  return { ms: nowMs() - t0, drained, ...totals(list), lastError: state.lastError };
}

export async function latency(m: Msg): Promise<object> {
  const list = activeClients(m);
  const rate = m.rate as number;
  const seconds = m.seconds as number;
  window = 0;
  body = pad(m.bodyChars as number);
  state.lastError = '';
  resetCounters(list);
  toDirectMode(list);
  running = true;
  // Warm-up: one second at the rate, not recorded.
  state.histogram = undefined;
  await pace(list, rate, Math.min(1, seconds));
  await waitDrained(list, 5_000);
  state.histogram = newHistogram();
  resetCounters(list);
  const t0 = nowMs();
  await pace(list, rate, seconds);
  const paced = (nowMs() - t0) / 1000;
  const drained = await waitDrained(list, 15_000);
  running = false;
  const h = state.histogram;
  state.histogram = undefined;
  const t = totals(list);
  return { offered: rate, seconds: paced, sent: t.sent, received: t.received, achieved: t.sent / paced, drained, histogram: hdr.encodeIntoCompressedBase64(h), lastError: state.lastError };
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
export function recordStart(): object {
  toDirectMode(state.clients);
  state.histogram = newHistogram();
  return {};
}

export function recordStop(): object {
  const h = state.histogram ?? newHistogram();
  state.histogram = undefined;
  const t = totals(state.clients);
  return { received: t.received, histogram: hdr.encodeIntoCompressedBase64(h) };
}
