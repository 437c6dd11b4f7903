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

describe('Outbox: a turn of lines leaves as bytes, encoded once (issue 14)', () => {
  test('several lines reach a socket-like sink as one write of their UTF-8 bytes', () => {
    const seen: (string | Uint8Array)[] = [];
    const box = new Outbox({ write: (d) => (seen.push(typeof d === 'string' ? d : d.slice()), typeof d === 'string' ? Buffer.byteLength(d) : d.length) }, new TurnFlusher(), 1 << 20, () => {});
    box.push('{"body":"héllo 🙂"}\n');
    box.push('{"body":"\\u0000 \\ud83d"}\n');
    box.flush();
    expect(seen).toHaveLength(1);
    expect(seen[0]).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(seen[0] as Uint8Array).toString('utf8')).toBe('{"body":"héllo 🙂"}\n{"body":"\\u0000 \\ud83d"}\n');
  });

  test('a short write keeps its own copy of the rest: another outbox writing meanwhile does not change it', () => {
    const slow = new FakeSink(4);
    const fast = new FakeSink();
    const flusher = new TurnFlusher();
    const a = new Outbox(slow, flusher, 1 << 20, () => {});
    const b = new Outbox(fast, flusher, 1 << 20, () => {});
    a.push('aaaa-1\n');
    a.push('aaaa-2 ü\n');
    a.flush();
    // b's lines go through the same encoding buffer, over what a has not sent yet.
    b.push('bbbbbbbbbbbbbbbb\n');
    b.push('bbbbbbbbbbbbbbbb\n');
    b.flush();
    slow.room = Infinity;
    a.flush();
    expect(slow.text).toBe('aaaa-1\naaaa-2 ü\n');
    expect(fast.text).toBe('bbbbbbbbbbbbbbbb\nbbbbbbbbbbbbbbbb\n');
    expect(a.pending).toBe(0);
  });

  test('a sink that wants text (a WebSocket: a frame a line) gets the joined text', () => {
    const seen: (string | Uint8Array)[] = [];
    const box = new Outbox({ wantsText: true, write: (d) => (seen.push(d), Buffer.byteLength(d as string)) }, new TurnFlusher(), 1 << 20, () => {});
    box.push('a\n');
    box.push('b\n');
    box.flush();
    expect(seen).toEqual(['a\nb\n']);
  });

  test('the limit is judged on what the sink refuses: a burst it takes is never an overflow', () => {
    let overflows = 0;
    const sink = new FakeSink();
    const box = new Outbox(sink, new TurnFlusher(), 64, () => overflows++);
    for (let i = 0; i < 40; i++) box.push(`line ${i} 🙂\n`);
    box.flush();
    expect(overflows).toBe(0);
    expect(sink.text.split('\n')).toHaveLength(41);
    const stuck = new FakeSink(0);
    const full = new Outbox(stuck, new TurnFlusher(), 64, () => overflows++);
    for (let i = 0; i < 40; i++) full.push(`line ${i} 🙂\n`);
    expect(overflows).toBe(1);
  });
});
