// Routed messages: message, broadcast, ack; delivery to online users, storage for offline ones (MSG, OFF, BCAST).

import { ChatError, ErrorCode } from '../protocol/errors.ts';
import { deliveredLine, encodeMessage, errorLine, okLine } from '../protocol/server-lines.ts';
import type { StoredMessage } from '../store/store.ts';
import type { Context } from './context.ts';
import type { Outcome, Session, Unacked } from './session.ts';
import type { ServerState } from './state.ts';

// message <user> <text>
export function message(ctx: Context, [to, body]: readonly string[]): void {
  const { state } = ctx;
  const from = ctx.user;
  ctx.requireAccount(to as string);
  ctx.requireOther(to as string, 'message');
  if (state.isBlocking(to as string, from)) {
    throw new ChatError(ErrorCode.BlockedByRecipient, `Your message cannot be delivered: ${to} has blocked you`);
  }
  // One closure per message (profiled: this is the hot path); dropped if the connection has closed.
  const { conn, tag } = ctx;
  const outcome: Outcome = (code, id, text) => {
    if (conn.closed) return;
    if (code === 'delivered') conn.send(deliveredLine(tag, id, to as string));
    else if (code === 'failed') conn.send(errorLine(tag, ErrorCode.Internal, text ?? 'The message could not be stored; try again'));
    else conn.send(okLine(tag, code, text === undefined ? { id, to } : { id, to, text }));
  };
  const msg: StoredMessage = { id: state.ids.take(), from, to: to as string, at: state.now(), body: body as string };
  const target = state.sessions.get(msg.to);
  if (target) sendOnline(state, target, msg, outcome);
  else store(state, msg, outcome, `${msg.to} is offline and will get it at their next login`);
}

// broadcast <text>
export function broadcast(ctx: Context, [body]: readonly string[]): void {
  const { state } = ctx;
  const from = ctx.user;
  const id = state.ids.take();
  const line = encodeMessage('broadcast', id, from, state.now(), body as string);
  let reached = 0;
  let skipped = 0;
  for (const session of state.sessions.values()) {
    if (session.name === from) continue;
    if (state.isBlocking(session.name, from)) {
      skipped++;
      continue;
    }
    session.conn.send(line);
    reached++;
  }
  if (skipped > 0) ctx.ok('partial', { id, reached, text: 'Your broadcast did not reach some users' });
  else ctx.ok('sent', { id, reached });
}

// ack <id>  (a notification: no reply)
export function ack(ctx: Context, [id]: readonly string[]): void {
  acknowledge(ctx.state, ctx.session, Number(id));
}

/** The recipient has every message up to `upTo`: senders are told, stored copies go. */
export function acknowledge(state: ServerState, session: Session, upTo: number): void {
  const limit = Math.min(upTo, session.maxSentId);
  if (limit <= session.ackedUpTo) return;
  session.ackedUpTo = limit;
  for (const [id, unacked] of session.unacked) {
    if (id > limit) break;
    session.unacked.delete(id);
    unacked.outcome?.('delivered', id);
  }
  if (session.storedUpTo > 0) {
    state.offline.ack(session.name, Math.min(limit, session.storedUpTo));
    if (limit >= session.storedUpTo) session.storedUpTo = 0;
  }
}

function sendOnline(state: ServerState, target: Session, msg: StoredMessage, outcome?: Outcome): void {
  // Written in the turn it was accepted in: its acceptance time is its sending time.
  target.unacked.set(msg.id, { msg, sentAt: msg.at, outcome });
  target.maxSentId = msg.id;
  // Recorded before the write: a write past the outbox limit terminates the connection, and its
  // close handler (run synchronously) ends the session and stores what is in `unacked`.
  target.conn.send(encodeMessage('message', msg.id, msg.from, msg.at, msg.body));
  if (state.sessions.get(target.name) !== target) return;
  armAckTimer(state, target, state.config.ackTimeoutMs);
}

function store(state: ServerState, msg: StoredMessage, outcome: Outcome | undefined, text: string): void {
  state.offline.add(msg, (error) => {
    if (error) state.log(`store failed for message ${msg.id}: ${String(error)}`);
    outcome?.(error ? 'failed' : 'stored', msg.id, error ? undefined : text);
  });
}

// A message not acknowledged in time is stored, so its sender hears it is safe and a client
// that never acks does not hold it in memory. One timer per session, not one per message.
function armAckTimer(state: ServerState, session: Session, delayMs: number): void {
  if (session.ackTimer !== undefined) return;
  session.ackTimer = state.wheel.schedule(delayMs, () => {
    session.ackTimer = undefined;
    const now = state.now();
    for (const [id, unacked] of session.unacked) {
      const age = now - unacked.sentAt;
      if (age < state.config.ackTimeoutMs) {
        armAckTimer(state, session, state.config.ackTimeoutMs - age);
        return;
      }
      session.unacked.delete(id);
      session.storedUpTo = Math.max(session.storedUpTo, id);
      store(state, unacked.msg, unacked.outcome, `Stored until ${session.name} confirms it`);
    }
  });
}

/** OFF-2, at login: every stored message, oldest first, each with its sender and time. */
export function sendBacklog(state: ServerState, session: Session): void {
  // Messages queued this turn must be in the store before it is read.
  state.offline.flush();
  const stored = state.store.messagesFor(session.name);
  const lines = stored.map((m) => encodeMessage('message', m.id, m.from, m.at, m.body, true));
  // Sent in one go however long it is: it must not count as the reader falling behind, or a user
  // with more stored than the outbox limit would be cut off at every login and never get them.
  if (lines.length > 0) session.conn.outbox.allow(lines.reduce((n, line) => n + Buffer.byteLength(line), 0));
  for (const line of lines) session.conn.send(line);
  const last = stored.at(-1);
  if (last) {
    session.maxSentId = last.id;
    session.storedUpTo = last.id;
  }
}

/** The connection ended: what it had not acknowledged is stored for the next login. */
export function requeueUnacked(state: ServerState, session: Session): void {
  const pending: Unacked[] = [...session.unacked.values()];
  session.unacked.clear();
  for (const unacked of pending) {
    store(state, unacked.msg, unacked.outcome, `${session.name} went offline; they will get it at their next login`);
  }
}
