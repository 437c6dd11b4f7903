// The client's private-chat sockets (P2P-1, P2P-2, P2P-3): a listener for peers that were given a
// token, and outgoing connections to peers that accepted. Both sides prove they know the token
// without sending it and agree on a fresh X25519 secret, then every line is sealed
// (peer-crypto.ts). Knows nothing of the server or the terminal.

import type { Socket, TCPSocketListener } from 'bun';
import { LineSplitter, INVALID_UTF8 } from '../protocol/line-splitter.ts';
import { Outbox, TurnFlusher } from '../util/outbox.ts';
import { Channel, helloMac, isToken, macMatches, newEphemeral, newNonce, sharedSecret, tokenKey, welcomeMac, type Ephemeral } from './peer-crypto.ts';
import { formatPayload, formatPeerLine, messagePayloads, parsePayload, parsePeerLine, Reassembler, TokenBook, type PeerLine, type PeerPayload } from './peer-protocol.ts';

/** How long a new connection has to complete its handshake before it is dropped. */
export const HANDSHAKE_MS = 5_000;

export type PeerCloseReason = 'stopped' | 'disconnected' | 'unreachable';

export interface PeerEvents {
  onOpen(user: string): void;
  onMessage(user: string, text: string): void;
  /** The chat ended from the other side or the network (not after a local close()). */
  onClose(user: string, reason: PeerCloseReason): void;
}

interface Link {
  /** The other user; unknown on an incoming connection until its hello checks out. */
  user?: string;
  open: boolean;
  /** Closed by us: no onClose callback. */
  quiet: boolean;
  /** The socket has closed. */
  gone?: boolean;
  /** An incoming hello is waiting for its token: any further line closes the connection. */
  held?: boolean;
  readonly splitter: LineSplitter;
  outbox?: Outbox;
  timer?: ReturnType<typeof setTimeout>;
  /** Outgoing: the socket, once connected. */
  socket?: Socket<Link>;
  /**
   * Outgoing, until the welcome checks out: the key from the token, and the nonce and ephemeral
   * key pair of our hello. Dropped as soon as the chat's keys are derived (or the connection ends).
   */
  hello?: { key: Buffer; nonce: string; ephemeral: Ephemeral };
  /** Once open: seals and opens boxes. */
  channel?: Channel;
  readonly incoming: Reassembler;
}

export class PeerNode {
  private readonly links = new Map<string, Socket<Link>>();
  /** Outgoing connections not open yet, by peer: close() must be able to call them off. */
  private readonly connecting = new Map<string, Link>();
  /** Users we accepted whose token has not come yet, with hellos from them that wait for it. */
  private readonly awaiting = new Map<string, { socket: Socket<Link>; line: PeerLine }[]>();
  private readonly tokens = new TokenBook();
  private readonly flusher = new TurnFlusher();
  private listener!: TCPSocketListener<Link>;

  private constructor(
    private readonly me: string,
    private readonly events: PeerEvents,
    private readonly handshakeMs: number,
  ) {}

  /** Listens on `port` (0: any free port) on every interface. */
  static listen(me: string, port: number, events: PeerEvents, handshakeMs = HANDSHAKE_MS): PeerNode {
    const node = new PeerNode(me, events, handshakeMs);
    const handlers = node.handlers(false);
    try {
      node.listener = Bun.listen<Link>({ hostname: '::', port, socket: handlers });
    } catch {
      node.listener = Bun.listen<Link>({ hostname: '0.0.0.0', port, socket: handlers });
    }
    return node;
  }

  get port(): number {
    return this.listener.port;
  }

  /**
   * We sent the server `accept <user>`. The server tells the requester and us at the same time,
   * and their hello can reach us before our reply does: until expect() or refuse(), a hello from
   * `user` waits instead of being refused.
   */
  awaitToken(user: string): void {
    this.awaiting.set(user, this.awaiting.get(user) ?? []);
  }

  /** The server gave us `token` for `user`, whom we accepted: let them connect, once. */
  expect(user: string, token: string): void {
    this.tokens.expect(user, token, Date.now());
    this.settle(user);
  }

  /** Hellos waiting for a token. */
  get waitingHellos(): number {
    let n = 0;
    for (const waiting of this.awaiting.values()) n += waiting.length;
    return n;
  }

