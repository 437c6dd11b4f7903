// The direct-message floor in Bun (bench/floors.ts, and bench/compare.ts's `min` system): a chat
// server that speaks only the part of chat's protocol the bench's direct scenario uses, and does
// only the protocol's per-message work. Per request line: parse it (hand parsing of the fixed
// shapes), route `message` to the recipient by name, give it an id (= key), write the recipient's
// `message` event, and when the recipient's cumulative `ack` covers it, write the sender's tagged
// `delivered` reply. Lines leave through the project's Outbox (one write per socket per turn), as
// in chat and bench/relay.ts.
//
// Nothing else: any password is taken, no presence, no storage (a message to someone offline gets
// an error, and unacked messages of a connection that ends are dropped), no ack timers, no limits,
// no validation beyond what the parsing needs. Not a server: a measuring stick.
//
// `batched` (compare's `min-batched` system): a protocol change tried on the floor. When one `ack`
// covers several messages from the same sender, that sender gets ONE `delivered` line for them all:
//
//   {"type":"ok","re":"<tag of the last>","code":"delivered","id":<id of the last>,"n":<count>,"to":"u7"}
//
// and for a single message exactly today's line (no "n": n is 1). Why this shape and not a list of
// tags or an id range: one sender's messages to one recipient get increasing ids in the order they
// were sent, and the ack is cumulative, so the messages one ack covers from one sender are always
// the OLDEST n of that sender's pending sends to that recipient, in sending order. A client keeps
// its pending sends to each recipient in a queue and drops the first n: it knows exactly which
// were delivered (untagged sends included: n counts them). `re` (the last one's tag, absent when
// it had none, as today) lets it check that it agrees; `id` is the last one's id as today. An id range [first,last] would not do:
// ids are global, so the ids between belong to other conversations, and the range says nothing
// of how many sends it covers. Lines are grouped by runs of one sender in the acked queue: senders
// interleaved to one recipient get more lines, never a wrong one (in pairs a run is all of them).
//
//   bun bench/floors/min-server.ts [port] [batched]   prints "min-server listening on 127.0.0.1:<port>"

import type { Socket } from 'bun';
import { Outbox, TurnFlusher } from '../../src/util/outbox.ts';
import { completeLines } from '../lib/complete-lines.ts';

interface Session {
  name: string;
  outbox: Outbox;
  partial: Uint8Array | null;
  /** Messages written to this connection and not acked yet, oldest first, from `head` on. */
  ids: number[];
  senders: Session[];
  /** Per message acked: the head of its `delivered` line up to the id (the tag inside). */
  tags: string[];
  head: number;
  /** The tail of every `delivered` line about messages to this user: `,"to":"<name>"}` and LF. */
  toTail: string;
  /** `,"from":"<name>","at":` for the message events this user sends. */
  fromPart: string;
  /**
   * The last recipient and its name: users in pairs write to one partner, so a message to the same
   * name makes no substring and hashes no new string (the Map is still asked whether it is online).
   */
  lastTo: Session | undefined;
  lastToName: string;
}

const batched = process.argv[3] === 'batched';
const flusher = new TurnFlusher();
const online = new Map<string, Session>();
const decoder = new TextDecoder();
let lastId = 0;
/** Date.now() once per chunk, not per message. */
let at = 0;

