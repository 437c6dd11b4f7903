// What nodes tell each other through Redis Streams: the entries of a node's inbox and of the shared
// events stream, as typed values, with their encoding as stream fields. Pure: no Redis, no sockets.
// An entry that does not decode (another version, a bug) is reported and skipped, never thrown.
// Session scripts (sessions.ts) write `login`/`logout` entries themselves, as flat fields.
// A `pack` carries several deliver/delivered/refused entries for one node in one stream entry (what a
// node has for another in one turn, node-outbox.ts); the single entries stay valid on their own, as
// nodes from before packs send them.

import type { PrivateNotice, PrivateRefusal } from '../server/private.ts';

/** A direct message on its way to the node that holds the recipient's session. */
export interface Deliver {
  readonly type: 'deliver';
  /** Unique for ever (`<node>:<seq>`): the key for storing once. */
  readonly origin: string;
  /** The message's key (CLU-3), given by the sender's node; absent from nodes before keys. */
  readonly key?: number;
  readonly from: string;
  readonly to: string;
  /** Milliseconds since the epoch, when the sender's node accepted it. */
  readonly at: number;
  readonly body: string;
  /** The sender's node inbox owner, where `delivered` / `refused` go back. */
  readonly replyTo: string;
}

/** The recipient acknowledged these (the sender's node tells each sender `delivered`). */
export interface Delivered {
  readonly type: 'delivered';
  readonly origins: readonly string[];
}

/**
 * The owner could not take the message: the user logged out meanwhile (`offline`: the sender's node
 * stores it) or blocks the sender (`blocked`: MSG-2, the sender is told, nothing is stored).
 */
export interface Refused {
  readonly type: 'refused';
  readonly origin: string;
  readonly reason: 'offline' | 'blocked';
}

/** Messages were stored for `user` while they were online here: send the stored backlog. */
export interface Backlog {
  readonly type: 'backlog';
  readonly user: string;
}

/** P2P-*: one side of a private chat tells the other side, a user of the receiving node (receivePrivate). */
export interface PrivateEntry {
  readonly type: 'private';
  readonly notice: PrivateNotice;
}

/** P2P-2: `from` asks `to`, a user of the receiving node, for a private chat; the answer goes to `replyTo`. */
export interface PrivateAsk {
  readonly type: 'private-ask';
  /** Unique among the asking node's open asks. */
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly replyTo: string;
}

/** The answer to a PrivateAsk: without a refusal, the request was put to the user. */
export interface PrivateAnswer {
  readonly type: 'private-answer';
  readonly id: string;
  readonly refusal?: PrivateRefusal;
}

/** A login or logout (written by the session scripts). */
export interface Presence {
  readonly type: 'login' | 'logout';
  readonly user: string;
  readonly owner: string;
  readonly at: number;
}

/**
 * Broadcasts sent on one node; every other node fans them out with the block filter. The sending
 * node (`node`, its name) wrote them to its own users already; an entry without `node` (from a
 * node before this field) is fanned out by every node.
 */
export interface Broadcasts {
  readonly type: 'broadcasts';
  readonly node?: string;
  /** `key`: each broadcast's key (CLU-3); absent from nodes before keys. */
  readonly items: readonly { readonly key?: number; readonly from: string; readonly at: number; readonly body: string }[];
}

/**
 * A block list changed: nodes apply it to their cached blocks of `blocker` at once (`blocked` and
 * `on` given), so that entries after it in the stream (a logout, BLK-2) already see it; without them,
 * nodes reload `blocker`'s blocks from the store.
 */
export interface BlocksChanged {
  readonly type: 'blocks';
  readonly blocker: string;
  readonly blocked?: string;
  readonly on?: boolean;
}

/** What may travel in a pack. */
export type Packable = Deliver | Delivered | Refused;

/** Several entries for one node's inbox, in the order they were put: read as if each came alone. */
export interface Pack {
  readonly type: 'pack';
  readonly entries: readonly Packable[];
}

export type InboxEntry = Deliver | Delivered | Refused | Backlog | PrivateEntry | PrivateAsk | PrivateAnswer | Pack;
export type EventEntry = Presence | Broadcasts | BlocksChanged;
export type NodeMessage = InboxEntry | EventEntry;

/** Stream fields for `message`: `type` plus, except for presence, one JSON field `d`. */
export function encodeEntry(message: NodeMessage): Record<string, string> {
  if (message.type === 'login' || message.type === 'logout') {
    return { type: message.type, user: message.user, owner: message.owner, at: String(message.at) };
  }
  const { type, ...data } = message;
  return { type, d: JSON.stringify(data) };
}

/** The types whose data is one JSON field. */
const DATA_TYPES = new Set(['deliver', 'delivered', 'refused', 'backlog', 'broadcasts', 'blocks', 'private', 'private-ask', 'private-answer', 'pack']);
const PACKABLE = new Set(['deliver', 'delivered', 'refused']);

