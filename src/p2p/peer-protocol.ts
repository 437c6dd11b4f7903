// The peer-to-peer wire format, payloads and token book (P2P-2, P2P-3). Pure: no sockets, no
// clock of its own. The cryptography is in peer-crypto.ts; docs/PROTOCOL.md is the spec.
//
//   requester -> peer:  hello <requester> <nonceR> <ePubR> <macR>
//   peer -> requester:  welcome <peer> <nonceP> <ePubP> <macP>
//   then either way:    box <base64>      (AES-256-GCM of a JSON payload, see PeerPayload)

import { MAX_LINE_BYTES, MAX_TEXT_CHARS } from '../protocol/limits.ts';
import { TAG_BYTES } from './peer-crypto.ts';

export type PeerLine =
  | { kind: 'hello'; user: string; nonce: string; ephemeral: string; mac: string }
  | { kind: 'welcome'; user: string; nonce: string; ephemeral: string; mac: string }
  | { kind: 'box'; box: string };

const HELLO = /^hello (\S+) ([0-9a-f]{32}) ([0-9a-f]{64}) ([0-9a-f]{64})$/;
const WELCOME = /^welcome (\S+) ([0-9a-f]{32}) ([0-9a-f]{64}) ([0-9a-f]{64})$/;
const BOX = /^box ([A-Za-z0-9+/]+={0,2})$/;

/** Parses a peer line; undefined when it is not one (the connection is then dropped). */
export function parsePeerLine(line: string): PeerLine | undefined {
  let m = BOX.exec(line);
  if (m) return { kind: 'box', box: m[1] as string };
  m = HELLO.exec(line);
  if (m) return { kind: 'hello', user: m[1] as string, nonce: m[2] as string, ephemeral: m[3] as string, mac: m[4] as string };
  m = WELCOME.exec(line);
  if (m) return { kind: 'welcome', user: m[1] as string, nonce: m[2] as string, ephemeral: m[3] as string, mac: m[4] as string };
  return undefined;
}

export function formatPeerLine(line: PeerLine): string {
  switch (line.kind) {
    case 'hello':
      return `hello ${line.user} ${line.nonce} ${line.ephemeral} ${line.mac}\n`;
    case 'welcome':
      return `welcome ${line.user} ${line.nonce} ${line.ephemeral} ${line.mac}\n`;
    case 'box':
      return `box ${line.box}\n`;
  }
}

/**
 * What a box holds, as JSON with exactly these keys. A message longer than one box allows goes
 * as several `msg` parts: every part but the last has `"more": true`.
 */
export type PeerPayload = { t: 'msg'; text: string; more?: true } | { t: 'bye' };

/** Parses a box's plaintext; undefined for anything but a payload above (the connection is then dropped). */
export function parsePayload(json: string): PeerPayload | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  const keys = Object.keys(v).length;
  if (v.t === 'bye' && keys === 1) return { t: 'bye' };
  if (v.t !== 'msg' || typeof v.text !== 'string') return undefined;
  if (keys === 2) return { t: 'msg', text: v.text };
  if (keys === 3 && v.more === true) return { t: 'msg', text: v.text, more: true };
  return undefined;
}

export function formatPayload(payload: PeerPayload): string {
  // Fixed key order, so the size bound below holds.
  return payload.t === 'bye' ? '{"t":"bye"}' : JSON.stringify(payload.more ? { t: 'msg', text: payload.text, more: true } : { t: 'msg', text: payload.text });
}

/** Longest sealed box (ciphertext and tag) whose line `box <base64>` fits in MAX_LINE_BYTES. */
export const MAX_BOX_BYTES = Math.floor((MAX_LINE_BYTES - 'box '.length) / 4) * 3;
/** Longest payload JSON, in bytes, that fits in one box. */
export const MAX_PAYLOAD_BYTES = MAX_BOX_BYTES - TAG_BYTES;
/**
 * Most UTF-16 code units of text in one `msg` part. JSON spends at most 6 bytes on a code unit (a
 * control character or a lone surrogate becomes \uXXXX), so any part this long fits in a box.
 */
export const PART_UNITS = Math.floor((MAX_PAYLOAD_BYTES - formatPayload({ t: 'msg', text: '', more: true }).length) / 6);

