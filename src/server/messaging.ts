// Routed messages: message, broadcast, ack; delivery to online users, storage for offline ones (MSG, OFF, BCAST).

import { ChatError, ErrorCode } from '../protocol/errors.ts';
import { deliveredLine, encodeMessage, errorLine, okLine } from '../protocol/server-lines.ts';
import type { StoredMessage } from '../store/store.ts';
import type { Conn } from './connection.ts';
import { requireAccount, requireOther, sessionOf, type Context } from './context.ts';
import type { BroadcastResult } from './delivery.ts';
import type { Backlog, Held, Outcome, Session, Unacked } from './session.ts';
import type { ServerState } from './state.ts';

/**
 * A direct message accepted on this node, in one object (hot path, issue 14): the message to
 * write or store, its Unacked record while the recipient has not acknowledged it (`msg` is
 * itself), and its sender's connection and request tag, which the one shared `tellSender` reads:
 * no closure, no second record per message.
 */
class DirectMessage implements StoredMessage, Unacked {
  readonly msg: StoredMessage = this;
  readonly outcome: Outcome = tellSender;
  sentAt: number;
  sentId = 0;
  next: Unacked | undefined = undefined;

  constructor(
    readonly id: number,
    readonly from: string,
    readonly to: string,
    readonly at: number,
    readonly body: string,
    /** Told the outcome, under the request's tag; nothing is sent once it has closed. */
    readonly sender: Conn,
    readonly tag: string | undefined,
  ) {
    this.sentAt = at;
  }
}

/** The outcome of a direct message accepted here (a DirectMessage), told to its sender. */
function tellSender(code: Parameters<Outcome>[0], id: number, text: string | undefined, msg: StoredMessage): void {
  const { sender, tag, to } = msg as DirectMessage;
  if (sender.closed) return;
  if (code === 'delivered') sender.send(deliveredLine(tag, id, to));
  else if (code === 'failed') sender.send(errorLine(tag, ErrorCode.Internal, text ?? 'The message could not be stored; try again'));
  else if (code === 'blocked') sender.send(errorLine(tag, ErrorCode.BlockedByRecipient, text ?? `Your message cannot be delivered: ${to} has blocked you`));
  else sender.send(okLine(tag, code, text === undefined ? { id, to } : { id, to, text }));
}

// message <user> <text>  (a hot verb: the connection and tag, no Context)
export function message(state: ServerState, conn: Conn, tag: string | undefined, args: readonly string[], counted = false): void | Promise<void> {
  const to = args[0] as string;
  const body = args[1] as string;
  const from = sessionOf(conn).name;
  requireAccount(state, to);
  requireOther(from, to, 'message');
  if (state.isBlocking(to, from)) {
    throw new ChatError(ErrorCode.BlockedByRecipient, `Your message cannot be delivered: ${to} has blocked you`);
  }
  if (!state.delivery.isOnline(to) && needsQuota(state)) {
    // The quota needs what waits for an offline recipient, read from the store once: the command
    // runs again when it is known (the recipient may have logged in meanwhile). With a store shared
    // by several nodes it is read for every message: other nodes store and deliver messages too.
    if (!state.mailboxes.has(to) || (state.sharedStore && !counted)) return messageLater(state, conn, tag, args);
    checkQuota(state, to, body);
  }
  state.delivery.direct(new DirectMessage(state.ids.take(), from, to, state.now(), body, conn, tag), tellSender);
}

/** Apart from message() so that message() makes no closure (nor a scope for one). */
function messageLater(state: ServerState, conn: Conn, tag: string | undefined, args: readonly string[]): Promise<void> {
  return loadMailbox(state, args[0] as string).then(() => message(state, conn, tag, args, true));
}

function needsQuota(state: ServerState): boolean {
  return state.config.offlineQuotaMessages > 0 || state.config.offlineQuotaBytes > 0;
}

/** SEC-6: an offline user's stored messages are bounded in number and bytes; the sender is told when full. */
function checkQuota(state: ServerState, to: string, body: string): void {
  const { offlineQuotaMessages: maxCount, offlineQuotaBytes: maxBytes } = state.config;
  const box = state.mailboxes.get(to);
  if (!box) return;
  const bytes = Buffer.byteLength(body);
  if ((maxCount > 0 && box.count + 1 > maxCount) || (maxBytes > 0 && box.bytes + bytes > maxBytes)) {
    throw new ChatError(ErrorCode.MailboxFull, `${to} has too many messages waiting (${box.count}, ${Math.ceil(box.bytes / 1024)} KiB); yours was not stored. Try again after they log in`);
  }
}

