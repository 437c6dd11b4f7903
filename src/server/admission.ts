// Who gets a connection and how much they may send: connection caps (in total and per address),
// the deadline to log in, and the per-connection command budget.

import { ErrorCode } from '../protocol/errors.ts';
import { BURST_SECONDS } from '../protocol/limits.ts';
import { errorLine } from '../protocol/server-lines.ts';
import type { Conn } from './connection.ts';
import { RateLimiter } from '../util/rate-limiter.ts';
import type { ServerState } from './state.ts';

/** Counts a new connection in; refuses it with one clear line when a cap is reached. */
export function admit(state: ServerState, conn: Conn): boolean {
  const { maxConnections, maxPerAddress, loginTimeoutMs, rateLimit } = state.config;
  const fromAddress = state.perAddress.get(conn.address) ?? 0;
  const full = maxConnections > 0 && state.connections >= maxConnections;
  if (full || (maxPerAddress > 0 && fromAddress >= maxPerAddress)) {
    const text = full ? 'The server is full; try again later' : `Too many connections from ${conn.address}; close some and try again`;
    conn.close('too-many-connections', errorLine(undefined, ErrorCode.TooManyConnections, text));
    return false;
  }
  state.connections++;
  state.perAddress.set(conn.address, fromAddress + 1);
  conn.counted = true;
  conn.loginTimer = state.wheel.schedule(loginTimeoutMs, () => {
    if (!conn.session) conn.close('login-timeout', errorLine(undefined, ErrorCode.LoginTimeout, `No login within ${loginTimeoutMs / 1000} s; closing the connection`));
  });
  if (rateLimit > 0) conn.limiter = new RateLimiter(rateLimit, rateLimit * BURST_SECONDS, state.now());
  return true;
}

/** The connection closed: it no longer counts. Idempotent. */
export function release(state: ServerState, conn: Conn): void {
  if (conn.loginTimer !== undefined) state.wheel.cancel(conn.loginTimer);
  conn.loginTimer = undefined;
  if (!conn.counted) return;
  conn.counted = false;
  state.connections--;
  const left = (state.perAddress.get(conn.address) ?? 1) - 1;
  if (left > 0) state.perAddress.set(conn.address, left);
  else state.perAddress.delete(conn.address);
}

/**
 * Spends `cost` from the connection's budget. Returns false when the line must not run:
 * it was answered with `rate-limited`, or the connection was closed for flooding.
 */
export function withinBudget(state: ServerState, conn: Conn, tag: string | undefined, cost = 1): boolean {
  if (!conn.limiter) return true;
  const verdict = conn.limiter.take(state.now(), cost);
  if (verdict === 'ok') return true;
  if (verdict === 'flood') {
    conn.close('flood', errorLine(tag, ErrorCode.RateLimited, 'Far too many commands; closing the connection'));
    return false;
  }
  const retryAfterMs = conn.limiter.waitMs(state.now());
  conn.send(errorLine(tag, ErrorCode.RateLimited, `Too many commands: at most ${state.config.rateLimit} a second. Try again in ${Math.ceil(retryAfterMs / 100) / 10} s`, { retryAfterMs }));
  return false;
}
