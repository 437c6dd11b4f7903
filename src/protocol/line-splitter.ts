// Splits a byte stream into LF-terminated UTF-8 lines. Pure: no sockets, no clock.
// Bytes are split at 0x0A before decoding, so a character cut across two chunks is never mangled.

import { MAX_LINE_BYTES } from './limits.ts';

/** A line whose bytes are not valid UTF-8; it is reported, not decoded. */
export const INVALID_UTF8 = Symbol('invalid-utf8');
export type Line = string | typeof INVALID_UTF8;

export class LineTooLongError extends RangeError {
  constructor(readonly limit: number) {
    super(`line longer than ${limit} bytes`);
    this.name = 'LineTooLongError';
  }
}

const LF = 0x0a;
const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/** A reader's unfinished last line, kept between chunks (never more than the limit). */
export interface PartialLine {
  partial: Uint8Array | null;
}

/** `chunk` after the unfinished line `reader` kept (which it then no longer holds). */
export function withPartial(reader: PartialLine, chunk: Uint8Array): Uint8Array {
  const partial = reader.partial;
  if (!partial) return chunk;
  reader.partial = null;
  const bytes = new Uint8Array(partial.length + chunk.length);
  bytes.set(partial);
  bytes.set(chunk, partial.length);
  return bytes;
}

/**
 * Returns the complete lines in `chunk` (without LF or a trailing CR), keeping the unfinished tail
 * in `reader.partial`; throws LineTooLongError. A function of the reader's one field rather than
 * only a class, so that a server connection keeps that field itself instead of a splitter object
 * each (memory per idle user, B3).
 */
export function splitLines(reader: PartialLine, chunk: Uint8Array, limit = MAX_LINE_BYTES): Line[] {
  const bytes = withPartial(reader, chunk);
  const lastLf = bytes.lastIndexOf(LF);
  const rest = bytes.subarray(lastLf + 1);
  if (rest.length > limit) throw new LineTooLongError(limit);
  // Copy the tail: the caller may reuse the chunk's buffer.
  if (rest.length > 0) reader.partial = rest.slice();
  if (lastLf < 0) return [];
  const whole = bytes.subarray(0, lastLf);
  if (whole.length > limit) checkLengths(whole, limit);
  return decode(whole);
}

export class LineSplitter implements PartialLine {
  /** Bytes of the unfinished last line (never more than the limit). */
  partial: Uint8Array | null = null;

  constructor(private readonly limit = MAX_LINE_BYTES) {}

  /** Returns the complete lines in `chunk` (without LF or a trailing CR); throws LineTooLongError. */
  push(chunk: Uint8Array): Line[] {
    return splitLines(this, chunk, this.limit);
  }

  /** Bytes held for an unfinished line. */
  get pendingBytes(): number {
    return this.partial?.length ?? 0;
  }
}

function decode(whole: Uint8Array): Line[] {
  let lines: Line[];
  try {
    // Fast path: the whole run of complete lines is valid UTF-8.
    lines = decoder.decode(whole).split('\n');
  } catch {
    lines = decodeEach(whole);
  }
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    if (typeof line === 'string' && line.length > 0 && line.charCodeAt(line.length - 1) === 0x0d) {
      lines[i] = line.slice(0, -1);
    }
  }
  return lines;
}

/** Refuses an over-long line before any of it is decoded. */
function checkLengths(whole: Uint8Array, limit: number): void {
  let start = 0;
  while (start <= whole.length) {
    let end = whole.indexOf(LF, start);
    if (end < 0) end = whole.length;
    if (end - start > limit) throw new LineTooLongError(limit);
    start = end + 1;
  }
}

function decodeEach(whole: Uint8Array): Line[] {
  const lines: Line[] = [];
  let start = 0;
  for (;;) {
    const end = whole.indexOf(LF, start);
    const piece = whole.subarray(start, end < 0 ? whole.length : end);
    try {
      lines.push(decoder.decode(piece));
    } catch {
      lines.push(INVALID_UTF8);
    }
    if (end < 0) return lines;
    start = end + 1;
  }
}