/** Counts what waits for `user` in the store, once; then kept up to date (ServerState.mailboxes). */
async function loadMailbox(state: ServerState, user: string): Promise<void> {
  await state.offline.flush();
  const usage = await state.store.usageFor(user);
  // Shared store: what it says now. Messages accepted at the same moment on other nodes may not be
  // in it yet: the quota can be passed by those.
  if (state.sharedStore || !state.mailboxes.has(user)) state.mailboxes.set(user, usage);
}

// broadcast <text>
export function broadcast(ctx: Context, [body]: readonly string[]): void | Promise<void> {
  const { state } = ctx;
  const id = state.ids.take();
  const result = state.delivery.broadcast(ctx.user, id, state.now(), body as string);
  if (result instanceof Promise) return result.then((r) => tellBroadcast(ctx, id, r));
  tellBroadcast(ctx, id, result);
}

function tellBroadcast(ctx: Context, id: number, { reached, skipped, pending = 0 }: BroadcastResult): void {
  if (skipped === 0 && pending === 0) return ctx.ok('sent', { id, reached });
  const texts: string[] = [];
  if (skipped > 0) texts.push('Your broadcast did not reach some users');
  // In a cluster whose Redis is unreachable: the users here have it, the others get it later.
  if (pending > 0) texts.push(`${pending} ${pending === 1 ? 'user' : 'users'} on other servers will get it once this server reaches them again`);
  ctx.ok('partial', { id, reached, ...(pending > 0 && { pending }), text: texts.join('; ') });
}

// ack <id>  (a notification: no reply; a hot verb)
export function ack(state: ServerState, conn: Conn, _tag: string | undefined, args: readonly string[]): void | Promise<void> {
  return acknowledge(state, sessionOf(conn), Number(args[0]));
}

/** The recipient has every message up to `upTo`: senders are told, stored copies go. */
export function acknowledge(state: ServerState, session: Session, upTo: number): void | Promise<void> {
  const limit = Math.min(upTo, session.maxSentId);
  if (limit <= session.ackedUpTo) return;
  session.ackedUpTo = limit;
  for (let unacked = session.firstUnacked; unacked !== undefined && unacked.sentId <= limit; unacked = session.firstUnacked) {
    shiftUnacked(session, unacked);
    // The sender hears of the message by its key, the id it was told when it was accepted (CLU-3).
    unacked.outcome?.('delivered', unacked.msg.id, undefined, unacked.msg);
  }
  if (session.hasStored) {
    // Each stored message by its key: a message stored meanwhile with a lower key was not acked.
    const keys: number[] = [];
    for (const [id, key] of session.stored) {
      if (id > limit) continue; // not in id order: timed-out messages join after a backlog page
      session.stored.delete(id);
      keys.push(key);
    }
    if (keys.length > 0) {
      state.offline.ack(session.name, keys);
      state.mailboxes.delete(session.name);
    }
  }
  // The page of stored messages is through: the next one (SEC-6).
  const to = session.backlog?.to;
  if (to !== undefined && session.ackedUpTo >= to) return sendBacklog(state, session);
}

/** BCAST-1 on this node: every session here but the sender and those who block the sender, now, in the turn the broadcast was accepted. */
export function broadcastHere(state: ServerState, from: string, id: number, at: number, body: string): BroadcastResult {
  // Stamped once for everyone: written in the turn it was accepted, so its key is its id (CLU-3).
  const line = encodeMessage('broadcast', id, from, at, body);
  // For a session whose backlog is still being paged: the broadcast waits (no one recipient, never stored).
  let msg: StoredMessage | undefined;
  let reached = 0;
  let skipped = 0;
  for (const session of state.sessions.values()) {
    if (session.name === from) continue;
    if (state.isBlocking(session.name, from)) {
      skipped++;
      continue;
    }
    holdOrSend(session, line, (msg ??= { id, from, to: '', at, body }));
    reached++;
  }
  return { reached, skipped };
}

/**
 * A broadcast for `session`: `line` is written now (its id stamped in this turn), or the broadcast
 * waits behind the stored backlog and is stamped when written.
 */
