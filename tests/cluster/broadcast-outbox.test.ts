// BroadcastOutbox without Redis: `publish` is a function the test controls (BCAST-1, CLU-4: the copy
// for the other nodes waits while Redis is unreachable and goes out, in order, when it answers).

import { describe, expect, test } from 'bun:test';
import { BroadcastOutbox, type BroadcastItem } from '../../src/cluster/broadcast-outbox.ts';
import { RedisUnavailableError } from '../../src/cluster/redis-link.ts';

const item = (key: number): BroadcastItem => ({ key, from: 'hans', at: 1, body: `b${key}` });

/** A publish that fails while `down` and records each entry written. */
function fakeRedis() {
  const entries: number[][] = [];
  let tries = 0;
  const redis = {
    down: false,
    entries,
    get tries() {
      return tries;
    },
    publish: async (items: readonly BroadcastItem[]) => {
      tries++;
      if (redis.down) throw new RedisUnavailableError('XADD failed');
      entries.push(items.map((i) => i.key));
    },
  };
  return redis;
}

async function until(condition: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 5000;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(1);
  }
}

describe('BroadcastOutbox', () => {
  test('broadcasts of one turn go out as one entry, and each sender hears they were published', async () => {
    const redis = fakeRedis();
    const outbox = new BroadcastOutbox(redis.publish);
    const told = [outbox.add(item(1)), outbox.add(item(2))];
    expect(await Promise.all(told)).toEqual([true, true]);
    expect(redis.entries).toEqual([[1, 2]]);
    expect(outbox.size).toBe(0);
  });

  test('Redis unreachable: the senders hear it after the first try; the broadcasts wait and go out in order once it answers', async () => {
    const redis = fakeRedis();
    const lines: string[] = [];
    const outbox = new BroadcastOutbox(redis.publish, { retryMs: [1], log: (l) => lines.push(l) });
    redis.down = true;
    expect(await outbox.add(item(1))).toBe(false);
    // Sent while the first waits: told after the next try (which fails too).
    expect(await outbox.add(item(2))).toBe(false);
    expect(outbox.size).toBe(2);
    await until(() => redis.tries >= 4, 'a few more tries');
    redis.down = false;
    await until(() => outbox.size === 0, 'the broadcasts to go out');
    expect(redis.entries.flat()).toEqual([1, 2]);
    // One line when it starts failing, one when it is over: not one per try.
    expect(lines).toHaveLength(2);
    expect(lines[0]).toContain('cannot be passed on to the other nodes');
    expect(lines[1]).toContain('passed on to the other nodes again');
    expect(await outbox.add(item(3))).toBe(true);
  });

  test('too many waiting: the next broadcast is refused before anything is queued (answered busy)', async () => {
    const redis = fakeRedis();
    redis.down = true;
    const outbox = new BroadcastOutbox(redis.publish, { max: 2, retryMs: [60_000] });
    void outbox.add(item(1));
    void outbox.add(item(2));
    expect(() => outbox.add(item(3))).toThrow(RedisUnavailableError);
    expect(outbox.size).toBe(2);
    await outbox.close();
  });

  test('close: one last try; what still cannot go out is logged, and nothing is tried after', async () => {
    const redis = fakeRedis();
    const lines: string[] = [];
    const outbox = new BroadcastOutbox(redis.publish, { retryMs: [60_000], log: (l) => lines.push(l) });
    redis.down = true;
    expect(await outbox.add(item(1))).toBe(false);
    const before = redis.tries;
    await outbox.close();
    expect(redis.tries).toBe(before + 1);
    expect(lines.at(-1)).toContain('1 broadcasts could not be passed on to the other nodes');
    expect(outbox.size).toBe(0);
    expect(() => outbox.add(item(2))).toThrow(RedisUnavailableError);
  });

  test('close after Redis came back: what waited goes out', async () => {
    const redis = fakeRedis();
    const outbox = new BroadcastOutbox(redis.publish, { retryMs: [60_000] });
    redis.down = true;
    expect(await outbox.add(item(1))).toBe(false);
    redis.down = false;
    await outbox.close();
    expect(redis.entries).toEqual([[1]]);
  });
});
