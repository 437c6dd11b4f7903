// The peer-to-peer wire format and token book (P2P-2, P2P-3). Pure: no sockets, no clock of its own.
//
//   requester -> peer:  hello <requester> <token>
//   peer -> requester:  welcome <peer>
//   either way:         msg <text>
//   either way:         bye

export type PeerLine =
  | { kind: 'hello'; user: string; token: string }
  | { kind: 'welcome'; user: string }
  | { kind: 'msg'; text: string }
  | { kind: 'bye' };

const HELLO = /^hello (\S+) ([0-9a-f]{32,})$/;
const WELCOME = /^welcome (\S+)$/;

/** Parses a peer line; undefined when it is not one (the connection is then dropped). */
export function parsePeerLine(line: string): PeerLine | undefined {
  if (line.startsWith('msg ')) return { kind: 'msg', text: line.slice(4) };
  if (line === 'bye') return { kind: 'bye' };
  let m = HELLO.exec(line);
  if (m) return { kind: 'hello', user: m[1] as string, token: m[2] as string };
  m = WELCOME.exec(line);
  if (m) return { kind: 'welcome', user: m[1] as string };
  return undefined;
}

export function formatPeerLine(line: PeerLine): string {
  switch (line.kind) {
    case 'hello':
      return `hello ${line.user} ${line.token}\n`;
    case 'welcome':
      return `welcome ${line.user}\n`;
    case 'msg':
      return `msg ${line.text}\n`;
    case 'bye':
      return 'bye\n';
  }
}

/**
 * Tokens this client has been given by the server for requesters it accepted. A token is good
 * for the one user it was issued for, once, until it expires.
 */
export class TokenBook {
  private readonly tokens = new Map<string, { user: string; expires: number }>();

  constructor(private readonly ttlMs = 60_000) {}

  expect(user: string, token: string, now: number): void {
    this.tokens.set(token, { user, expires: now + this.ttlMs });
  }

  /** True, and the token is spent, only for the right user with an unexpired token. */
  redeem(user: string, token: string, now: number): boolean {
    const entry = this.tokens.get(token);
    if (!entry) return false;
    this.tokens.delete(token);
    return entry.user === user && entry.expires > now;
  }

  /** Forgets tokens issued for `user` (their chat was closed before they connected). */
  forget(user: string): void {
    for (const [token, entry] of this.tokens) if (entry.user === user) this.tokens.delete(token);
  }
}
