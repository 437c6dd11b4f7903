// A logged-in client: turns typed lines into requests or private messages, and server events,
// replies and peer events into things to show. Sockets are in ServerLink and PeerNode, the
// terminal is behind Ui. It outlives a connection: after a reconnect (CLI-9) attach() gives it
// the new one, and lines typed meanwhile wait for it.

import type { Verb } from '../protocol/commands.ts';
import type { MessageLine, PrivateLine, ServerLine } from '../protocol/server-lines.ts';
import { formatRequest } from '../protocol/request.ts';
import { MAX_LINE_BYTES, MAX_TEXT_CHARS, NOTIFICATION_COST } from '../protocol/limits.ts';
import { PeerNode, type PeerCloseReason } from '../p2p/peer-node.ts';
import { findCommand, helpText, TYPED } from './commands.ts';
import type { Fate, UiEvent } from './events.ts';
import { Pacer } from './pacer.ts';
import { ConnectionLost, type ServerLink, type Reply } from './server-link.ts';
import type { SeenKeys } from './seen-ids.ts';
import type { Ui } from './terminal.ts';
import { parseTyped } from './typed-line.ts';

/** How long acks wait to be gathered into one. */
const ACK_DELAY_MS = 50;

export class ChatClient {
  /** Users known to be online (for completion); filled by whoelse and presence events. */
  readonly online = new Set<string>();
  /** Private chats by peer: 'pending' until the direct connection is up. */
  readonly chats = new Map<string, 'pending' | 'open'>();
  private peers: PeerNode | undefined;
  private ackScheduled = false;
  /** Highest id of a message received on this connection: the next ack (cumulative). */
  private ackUpTo = 0;
  /** The server confirmed a logout typed by the user. */
  loggedOut = false;
  /** Typed commands that failed: from a pipe, they decide the exit code. */
  failures = 0;
  /** In a conversation with this user (`query`): plain lines go to them. */
  query: string | undefined;
  /** The last person who sent you a message (`reply`). */
  private lastFrom: string | undefined;
  /** The connection, or undefined while reconnecting; lines wait for the next one. */
  private link: ServerLink | undefined;
  private linkWaiters: (() => void)[] = [];
  private pacer: Pacer;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private inactivityMs: number | undefined;

  constructor(
    readonly me: string,
    link: ServerLink,
    private readonly ui: Ui,
    /** Messages already shown, by key (CLU-3): one that comes again is a duplicate. */
    private readonly seen: SeenKeys,
    /** The server's command budget and inactivity timeout, from its welcome. */
    limits: { budget?: { rate: number; burst: number }; inactivityMs?: number } = {},
    /** Your password, kept in memory only to spot it typed at the prompt by mistake. */
    private readonly password?: string,
  ) {
    this.link = link;
    this.pacer = new Pacer(limits.budget);
    this.inactivityMs = limits.inactivityMs;
    this.active();
  }

  /** The connection was lost: requests wait until attach(). */
  detach(): void {
    this.link = undefined;
    this.ackScheduled = false;
    this.ackUpTo = 0;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    // The server ends private chats with the session; ours go too, and the peers are told by it.
    for (const user of [...this.chats.keys()]) this.peerClosed(user, 'disconnected', false);
  }

  /** Logged in again on a new connection (CLI-9). */
  async attach(link: ServerLink, limits: { budget?: { rate: number; burst: number }; inactivityMs?: number }): Promise<void> {
    this.link = link;
    this.pacer.reset(limits.budget);
    this.inactivityMs = limits.inactivityMs;
    this.active();
    for (const wake of this.linkWaiters.splice(0)) wake();
    if (this.peers) await this.reportPeerPort();
    await this.learnOnline();
  }

  private async connected(): Promise<ServerLink> {
    while (!this.link) await new Promise<void>((resolve) => this.linkWaiters.push(resolve));
    return this.link;
  }

