// `chat connect`: connect, log in (AUTH-2), run commands until logout or end of input, and
// pick the exit code (CLI-6).

import { ChatClient } from './chat-client.ts';
import { SeenIds, stateDir } from './seen-ids.ts';
import { complete } from './commands.ts';
import { Exit } from './exit-codes.ts';
import { ConnectionLost, ServerLink, type Reply } from './server-link.ts';
import { createUi, type Ui } from './terminal.ts';
import type { ByeLine, OkLine, ServerLine } from '../protocol/server-lines.ts';
import { RateLimiter } from '../util/rate-limiter.ts';

export interface ClientOptions {
  port: number;
  host: string;
  /** Port for the private-chat listener; 0 for any. */
  p2pPort: number;
  json: boolean;
  /** Connect over TLS, trusting `ca` (a PEM file) or the system's certificate authorities. */
  tls?: { ca?: string };
  /** Where the ids of messages already shown are kept (default: stateDir()). */
  stateDir?: string;
}

/** Why the server closed the connection, from the last `bye` or closing error it sent. */
const CLOSE_EXIT: Record<string, Exit> = { logout: Exit.Ok, timeout: Exit.Timeout, locked: Exit.Auth };

export async function runClient(options: ClientOptions): Promise<number> {
  let client: ChatClient | undefined;
  const ui = createUi({ json: options.json, complete: (line) => complete(line, (c) => client?.namesFor(c) ?? []) });
  const finish = (status: Exit, reason: string, text: string): Exit => {
    client?.stop();
    ui.show({ type: 'exit', status, reason, text });
    ui.close();
    return status;
  };

  // Whatever the server last said before closing decides how we exit.
  let farewell: ByeLine | undefined;
  let closedResolve!: () => void;
  const closed = new Promise<void>((resolve) => (closedResolve = resolve));
  const early: ServerLine[] = [];
  let link: ServerLink;
  try {
    link = await ServerLink.open(options.host, options.port, {
      onEvent: (line) => {
        if (line.type === 'bye') farewell = line;
        if (client) client.onEvent(line);
        else if (line.type === 'bye') ui.show(line);
        else early.push(line);
      },
      onClose: () => closedResolve(),
    }, options.tls);
  } catch (err) {
    return finish(Exit.ServerGone, 'unreachable', (err as Error).message);
  }
  const whenClosed = (): Exit => {
    if (client?.loggedOut) return finish(Exit.Ok, 'logout', 'Logged out');
    const status = CLOSE_EXIT[farewell?.code ?? ''] ?? Exit.ServerGone;
    // A TLS server drops a plain connection without a word.
    const silent = link.heard ? '' : options.tls ? '' : ' without answering (does it need --tls?)';
    return finish(status, farewell?.code ?? 'closed', farewell ? `Disconnected: ${farewell.text}` : `The server closed the connection${silent}`);
  };

  try {
    const welcome = await logIn(ui, link);
    if (typeof welcome === 'number') {
      link.close();
      return finish(welcome, 'login', 'Not logged in');
    }
    const user = String(welcome.user);
    client = new ChatClient(user, link, ui, SeenIds.open(options.stateDir ?? stateDir(), welcome.server, user), budgetOf(welcome));
    for (const line of early.splice(0)) client.onEvent(line);
    await client.startPeers(options.p2pPort);
    await client.learnOnline();
    for (;;) {
      const line = await Promise.race([ui.ask('> '), closed.then(() => undefined)]);
      if (line === undefined) return whenClosed();
      if (line === null) break;
      const work = client.execute(line);
      // From a pipe, one command at a time, each answered before the next (CLI-4).
      if (ui.interactive) work.catch(() => {});
      else await work;
      if (client.loggedOut) {
        await closed;
        return whenClosed();
      }
    }
    // End of input: log out (SESS-3).
    await client.logout();
    await closed;
    return finish(Exit.Ok, 'logout', 'Logged out');
  } catch (err) {
    if (!(err instanceof ConnectionLost)) throw err;
    await closed;
    return whenClosed();
  }
}

/** The server's command budget, from its welcome, if it has one. */
function budgetOf(welcome: OkLine): RateLimiter | undefined {
  const limit = welcome.rateLimit as { rate?: unknown; burst?: unknown } | undefined;
  if (typeof limit?.rate !== 'number' || typeof limit.burst !== 'number' || limit.rate <= 0) return undefined;
  const budget = new RateLimiter(limit.rate, limit.burst, Date.now());
  // `login` and `password` came out of the same budget on the server.
  budget.take(Date.now(), 2);
  return budget;
}

/** Asks for a username and password until logged in; returns the welcome, or an exit code. */
async function logIn(ui: Ui, link: ServerLink): Promise<OkLine | Exit> {
  for (;;) {
    const name = (await ui.ask('Username: '))?.trim();
    if (name === undefined) return Exit.Auth;
    if (name === '' || /\s/.test(name)) {
      ui.show({ type: 'error', code: 'usage', text: 'A username is one word without spaces' });
      if (ui.interactive) continue;
      return Exit.Auth;
    }
    const reply = await link.request('login', [name]);
    ui.show(reply);
    if (reply.type === 'error') {
      if (ui.interactive && reply.code !== 'locked') continue;
      return Exit.Auth;
    }
    const outcome = await askPassword(ui, link, reply.code === 'new-account' ? 'New password: ' : 'Password: ');
    if (outcome !== 'again') return outcome;
  }
}

async function askPassword(ui: Ui, link: ServerLink, prompt: string): Promise<OkLine | 'again' | Exit> {
  for (;;) {
    const password = await ui.ask(prompt, { secret: true });
    if (password === null) return Exit.Auth;
    if (password === '' || /\s/.test(password)) {
      ui.show({ type: 'error', code: 'usage', text: 'A password is one word without spaces' });
      if (ui.interactive) continue;
      return Exit.Auth;
    }
    const reply: Reply = await link.request('password', [password]);
    ui.show(reply);
    if (reply.type === 'ok') return reply;
    if (!ui.interactive || reply.code === 'locked') return Exit.Auth;
    if (reply.code !== 'wrong-password') return 'again';
  }
}
