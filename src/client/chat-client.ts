// A logged-in client: turns typed lines into requests or private messages, and server events,
// replies and peer events into things to show. Sockets are in ServerLink and PeerNode, the
// terminal is behind Ui.

import type { Verb } from '../protocol/commands.ts';
import { isVerb } from '../protocol/commands.ts';
import type { MessageLine, PrivateLine, ServerLine } from '../protocol/server-lines.ts';
import { PeerNode, type PeerCloseReason } from '../p2p/peer-node.ts';
import { findCommand, helpText, TYPED } from './commands.ts';
import type { ServerLink, Reply } from './server-link.ts';
import { NOTIFICATION_COST } from '../protocol/limits.ts';
import type { RateLimiter } from '../util/rate-limiter.ts';
import type { SeenIds } from './seen-ids.ts';
import type { Ui } from './terminal.ts';

/** How long acks wait to be gathered into one. */
const ACK_DELAY_MS = 50;

export class ChatClient {
  /** Users known to be online (for completion); filled by whoelse and presence events. */
  readonly online = new Set<string>();
  /** Private chats by peer: 'pending' until the direct connection is up. */
  readonly chats = new Map<string, 'pending' | 'open'>();
  private peers: PeerNode | undefined;
  private ackScheduled = false;
  /** The server confirmed a logout typed by the user. */
  loggedOut = false;

  /** Typed lines leave in order through this chain, paced by the server's budget. */
  private paced: Promise<void> = Promise.resolve();

  constructor(
    readonly me: string,
    private readonly link: ServerLink,
    private readonly ui: Ui,
    /** Message ids already shown: anything at or below the mark is a duplicate. */
    private readonly seen: SeenIds,
    /** The server's command budget (from its welcome); undefined when it has none. */
    private readonly budget?: RateLimiter,
  ) {}

  /** Starts the private-chat listener and tells the server its port (P2P-1). */
  async startPeers(port: number): Promise<void> {
    this.peers = PeerNode.listen(this.me, port, {
      onOpen: (user) => {
        this.chats.set(user, 'open');
        this.ui.show({ type: 'private-open', user });
      },
      onMessage: (user, text) => this.ui.show({ type: 'private-message', from: user, body: text, at: Date.now() }),
      onClose: (user, reason) => this.peerClosed(user, reason),
    });
    await this.pace(1);
    const reply = await this.request('p2pport', [this.peers.port]);
    if (reply.type === 'error') this.ui.show(reply);
  }

  /** Fills the list of online users for completion, without showing anything. */
  async learnOnline(): Promise<void> {
    await this.pace(1);
    const reply = await this.request('whoelse', []);
    if (reply.type === 'ok' && Array.isArray(reply.users)) for (const u of reply.users) this.online.add(String(u));
  }

  /** Names to complete after `command`. */
  namesFor(command: string): string[] {
    return command === 'private' || command === 'stopprivate' ? [...this.chats.keys()] : [...this.online, ...this.chats.keys()];
  }

  /** Runs one typed line; resolves when its reply (if any) has been shown. */
  async execute(line: string): Promise<void> {
    const text = line.trim();
    if (text === '') return;
    const [word = '', rest = ''] = splitFirst(text);
    const command = findCommand(word);
    const remote = !command?.local && isVerb(word) && command !== undefined;
    await this.pace(remote ? 1 : NOTIFICATION_COST);
    if (remote) {
      await this.send(word as Verb, rest);
      return;
    }
    // Commands handled here still count as activity on the server (SESS-1, P2P-6).
    this.link.notify('active');
    if (word === 'help') return this.ui.show({ type: 'notice', text: helpText(rest.trim() || undefined) });
    if (word === 'private') return this.sendPrivate(rest);
    this.ui.show({ type: 'error', code: 'unknown-command', text: `Unknown command "${word}". Commands: ${TYPED.map((c) => c.name).join(', ')}` });
  }

  /** Resolves when a line of `cost` may leave without running into the server's rate limit. */
  private pace(cost: number): Promise<void> {
    const budget = this.budget;
    const turn = this.paced.then(async () => {
      if (!budget) return;
      const wait = budget.waitMs(Date.now(), cost);
      if (wait > 0) await Bun.sleep(wait);
      budget.take(Date.now(), cost);
    });
    this.paced = turn;
    return turn;
  }

  private async send(verb: Verb, rest: string): Promise<Reply> {
    if (verb === 'accept') this.peers?.awaitToken(rest.trim());
    const reply = await this.request(verb, rest === '' ? [] : [rest]);
    this.onReply(verb, rest, reply);
    this.ui.show(reply);
    return reply;
  }

  /** A request; if the server still finds us too fast (a budget out of step), waits and resends. */
  private async request(verb: Verb, args: readonly (string | number)[]): Promise<Reply> {
    for (;;) {
      const reply = await this.link.request(verb, args);
      if (reply.type !== 'error' || reply.code !== 'rate-limited' || typeof reply.retryAfterMs !== 'number') return reply;
      await Bun.sleep(reply.retryAfterMs);
    }
  }

  /** Logs out (end of input), paced like any typed command. Resolves with the server's reply. */
  async logout(): Promise<Reply> {
    await this.pace(1);
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
  private sendPrivate(rest: string): void {
    const [user = '', text = ''] = splitFirst(rest);
    if (user === '' || text.trim() === '') {
      return this.ui.show({ type: 'error', code: 'usage', text: 'Usage: private <user> <text>' });
    }
    if (this.chats.get(user) !== 'open') {
      return this.ui.show({ type: 'error', code: 'no-private', text: `You have no private chat with ${user}: run startprivate ${user} first` });
    }
    if (!this.peers?.sendText(user, text)) {
      this.peerClosed(user, 'unreachable');
    }
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
      case 'private-closed':
        // Shown once: the direct socket may have told us already.
        if (!this.chats.has(line.user)) return;
        this.dropChat(line.user);
        break;
    }
    this.ui.show(line);
  }

  private onMessage(line: MessageLine): void {
    if (this.seen.firstSight(line.id)) this.ui.show(line);
    // Acks are cumulative: one every ACK_DELAY_MS covers everything shown so far, and keeps a
    // flood of incoming messages from spending our command budget.
    if (!this.ackScheduled) {
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
    this.budget?.take(Date.now(), NOTIFICATION_COST);
    this.link.notify('ack', [this.seen.upTo]);
  }

  private onAccepted(line: PrivateLine): void {
    if (!line.host || !line.port || !line.token) return;
    this.chats.set(line.user, 'pending');
    this.peers?.connect(line.user, line.host, line.port, line.token);
  }

  private peerClosed(user: string, reason: PeerCloseReason): void {
    if (!this.chats.has(user)) return;
    this.dropChat(user);
    // Tell the server so it forgets the chat too; the peer may already have.
    this.link.request('stopprivate', [user]).catch(() => {});
    this.ui.show({ type: 'private-closed', user, reason });
  }

  private dropChat(user: string): void {
    this.chats.delete(user);
    this.peers?.close(user);
  }

  /** Closes every private chat (the server tells the peers on logout, P2P-5). */
  stop(): void {
    // The connection may have died before the ack went out: what was shown must still count.
    this.seen.save();
    this.peers?.stop();
  }
}

function splitFirst(text: string): [string, string] {
  const m = /^(\S*)\s*([\s\S]*)$/.exec(text) as RegExpExecArray;
  return [m[1] as string, m[2] as string];
}
