// One client connection: its unfinished line, its outbox, where it is in logging in, and its session.
//
// 19,000 idle users each hold one of these (B3: RSS per idle user), so a Conn holds what every
// connection needs in its own fields, and what only some connections need for a while (logging
// in, lines waiting for a busy handler) in objects made for that time.

import type { Line, PartialLine } from '../protocol/line-splitter.ts';
import { encodeLine } from '../protocol/server-lines.ts';
import { Outbox, type TurnFlusher } from '../util/outbox.ts';
import type { TimerId } from '../util/timer-wheel.ts';
import type { RateLimiter } from '../util/rate-limiter.ts';
import { addressKey } from './address-limits.ts';
import type { Session } from './session.ts';
import type { Transport } from './transport/transport.ts';

/** Why a connection ended; decides what the session's peers and the log are told. */
export type CloseReason =
  | 'logout'
  | 'timeout'
  | 'login-timeout'
  | 'locked'
  | 'disconnected'
  | 'overflow'
  | 'line-too-long'
  | 'flood'
  | 'too-many-connections'
  | 'banned'
  | 'evicted'
  | 'handshake-timeout'
  | 'tls-failed'
  | 'shutdown'
  | 'store-unavailable';

/** What a connection holds while it logs in: made with it, dropped at the welcome (loggedIn()). */
export class LoggingIn {
  constructor(
    /** Set by the TLS transport until the handshake is done: nothing written before then arrives. */
    public handshaking: boolean,
  ) {}
  /** The username given to `login`, waiting for `password`. */
  user: string | undefined = undefined;
  /** True when `user` has no account yet (AUTH-3). */
  newAccount = false;
  /** `login` is asking the shared store for an account (once per login command). */
  lookedUp = false;
  /** Closes the connection if it has not logged in in time. */
  timer: TimerId | undefined = undefined;
  /** Closes the connection if its TLS handshake is not done in time (SEC-5). */
  handshakeTimer: TimerId | undefined = undefined;
}

/** Lines that came while an async handler ran, to be handled in order after it (Conn.waiting). */
export class Waiting {
  readonly lines: Line[] = [];
  /** Characters in `lines` (a logged-in connection's bound). */
  bytes = 0;
}

export class Conn implements PartialLine {
  /** Bytes of an unfinished line (splitLines), kept here rather than in a LineSplitter each. */
  partial: Uint8Array | null = null;
  readonly outbox: Outbox;
  /** Until the welcome; undefined once logged in. */
  loggingIn: LoggingIn | undefined;
  session: Session | undefined;
  /** Defined while an async handler (password check, a store call) runs: later lines wait in it. */
  waiting: Waiting | undefined;
  closeReason: CloseReason | undefined;
  closed = false;
  /** Counted in ServerState.connections (refused connections are not). */
  counted = false;
  /** Undefined when the server has no rate limit. */
  limiter: RateLimiter | undefined;
  /** A rate-limit refusal was logged and no command has passed since (one log line per run). */
  rateLimitLogged = false;
  constructor(
    readonly transport: Transport,
    /** The peer's IP address, IPv4-mapped IPv6 turned back into IPv4. */
    readonly address: string,
    flusher: TurnFlusher,
    outboxLimit: number,
    /** A TLS handshake is still to come (TCP with TLS: the connection opens at the TCP accept, SEC-5). */
    handshaking = false,
  ) {
    this.loggingIn = new LoggingIn(handshaking);
    this.outbox = new Outbox(transport, flusher, outboxLimit, abortOverflow, this);
  }

  /**
   * What per-address limits count this connection under (IPv6: its /64). Worked out when asked
   * (at admission, at the close, at a failed login), not kept: for IPv4 it is the address itself.
   */
  get key(): string {
    return addressKey(this.address);
  }

  send(line: string): void {
    this.outbox.push(line);
  }

  /** Says why (a `bye` or error line already encoded), writes what is queued, and closes. */
  close(reason: CloseReason, lastLine?: string): void {
    if (this.closed) return;
    this.closeReason ??= reason;
    if (lastLine) this.outbox.push(lastLine);
    this.outbox.flush();
    this.outbox.close();
    this.closed = true;
    this.transport.end();
  }

  /** A TLS handshake is still to come or under way (only ever while logging in). */
  get handshaking(): boolean {
    return this.loggingIn?.handshaking ?? false;
  }

  /** Closes with `lastLine`, or without a word while a TLS handshake is unfinished (it would be lost). */
  refuse(reason: CloseReason, lastLine: string): void {
    if (this.handshaking) this.abort(reason);
    else this.close(reason, lastLine);
  }

  /** Closes with a `bye` line carrying `code` and `text`. */
  bye(reason: CloseReason, text: string): void {
    this.close(reason, encodeLine({ type: 'bye', code: reason, text }));
  }

  /** Drops the connection without writing more (a reader that fell too far behind). */
  abort(reason: CloseReason): void {
    if (this.closed) return;
    this.closeReason ??= reason;
    this.closed = true;
    this.outbox.close();
    // Bun runs the close handler inside terminate(). An overflow happens inside some other
    // user's command; ending this session in the middle of it (presence, delivery, a private
    // chat) would interleave two handlers. Nothing more is sent here meanwhile: `closed` is set.
    queueMicrotask(() => this.transport.terminate());
  }
}

function abortOverflow(this: Conn): void {
  this.abort('overflow');
}

/** `::ffff:1.2.3.4` -> `1.2.3.4`, so one host has one key whichever way it connected. */
export function normaliseAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