export function holdOrSend(session: Session, line: string, msg: StoredMessage): void {
  if (session.backlog) hold(session, session.backlog, { msg, broadcast: true });
  else session.conn.send(line);
}

/** Kept until the stored backlog is through, so that ids reach the client in order (SEC-6). */
function hold(session: Session, backlog: Backlog, item: Held): void {
  backlog.held.push(item);
  // About the line's length; what counts is that a reader who never acks cannot pile up memory.
  backlog.heldBytes += item.msg.body.length + item.msg.from.length + 80;
  // A client that never acknowledges its pages is a reader that fell behind.
  if (backlog.heldBytes > session.conn.outbox.limit) session.conn.abort('overflow');
}

/** Writes `msg` to its recipient's connection here, keeping it until acknowledged (or stored). */
export function sendOnline(state: ServerState, target: Session, msg: StoredMessage, outcome?: Outcome, sentAt = msg.at, handBack?: () => void): void {
  if (target.backlog) return hold(target, target.backlog, handBack ? { msg, outcome, handBack } : { msg, outcome });
  // CLU-3: the id is stamped here, at write time (the key itself for a message accepted this turn).
  const id = state.ids.stamp(msg.id);
  // A message accepted here is its own record; one handed here by another node gets one.
  const unacked: Unacked = msg instanceof DirectMessage && outcome === msg.outcome && !handBack ? msg : { msg, sentAt, outcome, handBack, sentId: id, next: undefined };
  unacked.sentAt = sentAt;
  unacked.sentId = id;
  pushUnacked(target, unacked);
  target.maxSentId = id;
  // Recorded before the write: a write past the outbox limit terminates the connection, and its
  // close handler (run synchronously) ends the session and stores what is unacknowledged.
  target.conn.send(encodeMessage('message', id, msg.from, msg.at, msg.body, false, msg.id));
  if (state.sessions.get(target.name) !== target) return;
  // One timer per session, not one per message: armed when none is.
  if (target.ackTimer === undefined) armAckTimer(state, target, state.config.ackTimeoutMs);
}

function pushUnacked(session: Session, unacked: Unacked): void {
  if (session.lastUnacked) session.lastUnacked.next = unacked;
  else session.firstUnacked = unacked;
  session.lastUnacked = unacked;
}

/** Takes `first` (the head) off the queue. */
function shiftUnacked(session: Session, first: Unacked): void {
  session.firstUnacked = first.next;
  if (first.next === undefined) session.lastUnacked = undefined;
  // Not kept linked: a record held on elsewhere (a store retrying) must not keep the rest alive.
  first.next = undefined;
}

/** Stores `msg` for its recipient's next login; `outcome` hears `stored` after the commit. */
export function store(state: ServerState, msg: StoredMessage, outcome: Outcome | undefined, text: string): void {
  const box = state.mailboxes.get(msg.to);
  if (box) {
    box.count++;
    box.bytes += Buffer.byteLength(msg.body);
  }
  state.offline.add(msg, (error) => {
    if (error) state.log(`store failed for message ${msg.id}: ${String(error)}`);
    outcome?.(error ? 'failed' : 'stored', msg.id, error ? undefined : text, msg);
  });
}

// A message not acknowledged in time is stored, so its sender hears it is safe and a client
// that never acks does not hold it in memory. One timer per session, not one per message.
function armAckTimer(state: ServerState, session: Session, delayMs: number): void {
  session.ackTimer = state.wheel.schedule(delayMs, () => {
    session.ackTimer = undefined;
    const now = state.now();
    for (let unacked = session.firstUnacked; unacked !== undefined; unacked = session.firstUnacked) {
      const age = now - unacked.sentAt;
      if (age < state.config.ackTimeoutMs) {
        armAckTimer(state, session, state.config.ackTimeoutMs - age);
        return;
      }
      shiftUnacked(session, unacked);
      if (unacked.handBack) {
        unacked.handBack();
        continue;
      }
      session.stored.set(unacked.sentId, unacked.msg.id);
      store(state, unacked.msg, unacked.outcome, `Stored until ${session.name} confirms it`);
    }
  });
}

