// Brokering private peer-to-peer chats (P2P-*): consent, then the peer's address and a one-time token.
// The server never carries private text; it only knows who has a chat open with whom.
// Each user's side lives on the node that holds their session: a request is kept (with its lapse
// timer) on the node of the user asked, so that one node decides between accept and lapse, and what
// one side does reaches the other side's node as a PrivateNotice through the delivery seam (on a
// single node it is a call). The same handlers run on one node and on several.

import { ChatError, ErrorCode } from '../protocol/errors.ts';
import { encodeLine, type PrivateLine } from '../protocol/server-lines.ts';
import type { TimerId } from '../util/timer-wheel.ts';
import type { CloseReason } from './connection.ts';
import type { Context } from './context.ts';
import type { Session } from './session.ts';
import type { ServerState } from './state.ts';

/** A request waiting for an answer, on the node of the user asked (`to`). */
export interface PrivateRequest {
  readonly key: string;
  readonly from: string;
  readonly to: string;
  readonly timer: TimerId;
}

/** Why the node of the user asked will not put a request through: the requester's error reply. */
export interface PrivateRefusal {
  readonly code: ErrorCode;
  readonly text: string;
}

/** What `from`'s side of a private chat tells `to`'s side, on the node that holds `to` (receivePrivate). */
export type PrivateNotice =
  | { readonly kind: 'accepted'; readonly from: string; readonly to: string; readonly host: string; readonly port: number; readonly token: string }
  | { readonly kind: 'declined'; readonly from: string; readonly to: string }
  /** The request between them is gone: no answer in time, or `from` left. */
  | { readonly kind: 'lapsed'; readonly from: string; readonly to: string; readonly reason: string }
  /** `from` closed the chat (stopprivate) or left. */
  | { readonly kind: 'closed'; readonly from: string; readonly to: string; readonly reason: string };

/** Names hold no whitespace, so a newline cannot make two pairs share a key. */
function requestKey(from: string, to: string): string {
  return `${from}\n${to}`;
}

/** 128 random bits, hex: what the requester must present to the peer, once. */
export function newToken(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('hex');
}

/** A line to a user of this node, if online here. */
function tell(state: ServerState, user: string, line: PrivateLine): void {
  state.sessions.get(user)?.conn.send(encodeLine(line));
}

/** Private chats are direct TCP connections between clients, which a browser cannot open or take. */
const WEB_NO_PRIVATE = 'Private chats are peer to peer, which a browser cannot do: use the terminal client (chat connect) for them';

function requireTcp(ctx: Context): void {
  if (ctx.conn.transport.kind === 'web') throw new ChatError(ErrorCode.WebClient, WEB_NO_PRIVATE);
}

const blockedError = (peer: string) => new ChatError(ErrorCode.BlockedByRecipient, `You cannot start a private chat with ${peer}: they have blocked you`);
const answerFirst = (peer: string) => `${peer} has asked you for a private chat: answer with accept ${peer} or decline ${peer}`;

// p2pport <port>
export function p2pport(ctx: Context, [port]: readonly string[]): void {
  requireTcp(ctx);
  ctx.session.p2pPort = Number(port);
  ctx.ok('p2pport', { port: Number(port) });
}

// startprivate <user>
export async function startprivate(ctx: Context, [user]: readonly string[]): Promise<void> {
  const { state } = ctx;
  const peer = user as string;
  const me = ctx.session;
  requireTcp(ctx);
  ctx.requireAccount(peer);
  ctx.requireOther(peer, 'start a private chat with');
  // Before the online check: the answer must not tell a blocked user whether the blocker is online.
  if (state.isBlocking(peer, me.name)) throw blockedError(peer);
  if (!state.delivery.isOnline(peer)) throw new ChatError(ErrorCode.Offline, `${peer} is not online`);
  if (me.privatePeers.has(peer)) throw new ChatError(ErrorCode.AlreadyPrivate, `You already have a private chat with ${peer}`);
  const key = requestKey(me.name, peer);
  if (me.privateRequests.has(key)) throw new ChatError(ErrorCode.RequestPending, `You already asked ${peer}; waiting for an answer`);
  if (me.privateRequests.has(requestKey(peer, me.name))) throw new ChatError(ErrorCode.RequestPending, answerFirst(peer));
  // Marked before asking: a request the peer makes meanwhile (crossing this one) is refused.
  me.privateRequests.add(key);
  const refusal = await state.delivery.askPrivate(me.name, peer);
  if (refusal) {
    me.privateRequests.delete(key);
    throw new ChatError(refusal.code, refusal.text);
  }
  ctx.ok('requested', { user: peer, text: `Asked ${peer} for a private chat; waiting for an answer` });
}

/** P2P-2, on the node that holds `to`: records `from`'s request and tells `to`, or says why not. */
export function askedPrivate(state: ServerState, from: string, to: string): PrivateRefusal | undefined {
  // Checked here too, first: blocks reach other nodes' copies a moment later (the recipient's node decides).
  if (state.isBlocking(to, from)) return { code: ErrorCode.BlockedByRecipient, text: blockedError(to).message };
  const target = state.sessions.get(to);
  if (!target) return { code: ErrorCode.Offline, text: `${to} is not online` };
  if (target.privatePeers.has(from)) return { code: ErrorCode.AlreadyPrivate, text: `You already have a private chat with ${to}` };
  const key = requestKey(from, to);
  if (target.privateRequests.has(key)) return { code: ErrorCode.RequestPending, text: `You already asked ${to}; waiting for an answer` };
  if (target.privateRequests.has(requestKey(to, from))) return { code: ErrorCode.RequestPending, text: answerFirst(to) };
  if (target.conn.transport.kind === 'web') return { code: ErrorCode.PeerUnavailable, text: `${to} is on the web client, which cannot take private chats (they are peer to peer)` };
  if (target.p2pPort === undefined) return { code: ErrorCode.PeerUnavailable, text: `${to}'s client does not take private chats` };
  const timer = state.wheel.schedule(state.config.privateRequestMs, () => {
    forget(state, key);
    tell(state, to, { type: 'private-lapsed', user: from, reason: 'no answer' });
    state.delivery.privateNotice({ kind: 'lapsed', from: to, to: from, reason: 'no answer' });
  });
  state.privateRequests.set(key, { key, from, to, timer });
  target.privateRequests.add(key);
  tell(state, to, { type: 'private-request', user: from });
  return undefined;
}

