// A logged-in client: turns typed lines into requests or private messages, and server events,
// replies and peer events into things to show. Sockets are in ServerLink and PeerNode, the
// terminal is behind Ui.

import type { Verb } from '../protocol/commands.ts';
import { isVerb } from '../protocol/commands.ts';
import type { MessageLine, PrivateLine, ServerLine } from '../protocol/server-lines.ts';
import { PeerNode, type PeerCloseReason } from '../p2p/peer-node.ts';
import { findCommand, helpText, TYPED } from './commands.ts';
import type { ServerLink, Reply } from './server-link.ts';
import type { Ui } from './terminal.ts';

export class ChatClient {
  /** Users known to be online (for completion); filled by whoelse and presence events. */
  readonly online = new Set<string>();
  /** Private chats by peer: 'pending' until the direct connection is up. */
  readonly chats = new Map<string, 'pending' | 'open'>();
  private peers: PeerNode | undefined;
  /** Highest message id shown; anything at or below it is a duplicate. */
  private shownUpTo = 0;
  private ackScheduled = false;
  /** The server confirmed a logout typed by the user. */
  loggedOut = false;

  constructor(
    readonly me: string,
    private readonly link: ServerLink,
    private readonly ui: Ui,
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
    const reply = await this.link.request('p2pport', [this.peers.port]);
    if (reply.type === 'error') this.ui.show(reply);
  }

  /** Fills the list of online users for completion, without showing anything. */
  async learnOnline(): Promise<void> {
    const reply = await this.link.request('whoelse');
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
    if (!command?.local && isVerb(word) && command) return this.send(word, rest);
    // Commands handled here still count as activity on the server (SESS-1, P2P-6).
    this.link.notify('active');
    if (word === 'help') return this.ui.show({ type: 'notice', text: helpText(rest.trim() || undefined) });
    if (word === 'private') return this.sendPrivate(rest);
    this.ui.show({ type: 'error', code: 'unknown-command', text: `Unknown command "${word}". Commands: ${TYPED.map((c) => c.name).join(', ')}` });
  }

  private async send(verb: Verb, rest: string): Promise<void> {
    if (verb === 'accept') this.peers?.awaitToken(rest.trim());
    const reply = await this.link.request(verb, rest === '' ? [] : [rest]);
    this.onReply(verb, rest, reply);
    this.ui.show(reply);
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
        if (line.online) this.online.add(line.user);
        else this.online.delete(line.user);
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
    if (line.id > this.shownUpTo) {
      this.shownUpTo = line.id;
      this.ui.show(line);
    }
    // Acks are cumulative: one per turn covers everything shown so far.
    if (!this.ackScheduled) {
      this.ackScheduled = true;
      setImmediate(() => {
        this.ackScheduled = false;
        this.link.notify('ack', [this.shownUpTo]);
      });
    }
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
    this.peers?.stop();
  }
}

function splitFirst(text: string): [string, string] {
  const m = /^(\S*)\s*([\s\S]*)$/.exec(text) as RegExpExecArray;
  return [m[1] as string, m[2] as string];
}
