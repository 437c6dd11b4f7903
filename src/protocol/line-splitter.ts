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

export class LineSplitter {
  /** Bytes of the unfinished last line (never more than the limit). */
  private partial: Uint8Array | null = null;

  constructor(private readonly limit = MAX_LINE_BYTES) {}

  /** Returns the complete lines in `chunk` (without LF or a trailing CR); throws LineTooLongError. */
  push(chunk: Uint8Array): Line[] {
    let bytes = chunk;
    if (this.partial) {
      bytes = new Uint8Array(this.partial.length + chunk.length);
      bytes.set(this.partial);
      bytes.set(chunk, this.partial.length);
      this.partial = null;
    }
    const lastLf = bytes.lastIndexOf(LF);
    const rest = bytes.subarray(lastLf + 1);
    if (rest.length > this.limit) throw new LineTooLongError(this.limit);
    // Copy the tail: the caller may reuse the chunk's buffer.
    if (rest.length > 0) this.partial = rest.slice();
    if (lastLf < 0) return [];
    const whole = bytes.subarray(0, lastLf);
    if (whole.length > this.limit) this.checkLengths(whole);
    return this.decode(whole);
  }

  /** Bytes held for an unfinished line. */
  get pendingBytes(): number {
    return this.partial?.length ?? 0;
  }

  private decode(whole: Uint8Array): Line[] {
    let lines: Line[];
    try {
      // Fast path: the whole run of complete lines is valid UTF-8.
      lines = decoder.decode(whole).split('\n');
    } catch {
      lines = this.decodeEach(whole);
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
  private checkLengths(whole: Uint8Array): void {
    let start = 0;
    while (start <= whole.length) {
      let end = whole.indexOf(LF, start);
      if (end < 0) end = whole.length;
      if (end - start > this.limit) throw new LineTooLongError(this.limit);
      start = end + 1;
    }
  }

  private decodeEach(whole: Uint8Array): Line[] {
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
}