  /** Starts the private-chat listener and tells the server its port (P2P-1). */
  async startPeers(port: number): Promise<void> {
    try {
      this.peers = PeerNode.listen(this.me, port, {
        onOpen: (user) => {
          this.chats.set(user, 'open');
          this.ui.show({ type: 'private-open', user });
        },
        onMessage: (user, text) => {
          this.ui.show({ type: 'private-message', from: user, body: text, at: Date.now() });
          this.ui.alert('direct');
        },
        onClose: (user, reason) => this.peerClosed(user, reason),
      });
    } catch (err) {
      // A busy --p2p-port costs the private chats, not the session.
      const why = (err as { code?: string }).code === 'EADDRINUSE' ? `port ${port} is in use` : (err as Error).message;
      this.ui.show({ type: 'notice', text: `Private chats are off: ${why} (choose another with --p2p-port, or 0 for any)` });
      return;
    }
    await this.reportPeerPort();
  }

  private async reportPeerPort(): Promise<void> {
    const reply = await this.request('p2pport', [this.peers?.port ?? 0]).catch(() => undefined);
    if (reply?.type === 'error') this.ui.show(reply);
  }

  /** Fills the list of online users for completion, without showing anything. */
  async learnOnline(): Promise<void> {
    const reply = await this.request('whoelse', []).catch(() => undefined);
    if (reply?.type === 'ok' && Array.isArray(reply.users)) {
      this.online.clear();
      for (const u of reply.users) this.online.add(String(u));
    }
  }

  /** Names to complete after `command`. */
  namesFor(command: string): string[] {
    return command === 'private' || command === 'stopprivate' ? [...this.chats.keys()] : [...this.online, ...this.chats.keys()];
  }

  /** Runs one typed line; resolves when its reply (if any) has been shown. */
  async execute(line: string): Promise<void> {
    if (this.password !== undefined && line.trim() === this.password) {
      this.ui.forgetLastLine();
      this.failures++;
      return this.ui.show({ type: 'error', code: 'usage', text: 'That looked like your password: it was not sent, and is off the screen and out of the history' });
    }
    const action = parseTyped(line, this.query);
    if (action.kind === 'none') return;
    this.active();
    switch (action.kind) {
      case 'message':
        return this.sendMessage(action.to, action.text);
      case 'broadcast':
        return this.sendMessage(undefined, action.text);
      case 'reply':
        if (!this.lastFrom) return this.fail('usage', 'Nobody has written to you yet: use message <user> <text>');
        return this.sendMessage(this.lastFrom, action.text);
      case 'send': {
        const command = findCommand(action.verb);
        if (!command || command.local) return this.unknown(action.verb);
        await this.send(action.verb, action.rest);
        return;
      }
    }
    // The rest is handled here, but still counts as activity on the server (SESS-1, P2P-6).
    this.notify('active');
    switch (action.kind) {
      case 'query':
        this.query = action.user;
        return this.ui.show({ type: 'notice', text: action.user ? `Talking to ${action.user}: lines go to them; commands start with / (/query alone to stop)` : 'Conversation ended: lines are commands again' });
      case 'private':
        return this.sendPrivate(action.to, action.text);
      case 'help':
        return this.ui.show({ type: 'notice', text: helpText(action.topic) });
      case 'usage':
        return this.fail('usage', `Usage: ${action.usage}`);
      case 'unknown':
        return this.unknown(action.word);
    }
  }

  private unknown(word: string): void {
    this.fail('unknown-command', `Unknown command "${word}". Commands: ${TYPED.map((c) => c.name).join(', ')} (help for more)`);
  }

  private fail(code: string, text: string): void {
    this.failures++;
    this.ui.show({ type: 'error', code, text } as UiEvent);
  }

