// Brokering private peer-to-peer chats (P2P-*): consent, then the peer's address and a one-time token.
// The server never carries private text; it only knows who has a chat open with whom.

import { ChatError, ErrorCode } from '../protocol/errors.ts';
import { encodeLine, type PrivateLine } from '../protocol/server-lines.ts';
import type { TimerId } from '../util/timer-wheel.ts';
import type { CloseReason } from './connection.ts';
import type { Context } from './context.ts';
import type { Session } from './session.ts';
import type { ServerState } from './state.ts';

export interface PrivateRequest {
  readonly key: string;
  readonly from: string;
  readonly to: string;
  readonly timer: TimerId;
}

/** Names hold no whitespace, so a newline cannot make two pairs share a key. */
function requestKey(from: string, to: string): string {
  return `${from}\n${to}`;
}

/** 128 random bits, hex: what the requester must present to the peer, once. */
export function newToken(): string {
  return Buffer.from(crypto.getRandomValues(new Uint8Array(16))).toString('hex');
}

function tell(state: ServerState, user: string, line: PrivateLine): void {
  state.delivery.tell(user, encodeLine(line));
}

/** Private chats are direct TCP connections between clients, which a browser cannot open or take. */
const WEB_NO_PRIVATE = 'Private chats are peer to peer, which a browser cannot do: use the terminal client (chat connect) for them';

function requireTcp(ctx: Context): void {
  if (ctx.conn.transport.kind === 'web') throw new ChatError(ErrorCode.WebClient, WEB_NO_PRIVATE);
}

// p2pport <port>
export function p2pport(ctx: Context, [port]: readonly string[]): void {
  requireTcp(ctx);
  ctx.session.p2pPort = Number(port);
  ctx.ok('p2pport', { port: Number(port) });
}

// startprivate <user>
export function startprivate(ctx: Context, [user]: readonly string[]): void {
  const { state } = ctx;
  const peer = user as string;
  const me = ctx.session;
  requireTcp(ctx);
  ctx.requireAccount(peer);
  ctx.requireOther(peer, 'start a private chat with');
  // Before the online check: the answer must not tell a blocked user whether the blocker is online.
  if (state.isBlocking(peer, me.name)) throw new ChatError(ErrorCode.BlockedByRecipient, `You cannot start a private chat with ${peer}: they have blocked you`);
  const target = state.sessions.get(peer);
  if (!target) throw new ChatError(ErrorCode.Offline, `${peer} is not online`);
  if (me.privatePeers.has(peer)) throw new ChatError(ErrorCode.AlreadyPrivate, `You already have a private chat with ${peer}`);
  if (state.privateRequests.has(requestKey(me.name, peer))) throw new ChatError(ErrorCode.RequestPending, `You already asked ${peer}; waiting for an answer`);
  if (state.privateRequests.has(requestKey(peer, me.name))) throw new ChatError(ErrorCode.RequestPending, `${peer} has asked you for a private chat: answer with accept ${peer} or decline ${peer}`);
  if (target.conn.transport.kind === 'web') throw new ChatError(ErrorCode.PeerUnavailable, `${peer} is on the web client, which cannot take private chats (they are peer to peer)`);
  if (target.p2pPort === undefined) throw new ChatError(ErrorCode.PeerUnavailable, `${peer}'s client does not take private chats`);
  const key = requestKey(me.name, peer);
  const timer = state.wheel.schedule(state.config.privateRequestMs, () => {
    forget(state, key);
    tell(state, me.name, { type: 'private-lapsed', user: peer, reason: 'no answer' });
    tell(state, peer, { type: 'private-lapsed', user: me.name, reason: 'no answer' });
  });
  state.privateRequests.set(key, { key, from: me.name, to: peer, timer });
  me.privateRequests.add(key);
  target.privateRequests.add(key);
  tell(state, peer, { type: 'private-request', user: me.name });
  ctx.ok('requested', { user: peer, text: `Asked ${peer} for a private chat; waiting for an answer` });
}

// accept <user>
export function accept(ctx: Context, [user]: readonly string[]): void {
  const { state } = ctx;
  const me = ctx.session;
  const request = takeRequest(ctx, user as string);
  const requester = state.sessions.get(request.from) as Session;
  const token = newToken();
  me.privatePeers.add(requester.name);
  requester.privatePeers.add(me.name);
  tell(state, requester.name, { type: 'private-accepted', user: me.name, host: ctx.conn.address, port: me.p2pPort, token });
  ctx.ok('accepted', { user: requester.name, token, text: `Accepted: ${requester.name} is connecting to you` });
}

// decline <user>
export function decline(ctx: Context, [user]: readonly string[]): void {
  const request = takeRequest(ctx, user as string);
  tell(ctx.state, request.from, { type: 'private-declined', user: ctx.user });
  ctx.ok('declined', { user: request.from, text: `Declined ${request.from}'s private chat` });
}

// stopprivate <user>
export function stopprivate(ctx: Context, [user]: readonly string[]): void {
  const peer = user as string;
  const me = ctx.session;
  if (!me.privatePeers.has(peer)) throw new ChatError(ErrorCode.NoPrivate, `You have no private chat with ${peer}`);
  me.privatePeers.delete(peer);
  ctx.state.sessions.get(peer)?.privatePeers.delete(me.name);
  tell(ctx.state, peer, { type: 'private-closed', user: me.name, reason: 'stopped' });
  ctx.ok('stopped', { user: peer, text: `Private chat with ${peer} closed` });
}

/** P2P-5: the session is ending; every peer is told, every pending request is withdrawn. */
export function closePrivateChats(state: ServerState, session: Session, reason: CloseReason): void {
  for (const peer of session.privatePeers) {
    state.sessions.get(peer)?.privatePeers.delete(session.name);
    tell(state, peer, { type: 'private-closed', user: session.name, reason });
  }
  session.privatePeers.clear();
  for (const key of [...session.privateRequests]) {
    const request = state.privateRequests.get(key);
    if (!request) continue;
    forget(state, key);
    const other = request.from === session.name ? request.to : request.from;
    tell(state, other, { type: 'private-lapsed', user: session.name, reason });
  }
}

/** The request `from` made to the caller, removed from the books; throws when there is none. */
function takeRequest(ctx: Context, from: string): PrivateRequest {
  const request = ctx.state.privateRequests.get(requestKey(from, ctx.user));
  if (!request) throw new ChatError(ErrorCode.NoRequest, `${from} has not asked you for a private chat`);
  forget(ctx.state, request.key);
  return request;
}

function forget(state: ServerState, key: string): void {
  const request = state.privateRequests.get(key);
  if (!request) return;
  state.wheel.cancel(request.timer);
  state.privateRequests.delete(key);
  state.sessions.get(request.from)?.privateRequests.delete(key);
  state.sessions.get(request.to)?.privateRequests.delete(key);
}
