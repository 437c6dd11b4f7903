// Broadcast (B4): one user broadcasts, every user counts the copies it receives and their latency.
// On IRC everyone joins #all and a channel message stands in for the broadcast.

import * as hdr from 'hdr-histogram-js';
import { type Client, field, flusher, intAt, presenceNames, type LineHandler } from '../lib/client.ts';
import { nowMs, nowUs, sleep } from '../lib/clock.ts';
import { privmsgText } from '../lib/irc.ts';
import { ircIdleLine, newHistogram, pad, state, type Msg } from './users.ts';

const BCAST = '{"type":"broadcast","id":';
/** Per broadcast id: copies received here and the latest arrival (µs since the send). */
const copies = new Map<number, { count: number; maxUs: number }>();

function countCopy(id: number, latencyUs: number): void {
  state.histogram?.recordValue(latencyUs);
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
export function ircJoin(): object {
  for (const c of state.clients) c.send('JOIN #all\r\n');
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

export function broadcastListen(): object {
  state.histogram = newHistogram();
  copies.clear();
  for (const c of state.clients) {
    c.countOnly = false;
    c.partial = '';
    c.onLine = state.proto === 'irc' ? ircBroadcastLine : broadcastLine;
    c.afterChunk = () => {};
  }
  return {};
}

export async function broadcastSend(m: Msg): Promise<object> {
  const sender = state.clients[0] as Client;
  const count = m.count as number;
  const text = pad(m.bodyChars as number);
  sender.delivered = 0;
  for (let i = 0; i < count; i++) {
    if (state.proto === 'irc') sender.send(`PRIVMSG #all :b ${nowUs()} ${i} ${text}\r\n`);
    else sender.send(`#b${i} broadcast b ${nowUs()} ${text}\n`);
    await sleep(m.intervalMs as number);
  }
  // An IRC channel message has no reply: nothing to confirm.
  if (state.proto === 'irc') return { sent: count, confirmed: count };
  const until = nowMs() + 10_000;
  while (sender.delivered < count && nowMs() < until) await sleep(10);
  return { sent: count, confirmed: sender.delivered };
}

export function broadcastReport(): object {
  const h = state.histogram ?? newHistogram();
  state.histogram = undefined;
  return { histogram: hdr.encodeIntoCompressedBase64(h), copies: [...copies].map(([id, e]) => [id, e.count, e.maxUs]) };
}