  /** The accept failed: a hello from `user` that was waiting is refused. */
  refuse(user: string): void {
    this.settle(user);
  }

  private settle(user: string): void {
    const waiting = this.awaiting.get(user) ?? [];
    this.awaiting.delete(user);
    for (const { socket, line } of waiting) {
      if (socket.data.gone) continue;
      socket.data.held = false;
      if (!this.handshake(socket, line)) socket.terminate();
    }
  }

  /** Connects to a peer that accepted us; ends in onOpen or onClose(user, 'unreachable'). */
  connect(user: string, host: string, port: number, token: string): void {
    if (!isToken(token)) {
      queueMicrotask(() => this.events.onClose(user, 'unreachable'));
      return;
    }
    const link = newLink(user);
    link.hello = { key: tokenKey(token), nonce: newNonce(), ephemeral: newEphemeral() };
    this.connecting.set(user, link);
    Bun.connect<Link>({ hostname: host, port, socket: this.handlers(true), data: link })
      .then((socket) => {
        // Called off (stopprivate, logout) while it was connecting.
        if (link.quiet) {
          link.hello = undefined;
          return void socket.end();
        }
        link.socket = socket;
        const { key, nonce, ephemeral } = link.hello as NonNullable<Link['hello']>;
        socket.data.outbox = this.outboxFor(socket);
        socket.data.timer = setTimeout(() => socket.terminate(), this.handshakeMs);
        const ePub = ephemeral.publicKey;
        this.send(socket, { kind: 'hello', user: this.me, nonce, ephemeral: ePub, mac: helloMac(key, this.me, user, nonce, ePub) });
      })
      .catch(() => {
        link.hello = undefined;
        if (this.connecting.get(user) === link) this.connecting.delete(user);
        if (!link.quiet) this.events.onClose(user, 'unreachable');
      });
  }

  isOpen(user: string): boolean {
    return this.links.get(user)?.data.open ?? false;
  }

  /** Sends private text; false when there is no open chat with `user`. */
  sendText(user: string, text: string): boolean {
    const socket = this.links.get(user);
    if (!socket?.data.open) return false;
    for (const payload of messagePayloads(text)) this.seal(socket, payload);
    return true;
  }

  /** Closes the chat with `user` from this side; the peer gets `bye`. */
  close(user: string): void {
    this.tokens.forget(user);
    const pending = this.connecting.get(user);
    if (pending) {
      this.connecting.delete(user);
      pending.quiet = true;
      pending.socket?.end();
    }
    const socket = this.links.get(user);
    if (!socket) return;
    this.links.delete(user);
    socket.data.quiet = true;
    if (socket.data.open) this.seal(socket, { t: 'bye' });
    socket.data.outbox?.flush();
    socket.end();
  }

  /** Closes every chat and the listener. */
  stop(): void {
    for (const user of new Set([...this.links.keys(), ...this.connecting.keys()])) this.close(user);
    this.listener.stop(true);
  }

  private send(socket: Socket<Link>, line: PeerLine): void {
    socket.data.outbox?.push(formatPeerLine(line));
  }

  private seal(socket: Socket<Link>, payload: PeerPayload): void {
    const channel = socket.data.channel as Channel;
    this.send(socket, { kind: 'box', box: channel.seal(formatPayload(payload)) });
  }

  private outboxFor(socket: Socket<Link>): Outbox {
    return new Outbox(socket, this.flusher, 4 << 20, () => socket.terminate());
  }

  private handlers(outgoing: boolean) {
    return {
      open: (socket: Socket<Link>) => {
        if (outgoing) return;
        // An incoming connection says nothing until it proves itself.
        socket.data = newLink(undefined);
        socket.data.outbox = this.outboxFor(socket);
        socket.data.timer = setTimeout(() => socket.terminate(), this.handshakeMs);
      },
      data: (socket: Socket<Link>, chunk: Uint8Array) => this.receive(socket, chunk),
      drain: (socket: Socket<Link>) => socket.data?.outbox?.flush(),
      close: (socket: Socket<Link>) => this.closed(socket),
      error: () => {},
    };
  }