  /** message <to> <text>, or broadcast <text> when `to` is undefined: shown with its fate (CLI-8). */
  private async sendMessage(to: string | undefined, text: string): Promise<void> {
    const own = { type: 'own' as const, from: this.me, to, body: text };
    const chars = [...text].length;
    // Refused here: --json still gets an error line, as if the server had said it.
    const refuse = (reason: string, code = 'text-too-long'): void => {
      this.failures++;
      this.ui.show({ ...own, at: Date.now(), fate: 'refused', reason, reply: { type: 'error', code, text: reason } } as UiEvent);
    };
    // The client knows the limits: a line the server would refuse (or close the connection
    // over) is refused here, and the session goes on (CLI-7).
    if (chars > MAX_TEXT_CHARS) return refuse(`the text has ${chars} characters; a message may have at most ${MAX_TEXT_CHARS}`);
    let reply: Reply;
    try {
      reply = to === undefined ? await this.request('broadcast', [text], true) : await this.request('message', [to, text], true);
    } catch (err) {
      if (!(err instanceof ConnectionLost)) throw err;
      this.failures++;
      const reason = 'the connection dropped before the server answered; it may not have been sent';
      return this.ui.show({ ...own, at: Date.now(), fate: 'unknown', reason, reply: { type: 'error', code: 'internal', text: reason } } as UiEvent);
    }
    const at = Date.now();
    if (reply.type === 'error') {
      if (reply.code === 'line-too-long' && reply.re === undefined) return refuse(reply.text, reply.code);
      this.failures++;
      return this.ui.show({ ...own, at, fate: 'refused', reason: reply.text, reply } as UiEvent);
    }
    const fate: Fate = reply.code === 'delivered' || reply.code === 'stored' || reply.code === 'partial' ? reply.code : 'sent';
    const pending = typeof reply.pending === 'number' ? reply.pending : undefined;
    this.ui.show({ ...own, at, fate, reached: typeof reply.reached === 'number' ? reply.reached : undefined, pending, reply } as UiEvent);
  }

  private async send(verb: Verb, rest: string): Promise<Reply | undefined> {
    if (verb === 'accept') this.peers?.awaitToken(rest.trim());
    let reply: Reply;
    try {
      reply = await this.request(verb, rest === '' ? [] : [rest], true);
    } catch (err) {
      if (!(err instanceof ConnectionLost)) throw err;
      this.failures++;
      this.ui.show({ type: 'error', code: 'internal', text: `The connection dropped before "${verb}" was answered` } as UiEvent);
      return undefined;
    }
    if (reply.type === 'error') this.failures++;
    this.onReply(verb, rest, reply);
    this.ui.show(reply);
    return reply;
  }

  /**
   * A request, in turn with every other (typed lines leave in the order typed, paced by the
   * server's budget). A line over the protocol's limit is answered here with `line-too-long`.
   * A line the server refused as too fast goes again, before anything typed after it.
   */
  private async request(verb: Verb, args: readonly (string | number)[], typed = false): Promise<Reply> {
    const bytes = Buffer.byteLength(formatRequest(verb, args, '9999999')) - 1;
    if (bytes > MAX_LINE_BYTES) {
      return { type: 'error', code: 'line-too-long' as Reply['code'], text: `the line is ${bytes} bytes; the server takes at most ${MAX_LINE_BYTES}. Nothing was sent` } as Reply;
    }
    const ticket = this.pacer.ticket();
    for (;;) {
      await this.pacer.turn(ticket, 1);
      const link = await this.connected();
      if (typed) this.active();
      const reply = await link.request(verb, args);
      if (reply.type !== 'error' || reply.code !== 'rate-limited') return reply;
      this.pacer.hold(typeof reply.retryAfterMs === 'number' ? reply.retryAfterMs : 1000);
    }
  }

  /** A notification (ack, active): no reply, never waits behind typed lines. */
  private notify(verb: 'ack' | 'active', args: readonly (string | number)[] = []): void {
    if (!this.link) return;
    this.pacer.spend(NOTIFICATION_COST);
    this.link.notify(verb, args);
  }

  /** Logs out (end of input), in turn after every line typed before. Resolves with the server's reply. */
  async logout(): Promise<Reply | undefined> {
    // Acknowledge what was shown first, so the server need not deliver it again.
    this.acknowledge();
    return this.send('logout', '');
  }

  private onReply(verb: Verb, rest: string, reply: Reply): void {
    // Stopped, or unknown to the server (it closed while we were away): either way ours goes too.
    if (verb === 'stopprivate' && (reply.type === 'ok' || reply.code === 'no-private')) this.dropChat(rest.trim());
    if (verb === 'accept' && reply.type !== 'ok') this.peers?.refuse(rest.trim());
    if (reply.type !== 'ok') return;
    if (verb === 'logout') this.loggedOut = true;
    if (reply.code === 'users' && verb === 'whoelse' && Array.isArray(reply.users)) {
      this.online.clear();
      for (const u of reply.users) this.online.add(String(u));
    }
    if (reply.code === 'accepted' && typeof reply.user === 'string' && typeof reply.token === 'string') {
      this.chats.set(reply.user, 'pending');
      this.peers?.expect(reply.user, reply.token);
    }
  }

