import { describe, expect, test } from 'bun:test';
import { Outbox, TurnFlusher } from '../../src/util/outbox.ts';

/** A sink that takes at most `room` bytes a write, like a socket with a full kernel buffer. */
class FakeSink {
  written: Buffer[] = [];
  writes = 0;
  constructor(public room = Infinity) {}
  write(data: string | Uint8Array): number {
    this.writes++;
    const bytes = Buffer.from(data as string);
    const n = Math.min(bytes.length, this.room);
    this.written.push(bytes.subarray(0, n));
    this.room -= n;
    return n;
  }
  get text(): string {
    return Buffer.concat(this.written).toString('utf8');
  }
}

describe('Outbox', () => {
  test('lines queued in one turn leave in one write', async () => {
    const sink = new FakeSink();
    const box = new Outbox(sink, new TurnFlusher(), 1 << 20, () => {});
    box.push('a\n');
    box.push('b\n');
    box.push('c\n');
    expect(sink.writes).toBe(0);
    await new Promise((r) => setImmediate(r));
    expect(sink.writes).toBe(1);
    expect(sink.text).toBe('a\nb\nc\n');
  });

  test('what the kernel does not take is resent on drain, bytes exact across multi-byte text', () => {
    const sink = new FakeSink(5);
    const box = new Outbox(sink, new TurnFlusher(), 1 << 20, () => {});
    box.push('héllo 🙂\n');
    box.push('wörld\n');
    box.flush();
    expect(box.pending).toBeGreaterThan(0);
    sink.room = 3;
    box.flush();
    sink.room = Infinity;
    box.flush();
    box.flush();
    expect(sink.text).toBe('héllo 🙂\nwörld\n');
    expect(box.pending).toBe(0);
  });

  test('a reader past the limit is reported once and nothing more is queued', () => {
    const sink = new FakeSink(0);
    let overflows = 0;
    const box = new Outbox(sink, new TurnFlusher(), 10, () => overflows++);
    box.push('12345\n');
    box.push('67890\n');
    box.push('more\n');
    expect(overflows).toBe(1);
  });

  test('hooks run before outboxes flush at the end of a turn', async () => {
    const order: string[] = [];
    const flusher = new TurnFlusher();
    flusher.beforeFlush(() => order.push('hook'));
    const box = new Outbox({ write: (d) => (order.push('write'), Buffer.byteLength(d as string)) }, flusher, 100, () => {});
    box.push('x\n');
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['hook', 'write']);
  });
});