  private receive(socket: Socket<Link>, chunk: Uint8Array): void {
    const link = socket.data;
    let lines;
    try {
      lines = link.splitter.push(chunk);
    } catch {
      return void socket.terminate();
    }
    for (const raw of lines) {
      const line = raw === INVALID_UTF8 ? undefined : parsePeerLine(raw);
      if (!line || link.held) return void socket.terminate();
      if (!link.open) {
        const waiting = line.kind === 'hello' && link.user === undefined ? this.awaiting.get(line.user) : undefined;
        if (waiting) {
          link.held = true;
          waiting.push({ socket, line });
          continue;
        }
        if (!this.handshake(socket, line)) return void socket.terminate();
        continue;
      }
      // Open: only boxes, each the next one in order, unaltered, holding a payload.
      const plain = line.kind === 'box' ? link.channel?.open(line.box) : undefined;
      const payload = plain === undefined ? undefined : parsePayload(plain);
      if (!payload) return void socket.terminate();
      if (payload.t === 'bye') return void this.finish(socket, 'stopped');
      const done = link.incoming.push(payload);
      if (done === 'too-long') return void socket.terminate();
      if (done !== 'more') this.events.onMessage(link.user as string, done.text);
    }
  }

  /**
   * The first line on a connection: a hello (incoming: its MAC must prove the token we hold for
   * that user, which is then spent) or a welcome (outgoing: its MAC must prove the peer
   * holds it too, for this hello). Either way the chat's keys come from the token, the X25519
   * secret of both ephemeral keys (the MACs cover them) and both nonces; a small-order key fails.
   */
  private handshake(socket: Socket<Link>, line: PeerLine): boolean {
    const link = socket.data;
    if (link.user === undefined) {
      if (line.kind !== 'hello') return false;
      let proven: Buffer | undefined;
      this.tokens.redeem(line.user, Date.now(), (token) => {
        if (!isToken(token)) return false;
        const key = tokenKey(token);
        if (!macMatches(line.mac, helloMac(key, line.user, this.me, line.nonce, line.ephemeral))) return false;
        proven = key;
        return true;
      });
      if (proven === undefined || this.links.has(line.user)) return false;
      const key: Buffer = proven;
      // Our key pair lives only in this call: nothing keeps it once the channel's keys exist.
      const ephemeral = newEphemeral();
      const shared = sharedSecret(ephemeral, line.ephemeral);
      if (shared === undefined) return false;
      const nonce = newNonce();
      link.user = line.user;
      link.channel = Channel.forPeer(key, shared, line.nonce, nonce);
      const ePub = ephemeral.publicKey;
      this.send(socket, { kind: 'welcome', user: this.me, nonce, ephemeral: ePub, mac: welcomeMac(key, line.user, this.me, line.nonce, nonce, line.ephemeral, ePub) });
    } else {
      const hello = link.hello;
      if (line.kind !== 'welcome' || !hello || line.user !== link.user) return false;
      const ePubR = hello.ephemeral.publicKey;
      if (!macMatches(line.mac, welcomeMac(hello.key, this.me, link.user, hello.nonce, line.nonce, ePubR, line.ephemeral))) return false;
      const shared = sharedSecret(hello.ephemeral, line.ephemeral);
      if (shared === undefined) return false;
      link.channel = Channel.forRequester(hello.key, shared, hello.nonce, line.nonce);
      link.hello = undefined;
    }
    clearTimeout(link.timer);
    link.open = true;
    if (this.connecting.get(link.user) === link) this.connecting.delete(link.user);
    this.links.set(link.user, socket);
    this.events.onOpen(link.user);
    return true;
  }

  private finish(socket: Socket<Link>, reason: PeerCloseReason): void {
    const link = socket.data;
    if (!link || link.quiet) return;
    link.quiet = true;
    socket.end();
    if (link.user === undefined) return;
    if (this.links.get(link.user) === socket) this.links.delete(link.user);
    if (this.connecting.get(link.user) === link) this.connecting.delete(link.user);
    // An outgoing connection that never opened never reached the peer.
    this.events.onClose(link.user, link.open ? reason : 'unreachable');
  }

  private closed(socket: Socket<Link>): void {
    if (!socket.data) return;
    socket.data.gone = true;
    socket.data.hello = undefined;
    clearTimeout(socket.data.timer);
    this.finish(socket, 'disconnected');
  }
}

function newLink(user: string | undefined): Link {
  return { user, open: false, quiet: false, splitter: new LineSplitter(), incoming: new Reassembler() };
}
