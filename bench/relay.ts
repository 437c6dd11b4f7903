// The ceiling: a bare relay that only forwards lines. No protocol, no state beyond who is paired
// with whom. A connection's first line is `pair <key>`; the two connections that send the same key
// are partners, both get one `welcome` line, and from then on every complete line one sends is
// written to the other (split at the last LF, decoded, queued in the project's Outbox: one write per
// socket per turn, like the server). What it costs is the floor under any server on this machine.
//
//   bun bench/relay.ts [port]      prints "relay listening on 127.0.0.1:<port>"

import type { Socket } from 'bun';
import { Outbox, TurnFlusher } from '../src/util/outbox.ts';
import { completeLines } from './lib/complete-lines.ts';

interface Peer {
  outbox: Outbox;
  partner: Peer | undefined;
  /** Lines sent before the partner arrived. */
  early: string[];
  partial: Uint8Array | null;
  paired: boolean;
}

const flusher = new TurnFlusher();
const waiting = new Map<string, Peer>();
const decoder = new TextDecoder();
const WELCOME = '{"type":"ok","code":"welcome"}\n';

function forward(peer: Peer, text: string): void {
  if (peer.partner) peer.partner.outbox.push(text);
  else peer.early.push(text);
}

const listener = Bun.listen<Peer>({
  hostname: '127.0.0.1',
  port: Number(process.argv[2] ?? 0),
  socket: {
    open(socket: Socket<Peer>) {
      socket.data = { outbox: new Outbox(socket, flusher, 1 << 30, () => socket.terminate()), partner: undefined, early: [], partial: null, paired: false };
    },
    data(socket, chunk) {
      const peer = socket.data;
      const bytes = completeLines(peer, chunk);
      if (bytes === null) return;
      let text = decoder.decode(bytes);
      if (!peer.paired) {
        const nl = text.indexOf('\n');
        const key = text.slice(0, nl).replace(/^pair /, '');
        text = text.slice(nl + 1);
        peer.paired = true;
        const other = waiting.get(key);
        if (other) {
          waiting.delete(key);
          peer.partner = other;
          other.partner = peer;
          peer.outbox.push(WELCOME);
          other.outbox.push(WELCOME);
          for (const early of other.early) peer.outbox.push(early);
          other.early = [];
        } else {
          waiting.set(key, peer);
        }
        if (text === '') return;
      }
      forward(peer, text);
    },
    drain(socket) {
      socket.data.outbox.flush();
    },
    close(socket) {
      const peer = socket.data;
      peer.outbox.close();
      if (peer.partner) peer.partner.partner = undefined;
    },
    error() {},
  },
});

console.log(`relay listening on ${listener.hostname}:${listener.port}`);
process.on('SIGTERM', () => {
  listener.stop(true);
  process.exit(0);
});