const isString = (v: unknown): v is string => typeof v === 'string';
const isTime = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** The message in stream fields, or a one-line reason it is not one. */
export function decodeEntry(fields: Readonly<Record<string, string>>): NodeMessage | { readonly error: string } {
  const { type } = fields;
  if (type === 'login' || type === 'logout') {
    const at = Number(fields.at);
    if (!isString(fields.user) || !isString(fields.owner) || !isTime(at)) return { error: `malformed ${type} entry` };
    return { type, user: fields.user, owner: fields.owner, at };
  }
  if (!isString(type) || !DATA_TYPES.has(type)) return { error: `unknown entry type ${JSON.stringify(type) ?? 'undefined'}` };
  let d: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(fields.d ?? '');
    if (!isObject(parsed)) return { error: `malformed ${type} entry: data is not an object` };
    d = parsed;
  } catch {
    return { error: `malformed ${type} entry: data is not JSON` };
  }
  return decodeData(type, d);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** A pack's entries, each checked as if it came alone; one bad entry refuses the pack (a bug, or another version). */
function decodePack(d: Record<string, unknown>): Pack | { readonly error: string } {
  if (!Array.isArray(d.entries) || d.entries.length === 0) return { error: 'malformed pack entry' };
  const entries: Packable[] = [];
  for (const [i, item] of d.entries.entries()) {
    const type: unknown = isObject(item) ? item.type : undefined;
    if (!isString(type) || !PACKABLE.has(type)) return { error: `malformed pack entry: entry ${i} is not a deliver, delivered or refused entry` };
    const entry = decodeData(type, item as Record<string, unknown>);
    if ('error' in entry) return { error: `malformed pack entry: entry ${i}: ${entry.error}` };
    entries.push(entry as Packable);
  }
  return { type: 'pack', entries };
}

/** A data entry of `type` from its parsed `d` (for a pack's entries: the entry itself, with its type). */
function decodeData(type: string, d: Record<string, unknown>): NodeMessage | { readonly error: string } {
  switch (type) {
    case 'deliver':
      if (isString(d.origin) && isString(d.from) && isString(d.to) && isTime(d.at) && isString(d.body) && isString(d.replyTo) && (d.key === undefined || isTime(d.key))) {
        return { type, origin: d.origin, ...(d.key !== undefined && { key: d.key }), from: d.from, to: d.to, at: d.at, body: d.body, replyTo: d.replyTo };
      }
      break;
    case 'delivered':
      if (Array.isArray(d.origins) && d.origins.every(isString)) return { type, origins: d.origins };
      break;
    case 'refused':
      if (isString(d.origin) && (d.reason === 'offline' || d.reason === 'blocked')) return { type, origin: d.origin, reason: d.reason };
      break;
    case 'backlog':
      if (isString(d.user)) return { type, user: d.user };
      break;
    case 'private':
      if (isNotice(d.notice)) return { type, notice: d.notice };
      break;
    case 'private-ask':
      if (isString(d.id) && isString(d.from) && isString(d.to) && isString(d.replyTo)) return { type, id: d.id, from: d.from, to: d.to, replyTo: d.replyTo };
      break;
    case 'private-answer':
      if (isString(d.id) && d.refusal === undefined) return { type, id: d.id };
      if (isString(d.id) && isRefusal(d.refusal)) return { type, id: d.id, refusal: d.refusal };
      break;
    case 'broadcasts':
      if (Array.isArray(d.items) && d.items.every((i: unknown) => isBroadcast(i)) && (d.node === undefined || isString(d.node))) {
        return { type, ...(d.node !== undefined && { node: d.node }), items: d.items };
      }
      break;
    case 'blocks':
      if (isString(d.blocker) && isString(d.blocked) && typeof d.on === 'boolean') return { type, blocker: d.blocker, blocked: d.blocked, on: d.on };
      if (isString(d.blocker)) return { type, blocker: d.blocker };
      break;
    case 'pack':
      return decodePack(d);
    default:
      return { error: `unknown entry type ${JSON.stringify(type)}` };
  }
  return { error: `malformed ${type} entry` };
}

function isBroadcast(v: unknown): v is Broadcasts['items'][number] {
  if (typeof v !== 'object' || v === null) return false;
  const b = v as Record<string, unknown>;
  return isString(b.from) && isTime(b.at) && isString(b.body) && (b.key === undefined || isTime(b.key));
}

function isNotice(v: unknown): v is PrivateNotice {
  if (typeof v !== 'object' || v === null) return false;
  const n = v as Record<string, unknown>;
  if (!isString(n.from) || !isString(n.to)) return false;
  switch (n.kind) {
    case 'accepted':
      return isString(n.host) && typeof n.port === 'number' && isString(n.token);
    case 'declined':
      return true;
    case 'lapsed':
    case 'closed':
      return isString(n.reason);
    default:
      return false;
  }
}

/** The code comes from another node of the same cluster: only its shape is checked. */
function isRefusal(v: unknown): v is PrivateRefusal {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return isString(r.code) && isString(r.text);
}