/** A JSON string's inside: the text itself unless it has a quote, a backslash or a control character. */
const NEEDS_ESCAPE = /["\\\u0000-\u001f]/;
const jsonInside = (s: string) => (NEEDS_ESCAPE.test(s) ? JSON.stringify(s).slice(1, -1) : s);

function line(s: Session, text: string, start: number, end: number): void {
  // [#tag ]verb args
  let tag = '';
  let i = start;
  if (text.charCodeAt(i) === 35 /* # */) {
    const sp = text.indexOf(' ', i);
    if (sp < 0 || sp > end) return;
    tag = text.slice(i + 1, sp);
    i = sp + 1;
  }
  const c = text.charCodeAt(i);
  if (c === 97 /* a */ && text.startsWith('ack ', i)) {
    let id = 0;
    for (let j = i + 4; j < end; j++) id = id * 10 + text.charCodeAt(j) - 48;
    ack(s, id);
  } else if (c === 109 /* m */ && text.startsWith('message ', i)) {
    const sp = text.indexOf(' ', i + 8);
    if (sp < 0 || sp > end) return;
    let to = s.lastTo;
    if (to === undefined || sp - i - 8 !== s.lastToName.length || !text.startsWith(s.lastToName, i + 8) || online.get(s.lastToName) !== to) {
      const name = text.slice(i + 8, sp);
      to = online.get(name);
      if (!to) {
        s.outbox.push(`{"type":"error",${tag === '' ? '' : `"re":"${tag}",`}"code":"no-such-user","text":"not online"}\n`);
        return;
      }
      s.lastTo = to;
      s.lastToName = name;
    }
    const id = ++lastId;
    to.outbox.push(`{"type":"message","id":${id},"key":${id}${s.fromPart}${at},"body":"${jsonInside(text.slice(sp + 1, end))}"}\n`);
    to.ids.push(id);
    to.senders.push(s);
    to.tags.push(tag === '' ? '{"type":"ok","code":"delivered","id":' : `{"type":"ok","re":"${tag}","code":"delivered","id":`);
  } else if (c === 108 /* l */ && text.startsWith('login ', i)) {
    s.name = text.slice(i + 6, end);
    s.toTail = `,"to":"${s.name}"}\n`;
    s.fromPart = `,"from":"${s.name}","at":`;
    s.outbox.push(`{"type":"ok",${tag === '' ? '' : `"re":"${tag}",`}"code":"password","user":"${s.name}"}\n`);
  } else if (c === 112 /* p */ && text.startsWith('password ', i)) {
    online.set(s.name, s);
    s.outbox.push(`{"type":"ok",${tag === '' ? '' : `"re":"${tag}",`}"code":"welcome","user":"${s.name}","server":1,"text":"Welcome, ${s.name}!"}\n`);
  } else {
    s.outbox.push(`{"type":"error",${tag === '' ? '' : `"re":"${tag}",`}"code":"unknown-command","text":"not here"}\n`);
  }
}

/** Cumulative: every message written to `s` up to `id` is delivered; each sender hears it. */
function ack(s: Session, id: number): void {
  const { ids, senders, tags } = s;
  let h = s.head;
  if (batched) {
    // One line per run of one sender: the last one's tag and id, and how many.
    while (h < ids.length && (ids[h] as number) <= id) {
      const sender = senders[h] as Session;
      let last = h;
      while (last + 1 < ids.length && (ids[last + 1] as number) <= id && senders[last + 1] === sender) last++;
      const n = last - h + 1;
      sender.outbox.push(n === 1 ? `${tags[last]}${ids[last]}${s.toTail}` : `${tags[last]}${ids[last]},"n":${n}${s.toTail}`);
      h = last + 1;
    }
  }
  while (h < ids.length && (ids[h] as number) <= id) {
    (senders[h] as Session).outbox.push(`${tags[h]}${ids[h]}${s.toTail}`);
    h++;
  }
  if (h === ids.length) {
    ids.length = senders.length = tags.length = 0;
    h = 0;
  }
  s.head = h;
}

const listener = Bun.listen<Session>({
  hostname: '127.0.0.1',
  port: Number(process.argv[2] ?? 0),
  socket: {
    open(socket: Socket<Session>) {
      socket.data = { name: '', outbox: new Outbox(socket, flusher, 1 << 30, () => socket.terminate()), partial: null, ids: [], senders: [], tags: [], head: 0, toTail: '', fromPart: '', lastTo: undefined, lastToName: '' };
    },
    data(socket, chunk) {
      const s = socket.data;
      const bytes = completeLines(s, chunk);
      if (bytes === null) return;
      const text = decoder.decode(bytes);
      at = Date.now();
      let start = 0;
      for (let nl = text.indexOf('\n'); nl >= 0; nl = text.indexOf('\n', start)) {
        line(s, text, start, nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl);
        start = nl + 1;
      }
    },
    drain(socket) {
      socket.data.outbox.flush();
    },
    close(socket) {
      const s = socket.data;
      s.outbox.close();
      if (online.get(s.name) === s) online.delete(s.name);
    },
    error() {},
  },
});

console.log(`min-server listening on ${listener.hostname}:${listener.port}`);
process.on('SIGTERM', () => {
  listener.stop(true);
  process.exit(0);
});
