// `chat connect`: connect, log in (AUTH-2), run commands until logout or end of input, reconnect
// when the connection drops (CLI-9), and pick the exit code (CLI-6).

import { ChatClient } from './chat-client.ts';
import { SeenKeys, stateDir } from './seen-ids.ts';
import { complete } from './commands.ts';
import { Exit } from './exit-codes.ts';
import { ServerLink } from './server-link.ts';
import { createUi, type Ui } from './terminal.ts';
import { logIn, type Credentials } from './login.ts';
import type { OkLine, ServerLine } from '../protocol/server-lines.ts';

export interface ClientOptions {
  port: number;
  /** One address, or several separated by commas: tried in turn (CLI-9). */
  host: string;
  /** Port for the private-chat listener; 0 for any. */
  p2pPort: number;
  json: boolean;
  /** Connect over TLS, trusting `ca` (a PEM file) or the system's certificate authorities. */
  tls?: { ca?: string };
  /** Where the ids of messages already shown are kept (default: stateDir()). */
  stateDir?: string;
  /** Reconnect when the connection drops or the server restarts; default: on a terminal only. */
  reconnect?: boolean;
  /** Ring the bell on a direct or private message (default true). */
  bell?: boolean;
  /** From a pipe: stop at the first command that fails, with exit status 5. */
  bail?: boolean;
}

/** Why the server closed the connection, from the last `bye` or closing error it sent. */
const CLOSE_EXIT: Record<string, Exit> = { logout: Exit.Ok, timeout: Exit.Timeout, locked: Exit.Auth };
/** Closings after which a reconnect makes sense: the connection dropped, or the server is restarting. */
const RECONNECT_AFTER = new Set(['closed', 'shutdown']);
/** Waits between reconnect attempts: doubling, at most 10 s. */
const backoffMs = (attempt: number): number => (attempt === 0 ? 0 : Math.min(10_000, 250 * 2 ** (attempt - 1)));

/** One connection: the link, and what the server last said before closing it. */
interface Wire {
  link: ServerLink;
  closed: Promise<void>;
  /** The `bye`, or an error without a tag (login-timeout, locked, busy, …), that came before the close. */
  farewell?: { code: string; text: string };
  /** Events that came before the client was ready for them (the backlog after a welcome). */
  early: ServerLine[];
}