/**
 * OFF-2, at login: the stored messages, oldest first, each with its sender and time. SEC-6: in
 * pages of `backlogPage`; the next page goes when the client has acknowledged this one, so a
 * large backlog never holds the server (or its memory) for long. Meanwhile new messages and
 * broadcasts for this user wait in `held` and follow the last page. Every line is stamped with a
 * fresh id as it is written (CLU-3), stored messages too: ids only ever grow on a connection, and
 * above those of earlier connections, so even a client that keeps the highest id drops nothing.
 */
export async function sendBacklog(state: ServerState, session: Session): Promise<void> {
  // What arrives while the store is read waits behind the page, in the session's backlog.
  const after = backlogOf(session).after ?? 0;
  // Messages queued before now must be in the store before it is read.
  await state.offline.flush();
  const page = state.config.backlogPage > 0 ? state.config.backlogPage : Infinity;
  let stored: StoredMessage[];
  try {
    stored = await state.store.messagesFor(session.name, after, page);
  } catch (err) {
    // Nothing is lost: the stored messages stay, and what was held is stored when the session ends.
    state.log(`cannot read the stored messages of ${session.name}: ${err instanceof Error ? err.message : String(err)}`);
    if (state.sessions.get(session.name) === session) session.conn.bye('store-unavailable', 'Your stored messages cannot be read right now; log in again in a moment');
    return;
  }
  // The session ended meanwhile: its held messages were stored, and these stay stored.
  if (state.sessions.get(session.name) !== session) return;
  let lines: string[];
  try {
    lines = stored.map((m) => {
      const id = state.ids.take();
      session.stored.set(id, m.id);
      session.maxSentId = id;
      return encodeMessage('message', id, m.from, m.at, m.body, true, m.id);
    });
  } catch (err) {
    // No ids left to stamp them with (the store is unreachable): they stay stored, as above.
    state.log(`cannot send the stored messages of ${session.name}: ${err instanceof Error ? err.message : String(err)}`);
    session.conn.bye('store-unavailable', 'Your stored messages cannot be read right now; log in again in a moment');
    return;
  }
  // Sent in one go however long it is: it must not count as the reader falling behind, or a user
  // with more stored than the outbox limit would be cut off at every login and never get them.
  if (lines.length > 0) session.conn.outbox.allow(lines.reduce((n, line) => n + Buffer.byteLength(line), 0));
  for (const line of lines) session.conn.send(line);
  const last = stored.at(-1);
  if (last && stored.length === page) {
    const backlog = backlogOf(session);
    backlog.to = session.maxSentId;
    backlog.after = last.id;
    return;
  }
  const held = session.backlog?.held ?? [];
  session.backlog = undefined;
  for (let i = 0; i < held.length; i++) {
    const { msg, broadcast, outcome, handBack } = held[i] as Held;
    try {
      if (broadcast) session.conn.send(encodeMessage('broadcast', state.ids.take(), msg.from, msg.at, msg.body, false, msg.id));
      else sendOnline(state, session, msg, outcome, state.now(), handBack);
    } catch (err) {
      // No ids left to stamp them with (the store is unreachable): the rest is stored when the session ends.
      session.backlog = { to: undefined, after: undefined, held: held.slice(i), heldBytes: 0 };
      state.log(`cannot send the held messages of ${session.name}: ${err instanceof Error ? err.message : String(err)}`);
      session.conn.bye('store-unavailable', 'Your messages cannot be sent right now; log in again in a moment');
      return;
    }
  }
}

function backlogOf(session: Session): Backlog {
  return (session.backlog ??= { to: undefined, after: undefined, held: [], heldBytes: 0 });
}

/** The connection ended: what it had not acknowledged is stored for the next login. */
export function requeueUnacked(state: ServerState, session: Session): void {
  let unacked = session.firstUnacked;
  const held = session.backlog?.held ?? [];
  session.firstUnacked = session.lastUnacked = undefined;
  session.backlog = undefined;
  const text = `${session.name} went offline; they will get it at their next login`;
  while (unacked !== undefined) {
    const next = unacked.next;
    unacked.next = undefined;
    giveBack(state, unacked, text);
    unacked = next;
  }
  for (const item of held) if (!item.broadcast) giveBack(state, item, text);
}

/** A message that did not reach its recipient here: handed back to its node, or stored. */
function giveBack(state: ServerState, item: Unacked | Held, text: string): void {
  if (item.handBack) item.handBack();
  else store(state, item.msg, item.outcome, text);
}
