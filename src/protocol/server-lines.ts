// Lines from the server: one JSON object a line, each with a `type`. Types, encoders, decoder; no I/O.
// Replies (`ok`, `error`) carry `re` when the request had a tag; every other type is an event.

import { ErrorCode, ProtocolError } from './errors.ts';

/** A reply to a request. `code` says which outcome; extra fields depend on it (docs/PROTOCOL.md). */
export interface OkLine {
  type: 'ok';
  re?: string;
  code: string;
  text?: string;
  [field: string]: unknown;
}

export interface ErrorLine {
  type: 'error';
  re?: string;
  code: ErrorCode;
  text: string;
  /** rate-limited: when to send again. */
  retryAfterMs?: number;
}

/**
 * A routed message. `id` is stamped when the line is written (it only grows on a connection; acks
 * name it); `key` is the message's identity, the same however often it is sent (CLU-3). Servers
 * before the key sent none. `offline` is set when it was stored while the recipient was away.
 */
export interface MessageLine {
  type: 'message' | 'broadcast';
  id: number;
  key?: number;
  from: string;
  /** When the server accepted it, in milliseconds since the epoch. */
  at: number;
  body: string;
  offline?: true;
}

/** `users` logged in (online) or out, in that order; one or more names. */
export interface PresenceLine {
  type: 'presence';
  users: string[];
  online: boolean;
}

/** The server is closing the connection; `code` says why (logout, timeout, locked, shutdown, …). */
export interface ByeLine {
  type: 'bye';
  code: string;
  text: string;
}

export interface PrivateLine {
  type: 'private-request' | 'private-accepted' | 'private-declined' | 'private-lapsed' | 'private-closed';
  user: string;
  /** private-accepted: where to connect and what to present. */
  host?: string;
  port?: number;
  token?: string;
  /** private-closed, private-lapsed: why (stopped, no answer, logout, timeout, disconnected). */
  reason?: string;
}

export type ServerLine = OkLine | ErrorLine | MessageLine | PresenceLine | ByeLine | PrivateLine;

/** One line with its LF. */
export function encodeLine(line: ServerLine): string {
  return `${JSON.stringify(line)}\n`;
}

/**
 * What JSON.stringify must escape in a string: `"`, `\\`, C0 controls, and a lone surrogate (a
 * high one not followed by a low one, a low one not after a high one). A pair (an emoji) is kept.
 */
const NEEDS_ESCAPE = /["\\\u0000-\u001f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** False when JSON.stringify(text) is just `"${text}"`: nothing in it needs an escape. */
export function needsEscape(text: string): boolean {
  return NEEDS_ESCAPE.test(text);
}

// The hot-path encoders put a string that needs no escape (nearly every name and body: a valid
// UTF-8 line without control characters) straight into one template: no JSON.stringify call, no
// nested string to flatten later (profiled: three JSON.stringify a message were 10 % of the time).

/** Hot path: a message or broadcast line without building an object first; `key` is the message's identity (CLU-3). */
export function encodeMessage(type: 'message' | 'broadcast', id: number, from: string, at: number, body: string, offline = false, key = id): string {
  const tail = offline ? ',"offline":true}\n' : '}\n';
  if (NEEDS_ESCAPE.test(from) || NEEDS_ESCAPE.test(body)) {
    return `{"type":"${type}","id":${id},"key":${key},"from":${JSON.stringify(from)},"at":${at},"body":${JSON.stringify(body)}${tail}`;
  }
  return `{"type":"${type}","id":${id},"key":${key},"from":"${from}","at":${at},"body":"${body}"${tail}`;
}

/** Hot path: the `delivered` reply, the same text okLine(re, 'delivered', { id, to }) makes. */
export function deliveredLine(re: string | undefined, id: number, to: string): string {
  // A tag is letters, digits, _ . - (PROTO-2): nothing in it needs escaping.
  const json = NEEDS_ESCAPE.test(to) ? JSON.stringify(to) : `"${to}"`;
  if (re === undefined) return `{"type":"ok","code":"delivered","id":${id},"to":${json}}\n`;
  return `{"type":"ok","re":"${re}","code":"delivered","id":${id},"to":${json}}\n`;
}

export function okLine(re: string | undefined, code: string, fields: Record<string, unknown> = {}): string {
  return encodeLine(re === undefined ? { type: 'ok', code, ...fields } : { type: 'ok', re, code, ...fields });
}

export function errorLine(re: string | undefined, code: ErrorCode, text: string, extra: { retryAfterMs?: number } = {}): string {
  return encodeLine(re === undefined ? { type: 'error', code, text, ...extra } : { type: 'error', re, code, text, ...extra });
}

/** Parses a server line (without LF). Throws ProtocolError when it is not a JSON object with a type. */
export function parseServerLine(line: string): ServerLine {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new ProtocolError(ErrorCode.Usage, 'The server sent a line that is not JSON');
  }
  if (typeof value !== 'object' || value === null || typeof (value as { type?: unknown }).type !== 'string') {
    throw new ProtocolError(ErrorCode.Usage, 'The server sent a line without a type');
  }
  return value as ServerLine;
}
