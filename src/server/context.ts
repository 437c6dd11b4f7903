// What a command handler gets: the state, its connection, and ways to reply to this request.

import type { Verb } from '../protocol/commands.ts';
import { ChatError, ErrorCode } from '../protocol/errors.ts';
import { errorLine, okLine } from '../protocol/server-lines.ts';
import type { Conn } from './connection.ts';
import type { Session } from './session.ts';
import type { ServerState } from './state.ts';

export type Fields = Record<string, unknown>;

export class Context {
  constructor(
    readonly state: ServerState,
    readonly conn: Conn,
    readonly tag: string | undefined,
  ) {}

  /** The logged-in session; the dispatcher only calls session commands when there is one. */
  get session(): Session {
    return sessionOf(this.conn);
  }

  get user(): string {
    return this.session.name;
  }

  ok(code: string, fields: Fields = {}): void {
    this.conn.send(okLine(this.tag, code, fields));
  }

  error(code: ErrorCode, text: string): void {
    this.conn.send(errorLine(this.tag, code, text));
  }

  /** A reply to send later; dropped if the connection has closed by then. */
  later(): Pick<Context, 'ok' | 'error'> {
    const { conn, tag } = this;
    return {
      ok: (code, fields = {}) => conn.closed || conn.send(okLine(tag, code, fields)),
      error: (code, text) => conn.closed || conn.send(errorLine(tag, code, text)),
    };
  }

  /** Throws the MSG-2/BLK-1 error when `user` has no account. */
  requireAccount(user: string): void {
    requireAccount(this.state, user);
  }

  /** Throws when `user` is the caller; `what` completes "You cannot ... yourself". */
  requireOther(user: string, what: string): void {
    requireOther(this.user, user, what);
  }
}

/** `conn`'s logged-in session; the dispatcher only calls session commands when there is one. */
export function sessionOf(conn: Conn): Session {
  const session = conn.session;
  if (!session) throw new ChatError(ErrorCode.NotLoggedIn, 'Log in first');
  return session;
}

/** Throws the MSG-2/BLK-1 error when `user` has no account. */
export function requireAccount(state: ServerState, user: string): void {
  if (!state.accounts.has(user)) throw new ChatError(ErrorCode.NoSuchUser, `There is no user called ${user}`);
}

/** Throws when `user` is `me`; `what` completes "You cannot ... yourself". */
export function requireOther(me: string, user: string, what: string): void {
  if (user === me) throw new ChatError(ErrorCode.Self, `You cannot ${what} yourself`);
}

/** A handler sends exactly one reply (now or later) unless its verb is a notification, or throws ChatError. */
export type Handler = (ctx: Context, args: readonly string[]) => void | Promise<void>;

/**
 * The verbs every message brings (the `message` and its `ack`) run without a Context: given the
 * connection and the request's tag, so that no object is made a line (hot path, issue 14).
 */
export type HotVerb = 'message' | 'ack';
export type HotHandler = (state: ServerState, conn: Conn, tag: string | undefined, args: readonly string[]) => void | Promise<void>;
export type HandlerTable = { readonly [V in Verb]: V extends HotVerb ? HotHandler : Handler };
