// Logging in (AUTH-2, AUTH-3): ask for a username and a password until the server welcomes us.
// A new account is confirmed first (a mistyped name must not silently register), its name and
// password must be long enough, and the password is typed twice. A reconnect logs in again with
// the credentials kept in memory, asking nothing.

import { MIN_NAME_CHARS, MIN_PASSWORD_CHARS } from '../protocol/limits.ts';
import type { OkLine } from '../protocol/server-lines.ts';
import { Exit } from './exit-codes.ts';
import { ConnectionLost, type Reply, type ServerLink } from './server-link.ts';
import type { Ui } from './terminal.ts';

export interface Credentials {
  readonly user: string;
  /** Kept in memory only, to log in again after a reconnect (CLI-9). */
  readonly password: string;
  readonly welcome: OkLine;
}

const CLOSED: unique symbol = Symbol('closed');

/**
 * Logs in on `link`. Returns the credentials and the welcome; an exit code when the user cannot
 * log in (or gave up); 'closed' when the server closed the connection meanwhile.
 */
export async function logIn(ui: Ui, link: ServerLink, closed: Promise<void>, saved?: Credentials): Promise<Credentials | Exit | 'closed'> {
  const until = <T>(p: Promise<T>): Promise<T | typeof CLOSED> => Promise.race<T | typeof CLOSED>([p, closed.then((): typeof CLOSED => CLOSED)]);
  const request = async (verb: 'login' | 'password', arg: string): Promise<Reply | typeof CLOSED> => {
    try {
      return await until(link.request(verb, [arg]));
    } catch (err) {
      if (err instanceof ConnectionLost) return CLOSED;
      throw err;
    }
  };
  const say = (text: string): void => ui.show({ type: 'error', code: 'usage', text });

  if (saved) {
    const first = await request('login', saved.user);
    if (first === CLOSED) return 'closed';
    // The account is gone (new-account) or locked: not ours to guess at.
    if (first.type === 'error' || first.code !== 'password') return first.type === 'error' && first.code !== 'locked' ? Exit.ServerGone : Exit.Auth;
    const reply = await request('password', saved.password);
    if (reply === CLOSED) return 'closed';
    if (reply.type === 'ok') return { ...saved, welcome: reply };
    // already-online: the server has not noticed the old connection end yet; try again later.
    if (reply.code === 'wrong-password' || reply.code === 'locked') {
      ui.show(reply);
      return Exit.Auth;
    }
    return Exit.ServerGone;
  }

  for (;;) {
    const answer = await until(ui.ask('Username: ', { secretNext: true }));
    if (answer === CLOSED) return 'closed';
    const name = answer?.trim();
    if (name === undefined) return Exit.Auth;
    if (name === '' || /\s/.test(name)) {
      say('A username is one word without spaces');
      if (ui.interactive) continue;
      return Exit.Auth;
    }
    const reply = await request('login', name);
    if (reply === CLOSED) return 'closed';
    if (reply.type === 'error') {
      ui.show(reply);
      if (ui.interactive && reply.code !== 'locked') continue;
      return Exit.Auth;
    }
    const isNew = reply.code === 'new-account';
    if (!isNew) ui.show(reply);
    else {
      if ([...name].length < MIN_NAME_CHARS) {
        say(`A new username needs at least ${MIN_NAME_CHARS} characters`);
        if (ui.interactive) continue;
        return Exit.Auth;
      }
      if (ui.interactive) {
        // A mistyped name must not quietly become a new account.
        const confirm = await until(ui.ask(`There is no account called ${name}. Create it? (y/N) `));
        if (confirm === CLOSED) return 'closed';
        if (confirm === null) return Exit.Auth;
        if (!/^y(es)?$/i.test(confirm.trim())) {
          ui.show({ type: 'notice', text: 'No account created' });
          continue;
        }
      } else ui.show(reply);
    }
    const outcome = await askPassword(name, isNew);
    if (outcome !== 'again') return outcome;
  }

  async function askPassword(user: string, isNew: boolean): Promise<Credentials | 'again' | Exit | 'closed'> {
    for (;;) {
      const password = await until(ui.ask(isNew ? 'New password: ' : 'Password: ', { secret: true }));
      if (password === CLOSED) return 'closed';
      if (password === null) return Exit.Auth;
      let problem = password === '' || /\s/.test(password) ? 'A password is one word without spaces' : undefined;
      if (!problem && isNew && [...password].length < MIN_PASSWORD_CHARS) problem = `A new password needs at least ${MIN_PASSWORD_CHARS} characters`;
      if (!problem && isNew && ui.interactive) {
        const again = await until(ui.ask('The same password again: ', { secret: true }));
        if (again === CLOSED) return 'closed';
        if (again === null) return Exit.Auth;
        if (again !== password) problem = 'The two passwords differ; type it again';
      }
      if (problem) {
        say(problem);
        if (ui.interactive) continue;
        return Exit.Auth;
      }
      const reply = await request('password', password);
      if (reply === CLOSED) return 'closed';
      ui.show(reply);
      if (reply.type === 'ok') return { user: String(reply.user ?? user), password, welcome: reply };
      if (!ui.interactive || reply.code === 'locked') return Exit.Auth;
      if (reply.code !== 'wrong-password') return 'again';
    }
  }
}