/**
 * The payloads that carry `text`: one message per MAX_TEXT_CHARS characters (code points, as on
 * the server), each in as many parts as its size needs.
 */
export function messagePayloads(text: string): PeerPayload[] {
  const payloads: PeerPayload[] = [];
  for (const message of byCodePoints(text, MAX_TEXT_CHARS)) {
    const parts = byUnits(message, PART_UNITS);
    parts.forEach((part, i) => payloads.push(i < parts.length - 1 ? { t: 'msg', text: part, more: true } : { t: 'msg', text: part }));
  }
  return payloads;
}

/** Puts message parts back together; a message over MAX_TEXT_CHARS characters is refused. */
export class Reassembler {
  private parts: string[] = [];
  private chars = 0;

  /** The whole text when `payload` ends a message, 'more' while parts are missing, 'too-long' to refuse. */
  push(payload: { text: string; more?: true }): { text: string } | 'more' | 'too-long' {
    this.chars += charCount(payload.text);
    if (this.chars > MAX_TEXT_CHARS) return 'too-long';
    this.parts.push(payload.text);
    if (payload.more) return 'more';
    const text = this.parts.join('');
    this.parts = [];
    this.chars = 0;
    return { text };
  }
}

function isPair(text: string, i: number): boolean {
  const hi = text.charCodeAt(i);
  const lo = text.charCodeAt(i + 1);
  return hi >= 0xd800 && hi <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff;
}

/** Code points (a lone surrogate counts as one). */
function charCount(text: string): number {
  let n = 0;
  for (let i = 0; i < text.length; i += isPair(text, i) ? 2 : 1) n++;
  return n;
}

/** Pieces of at most `max` code points; '' gives one empty piece. */
function byCodePoints(text: string, max: number): string[] {
  const pieces: string[] = [];
  let start = 0;
  let n = 0;
  for (let i = 0; i < text.length; i += isPair(text, i) ? 2 : 1) {
    if (n === max) {
      pieces.push(text.slice(start, i));
      start = i;
      n = 0;
    }
    n++;
  }
  pieces.push(text.slice(start));
  return pieces;
}

/** Pieces of at most `max` UTF-16 code units, never between the halves of a surrogate pair. */
function byUnits(text: string, max: number): string[] {
  const pieces: string[] = [];
  let start = 0;
  while (text.length - start > max) {
    let end = start + max;
    if (isPair(text, end - 1)) end--;
    pieces.push(text.slice(start, end));
    start = end;
  }
  pieces.push(text.slice(start));
  return pieces;
}

/**
 * Tokens this client has been given by the server for requesters it accepted, by requester. A
 * token is good for the one user it was issued for, once, until it expires.
 */
/** Failed hellos a token survives. */
export const MAX_TOKEN_FAILURES = 3;

export class TokenBook {
  private readonly tokens = new Map<string, { token: string; expires: number; failures: number }>();

  constructor(private readonly ttlMs = 60_000) {}

  expect(user: string, token: string, now: number): void {
    for (const [u, entry] of this.tokens) if (entry.expires <= now) this.tokens.delete(u);
    this.tokens.set(user, { token, expires: now + this.ttlMs, failures: 0 });
  }

  /**
   * The unexpired token for `user` if `proves(token)` holds; it is then spent (once only). A
   * failed proof does not spend it, so a stranger who knows the requester's name cannot burn the
   * real requester's chance by sending a bad hello first; guessing a 128-bit token is hopeless
   * anyway. After MAX_TOKEN_FAILURES failed proofs it is dropped all the same.
   */
  redeem(user: string, now: number, proves: (token: string) => boolean): string | undefined {
    const entry = this.tokens.get(user);
    if (!entry) return undefined;
    if (entry.expires <= now) {
      this.tokens.delete(user);
      return undefined;
    }
    if (proves(entry.token)) {
      this.tokens.delete(user);
      return entry.token;
    }
    if (++entry.failures >= MAX_TOKEN_FAILURES) this.tokens.delete(user);
    return undefined;
  }

  /** Forgets the token issued for `user` (their chat was closed before they connected). */
  forget(user: string): void {
    this.tokens.delete(user);
  }
}