// accept <user>
export function accept(ctx: Context, [user]: readonly string[]): void {
  const me = ctx.session;
  const request = takeRequest(ctx, user as string);
  const token = newToken();
  me.privatePeers.add(request.from);
  // A request is only made to a session that reported its port (askedPrivate).
  ctx.state.delivery.privateNotice({ kind: 'accepted', from: me.name, to: request.from, host: ctx.conn.address, port: me.p2pPort as number, token });
  ctx.ok('accepted', { user: request.from, token, text: `Accepted: ${request.from} is connecting to you` });
}

// decline <user>
export function decline(ctx: Context, [user]: readonly string[]): void {
  const request = takeRequest(ctx, user as string);
  ctx.state.delivery.privateNotice({ kind: 'declined', from: ctx.user, to: request.from });
  ctx.ok('declined', { user: request.from, text: `Declined ${request.from}'s private chat` });
}

// stopprivate <user>
export function stopprivate(ctx: Context, [user]: readonly string[]): void {
  const peer = user as string;
  if (!ctx.session.privatePeers.delete(peer)) throw new ChatError(ErrorCode.NoPrivate, `You have no private chat with ${peer}`);
  ctx.state.delivery.privateNotice({ kind: 'closed', from: ctx.user, to: peer, reason: 'stopped' });
  ctx.ok('stopped', { user: peer, text: `Private chat with ${peer} closed` });
}

/** On the node that holds `notice.to`: what the other side did. Idempotent: a notice about nothing known is dropped. */
export function receivePrivate(state: ServerState, notice: PrivateNotice): void {
  const { from, to } = notice;
  const session = state.sessions.get(to);
  switch (notice.kind) {
    case 'accepted':
      if (!session?.privateRequests.delete(requestKey(to, from))) {
        // The requester left (or their request was withdrawn) while the answer was on its way.
        state.delivery.privateNotice({ kind: 'closed', from: to, to: from, reason: 'disconnected' });
        return;
      }
      session.privatePeers.add(from);
      return tell(state, to, { type: 'private-accepted', user: from, host: notice.host, port: notice.port, token: notice.token });
    case 'declined':
      if (session?.privateRequests.delete(requestKey(to, from))) tell(state, to, { type: 'private-declined', user: from });
      return;
    case 'lapsed': {
      let had = false;
      for (const key of [requestKey(from, to), requestKey(to, from)]) {
        if (!session?.privateRequests.delete(key)) continue;
        had = true;
        forget(state, key);
      }
      if (had) tell(state, to, { type: 'private-lapsed', user: from, reason: notice.reason });
      return;
    }
    case 'closed':
      if (session?.privatePeers.delete(from)) tell(state, to, { type: 'private-closed', user: from, reason: notice.reason });
  }
}

/** P2P-5: the session is ending; every peer is told, every pending request is withdrawn. */
export function closePrivateChats(state: ServerState, session: Session, reason: CloseReason): void {
  if (!session.hasPrivateChats) return;
  const me = session.name;
  for (const peer of session.privatePeers) state.delivery.privateNotice({ kind: 'closed', from: me, to: peer, reason });
  session.privatePeers.clear();
  for (const key of [...session.privateRequests]) {
    const [from, to] = key.split('\n') as [string, string];
    // A request made to this user is kept here; one this user made, on the other side (the notice drops it).
    if (to === me) forget(state, key);
    state.delivery.privateNotice({ kind: 'lapsed', from: me, to: from === me ? to : from, reason });
  }
  session.privateRequests.clear();
}

/**
 * `user` is gone without a word from its node (the node died and the janitor logged its users out,
 * CLU-3): the users here with a chat or a request with them are told (P2P-5).
 */
export function privatePeerGone(state: ServerState, user: string): void {
  for (const session of state.sessions.values()) {
    if (!session.hasPrivateChats) continue;
    receivePrivate(state, { kind: 'closed', from: user, to: session.name, reason: 'disconnected' });
    receivePrivate(state, { kind: 'lapsed', from: user, to: session.name, reason: 'disconnected' });
  }
}

/** The request `from` made to the caller, removed from the books; throws when there is none. */
function takeRequest(ctx: Context, from: string): PrivateRequest {
  const request = ctx.state.privateRequests.get(requestKey(from, ctx.user));
  if (!request) throw new ChatError(ErrorCode.NoRequest, `${from} has not asked you for a private chat`);
  forget(ctx.state, request.key);
  return request;
}

/** Drops a request kept here (the asked user's side); the requester's side is told by a notice. */
function forget(state: ServerState, key: string): void {
  const request = state.privateRequests.get(key);
  if (!request) return;
  state.wheel.cancel(request.timer);
  state.privateRequests.delete(key);
  state.sessions.get(request.to)?.privateRequests.delete(key);
}