export async function runClient(options: ClientOptions): Promise<number> {
  let client: ChatClient | undefined;
  const ui = createUi({
    json: options.json,
    complete: (line) => complete(line, (c) => client?.namesFor(c) ?? []),
    bell: options.bell,
    me: () => client?.me,
    passwordSecond: true,
  });
  const hosts = options.host.split(',').map((h) => h.trim()).filter((h) => h !== '');
  let current = 0;
  const reconnect = options.reconnect ?? ui.interactive;
  const finish = (status: Exit, reason: string, text: string): Exit => {
    client?.stop();
    ui.show({ type: 'exit', status, reason, text });
    ui.close();
    return status;
  };

  /** Connects to hosts[index]; throws an Error with a one-line reason. */
  const open = async (index: number): Promise<Wire> => {
    let closedResolve!: () => void;
    const wire = { early: [] as ServerLine[], closed: new Promise<void>((resolve) => (closedResolve = resolve)) } as Wire;
    wire.link = await ServerLink.open(hosts[index] as string, options.port, {
      onEvent: (line) => {
        if (line.type === 'bye') wire.farewell = line;
        // An error that answers nothing comes before the server closes the connection: keep its reason.
        else if (line.type === 'error' && line.re === undefined) wire.farewell = { code: line.code, text: line.text };
        if (client && wire === live) return client.onEvent(line);
        if (line.type === 'error' || line.type === 'bye') ui.show(line);
        else wire.early.push(line);
      },
      onMalformed: (text) => ui.show({ type: 'malformed', text }),
      onClose: () => closedResolve(),
    }, options.tls);
    return wire;
  };
  const closedText = (wire: Wire): string => {
    // A TLS server drops a plain connection without a word.
    const silent = wire.link.heard || options.tls ? '' : ' without answering (does it need --tls?)';
    return wire.farewell ? `Disconnected: ${wire.farewell.text}` : `The server closed the connection${silent}`;
  };

  let live: Wire;
  try {
    live = await firstConnection(hosts, open);
  } catch (err) {
    return finish(Exit.ServerGone, 'unreachable', (err as Error).message);
  }
  const first = await logIn(ui, live.link, live.closed);
  if (first === 'closed') return finish(CLOSE_EXIT[live.farewell?.code ?? ''] ?? Exit.ServerGone, live.farewell?.code ?? 'closed', closedText(live));
  if (typeof first === 'number') {
    live.link.close();
    return finish(first, 'login', 'Not logged in');
  }
  let credentials: Credentials = first;
  client = new ChatClient(credentials.user, live.link, ui, SeenKeys.open(options.stateDir ?? stateDir(), credentials.welcome.server, credentials.user), limitsOf(credentials.welcome), credentials.password);
  for (const line of live.early.splice(0)) client.onEvent(line);
  await client.startPeers(options.p2pPort);
  await client.learnOnline();

  let asking: Promise<string | null> | undefined;
  for (;;) {
    // In a conversation the prompt names the person lines go to.
    asking ??= ui.ask(client.query === undefined ? '> ' : `${client.query}> `);
    const next = await Promise.race([asking.then((line) => ({ line })), live.closed.then(() => undefined)]);
    if (next === undefined) {
      if (client.loggedOut) return finish(Exit.Ok, 'logout', 'Logged out');
      const code = live.farewell?.code ?? 'closed';
      if (!reconnect || !RECONNECT_AFTER.has(code)) return finish(CLOSE_EXIT[code] ?? Exit.ServerGone, code, closedText(live));
      // CLI-9: log in again on the next address, with backoff; lines typed meanwhile wait.
      client.detach();
      ui.show({ type: 'notice', text: `${closedText(live)}; reconnecting…` });
      const again = await reconnectWire(live);
      if (again === 'left') return finish(Exit.ServerGone, 'closed', 'Left while disconnected');
      if (typeof again === 'number') return finish(again, 'reconnect', 'Could not log in again');
      live = again.wire;
      credentials = again.credentials;
      ui.show({ type: 'notice', text: `Reconnected to ${hosts[current]}:${options.port} as ${credentials.user}` });
      // The backlog that came with the welcome is shown first (attach() takes the link at once).
      const attached = client.attach(live.link, limitsOf(credentials.welcome));
      for (const line of live.early.splice(0)) client.onEvent(line);
      await attached;
      continue;
    }
    asking = undefined;
    if (next.line === null) break;
    const work = client.execute(next.line);
    // From a pipe, one command at a time, each answered before the next (CLI-4).
    if (ui.interactive) work.catch(() => {});
    else await work;
    if (!ui.interactive && options.bail && client.failures > 0) {
      await client.logout();
      await live.closed;
      return finish(Exit.CommandFailed, 'failed', 'Stopped at a command that failed (--bail)');
    }
    if (client.loggedOut) {
      await live.closed;
      return finish(Exit.Ok, 'logout', 'Logged out');
    }
  }
  // End of input: log out (SESS-3).
  await client.logout();
  await live.closed;
  if (!client.loggedOut) return finish(CLOSE_EXIT[live.farewell?.code ?? ''] ?? Exit.ServerGone, live.farewell?.code ?? 'closed', closedText(live));
  return finish(Exit.Ok, 'logout', 'Logged out');

  /**
   * Tries the next address, then the next, waiting longer each time, until logged in again.
   * On a terminal, Ctrl-D (or Ctrl-C on an empty line) meanwhile gives up: 'left'.
   */
  async function reconnectWire(lost: Wire): Promise<{ wire: Wire; credentials: Credentials } | Exit | 'left'> {
    lost.link.close();
    let left = false;
    const leaving = ui.interactive ? ui.inputEnded.then(() => void (left = true)) : new Promise<void>(() => {});
    for (let attempt = 0; ; attempt++) {
      const wait = backoffMs(attempt);
      if (wait > 0) await Promise.race([Bun.sleep(wait), leaving]);
      if (left) return 'left';
      current = (current + 1) % hosts.length;
      const tried = await Promise.race([attempt1(current), leaving.then(() => undefined)]);
      if (left) {
        if (tried && typeof tried === 'object') tried.wire.link.close();
        return 'left';
      }
      if (tried === undefined) continue;
      if (typeof tried === 'object') return tried;
      // Wrong password or locked now: asking again would be guessing. Anything else: try again.
      if (tried === Exit.Auth) return Exit.Auth;
    }
  }

  /** One attempt: connect to hosts[index] and log in with the saved credentials. */
  async function attempt1(index: number): Promise<{ wire: Wire; credentials: Credentials } | Exit | undefined> {
    let wire: Wire;
    try {
      wire = await open(index);
    } catch {
      return undefined;
    }
    const again = await logIn(ui, wire.link, wire.closed, credentials);
    if (typeof again === 'object') return { wire, credentials: again };
    wire.link.close();
    return again === Exit.Auth ? Exit.Auth : undefined;
  }
}

/** The first connection: each address once, in order; the error of the last if none answers. */
async function firstConnection(hosts: string[], open: (index: number) => Promise<Wire>): Promise<Wire> {
  let error: unknown = new Error('no server address given');
  for (let i = 0; i < hosts.length; i++) {
    try {
      const wire = await open(i);
      // Later reconnects start after this one.
      hosts.push(...hosts.splice(0, i));
      return wire;
    } catch (err) {
      error = err;
    }
  }
  throw error;
}

/** The server's command budget and inactivity timeout, from its welcome. */
function limitsOf(welcome: OkLine): { budget?: { rate: number; burst: number }; inactivityMs?: number } {
  const limit = welcome.rateLimit as { rate?: unknown; burst?: unknown } | undefined;
  const budget = typeof limit?.rate === 'number' && typeof limit.burst === 'number' && limit.rate > 0 ? { rate: limit.rate, burst: limit.burst } : undefined;
  const inactivityMs = typeof welcome.inactivity === 'number' && welcome.inactivity > 0 ? welcome.inactivity * 1000 : undefined;
  return { budget, inactivityMs };
}

export type { Ui };