  // private <user> <text>
  private sendPrivate(user: string, text: string): void {
    if (this.chats.get(user) !== 'open') {
      return this.fail('no-private', `You have no private chat with ${user}: run startprivate ${user} first`);
    }
    if (!this.peers?.sendText(user, text)) {
      this.failures++;
      return this.peerClosed(user, 'unreachable');
    }
    this.ui.show({ type: 'own', from: this.me, to: user, private: true, body: text, at: Date.now(), fate: 'sent' });
  }

  /** A server line that is not a reply to one of our requests. */
  onEvent(line: ServerLine): void {
    switch (line.type) {
      case 'message':
      case 'broadcast':
        return this.onMessage(line);
      case 'presence':
        for (const user of line.users) {
          if (line.online) this.online.add(user);
          else this.online.delete(user);
        }
        break;
      case 'private-accepted':
        this.onAccepted(line);
        break;
      case 'private-request':
        this.ui.alert('direct');
        break;
      case 'private-closed':
        // Shown once: the direct socket may have told us already.
        if (!this.chats.has(line.user)) return;
        this.dropChat(line.user);
        break;
    }
    this.ui.show(line);
  }

  private onMessage(line: MessageLine): void {
    // Shown once by its key: a message sent again (a lost ack, another node) keeps it (CLU-3).
    if (this.seen.firstSight(line)) {
      this.ui.show(line);
      if (line.type === 'message') {
        this.lastFrom = line.from;
        this.ui.alert('direct');
      } else if (line.body.includes(this.me)) this.ui.alert('mention');
    }
    // Broadcasts need no ack (docs/PROTOCOL.md): acking them made every broadcast to n users
    // cost the server n more reads and requests. Acks are cumulative: one every ACK_DELAY_MS
    // covers everything shown so far, and keeps a flood of messages from spending our budget.
    if (line.type === 'message') this.ackUpTo = Math.max(this.ackUpTo, line.id);
    if (line.type === 'message' && !this.ackScheduled) {
      this.ackScheduled = true;
      setTimeout(() => this.acknowledge(), ACK_DELAY_MS);
    }
  }

  /** Tells the server everything shown so far may be forgotten: cumulative, so one line does. */
  private acknowledge(): void {
    if (!this.ackScheduled) return;
    this.ackScheduled = false;
    // Remember what was shown before telling the server it may forget it.
    this.seen.save();
    this.notify('ack', [this.ackUpTo]);
  }

  private onAccepted(line: PrivateLine): void {
    if (!line.host || !line.port || !line.token) return;
    this.chats.set(line.user, 'pending');
    this.peers?.connect(line.user, line.host, line.port, line.token);
  }

  private peerClosed(user: string, reason: PeerCloseReason, tellServer = true): void {
    if (!this.chats.has(user)) return;
    this.dropChat(user);
    // Tell the server so it forgets the chat too; the peer may already have.
    if (tellServer) this.link?.request('stopprivate', [user]).catch(() => {});
    this.ui.show({ type: 'private-closed', user, reason });
  }

  private dropChat(user: string): void {
    this.chats.delete(user);
    this.peers?.close(user);
  }

  /** A typed command: the server's inactivity clock starts again; warn shortly before it runs out. */
  private active(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    const limit = this.inactivityMs;
    if (!limit || !this.ui.interactive) return;
    const warnBefore = Math.min(60_000, limit / 5);
    this.idleTimer = setTimeout(() => {
      this.ui.show({ type: 'notice', text: `You will be logged out for inactivity in ${Math.round(warnBefore / 1000)} s unless you type a command` });
      this.ui.alert('warning');
    }, limit - warnBefore);
    this.idleTimer.unref?.();
  }

  /** Closes every private chat (the server tells the peers on logout, P2P-5). */
  stop(): void {
    if (this.idleTimer) clearTimeout(this.idleTimer);
    // The connection may have died before the ack went out: what was shown must still count.
    this.seen.save();
    this.peers?.stop();
  }
}
