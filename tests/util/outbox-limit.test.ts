// The outbox limit judges readers, not the server's own bursts (issue 7, slow readers): what
// counts is what the kernel would not take, and a login's backlog may go past the limit once.

import { describe, expect, test } from 'bun:test';
import { Outbox, TurnFlusher } from '../../src/util/outbox.ts';

/** A sink that takes at most `room` bytes in all, like a socket whose reader stopped reading. */
class Sink {
  text = '';
  constructor(public room = Infinity) {}
  write(data: string | Uint8Array): number {
    const bytes = Buffer.from(data as string);
    const n = Math.min(bytes.length, this.room);
    this.room -= n;
    this.text += bytes.subarray(0, n).toString('latin1');
    return n;
  }
}

const line = (i: number) => `${String(i).padStart(9, '0')}\n`;

describe('Outbox limit', () => {
  test('a burst past the limit in one turn, to a reader whose kernel takes it, is written, not cut off', () => {
    const sink = new Sink();
    let overflows = 0;
    const box = new Outbox(sink, new TurnFlusher(), 100, () => overflows++);
    for (let i = 0; i < 50; i++) box.push(line(i));
    box.flush();
    expect(overflows).toBe(0);
    expect(sink.text).toBe(Array.from({ length: 50 }, (_, i) => line(i)).join(''));
    expect(box.pending).toBe(0);
  });

  test('a reader whose kernel takes nothing more is cut off once it passes the limit', () => {
    const sink = new Sink(30);
    let overflows = 0;
    const box = new Outbox(sink, new TurnFlusher(), 100, () => overflows++);
    for (let i = 0; i < 50; i++) box.push(line(i));
    expect(overflows).toBe(1);
    // Held at most the limit and the line that passed it.
    expect(box.pending).toBeLessThanOrEqual(110);
  });

  test('allow(): a backlog sent in one go may pass the limit; once drained, the limit holds again', () => {
    const sink = new Sink(0);
    let overflows = 0;
    const box = new Outbox(sink, new TurnFlusher(), 100, () => overflows++);
    const backlog = Array.from({ length: 40 }, (_, i) => line(i));
    box.allow(backlog.reduce((n, l) => n + l.length, 0));
    for (const l of backlog) box.push(l);
    box.flush();
    expect(overflows).toBe(0);
    expect(box.pending).toBe(400);
    // The reader reads it all (drain): back under the limit, the allowance is spent.
    sink.room = Infinity;
    box.flush();
    expect(sink.text).toBe(backlog.join(''));
    sink.room = 0;
    for (let i = 0; i < 11; i++) box.push(line(i));
    expect(overflows).toBe(1);
  });

  test('allow(): a reader that stops in the middle of its backlog is still bounded', () => {
    const sink = new Sink(0);
    let overflows = 0;
    const box = new Outbox(sink, new TurnFlusher(), 100, () => overflows++);
    box.allow(400);
    for (let i = 0; i < 40; i++) box.push(line(i));
    for (let i = 0; i < 10; i++) box.push(line(i));
    expect(overflows).toBe(0);
    box.push(line(0));
    expect(overflows).toBe(1);
  });
});
