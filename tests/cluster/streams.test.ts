import { describe, expect, test } from 'bun:test';
import { append, lastId, StreamReader, type StreamEntry } from '../../src/cluster/streams.ts';
import { redisMissing, skipUnless } from '../helpers/engines.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { useRedis } from './cluster-fixture.ts';

const skip = skipUnless(import.meta.path, redisMissing());
const r = useRedis(skip);

/** A reader on a link of its own that records what it handles. */
function reader(from: Record<string, string>, options: ConstructorParameters<typeof StreamReader>[3] = {}, handle?: (e: StreamEntry[]) => void) {
  const seen: StreamEntry[] = [];
  const troubles: (string | undefined)[] = [];
  const rd = new StreamReader(
    r.link(),
    new Map(Object.entries(from)),
    (entries) => {
      handle?.(entries);
      seen.push(...entries);
    },
    { blockMs: 200, onTrouble: (e) => troubles.push(e?.message), ...options },
  );
  rd.start();
  return { rd, seen, troubles };
}

describe.skipIf(skip)('StreamReader', () => {
  test('reads a node’s inbox and the shared events in order, each entry once, and moves its positions on', async () => {
    const keys = r.fresh();
    const w = r.link();
    const { rd, seen } = reader({ [keys.inbox('n1')]: '0-0', [keys.events]: '0-0' });
    try {
      for (let i = 0; i < 50; i++) {
        await append(w, keys.inbox('n1'), { n: String(i) });
        await append(w, keys.events, { n: String(i) });
      }
      await waitFor(() => seen.length === 100, 'all 100 entries');
      for (const stream of [keys.inbox('n1'), keys.events]) {
        expect(seen.filter((e) => e.stream === stream).map((e) => e.fields.n)).toEqual(Array.from({ length: 50 }, (_, i) => String(i)));
        expect(rd.positions.get(stream)).toBe(await lastId(w, stream));
      }
    } finally {
      await rd.stop();
    }
  });

  test('a reader that starts at lastId() sees only what comes after', async () => {
    const keys = r.fresh();
    const w = r.link();
    expect(await lastId(w, keys.events)).toBe('0-0');
    await append(w, keys.events, { n: 'old' });
    const { rd, seen } = reader({ [keys.events]: await lastId(w, keys.events) });
    try {
      await append(w, keys.events, { n: 'new' });
      await waitFor(() => seen.length === 1, 'the new entry');
      expect(seen[0]?.fields).toEqual({ n: 'new' });
    } finally {
      await rd.stop();
    }
  });

  test('a handler that throws is reported and the reader goes on', async () => {
    const keys = r.fresh();
    const w = r.link();
    let calls = 0;
    const { rd, seen, troubles } = reader({ [keys.events]: '0-0' }, {}, () => {
      if (++calls === 1) throw new Error('boom');
    });
    try {
      await append(w, keys.events, { n: '1' });
      await waitFor(() => troubles.length === 1, 'the failure to be reported');
      await append(w, keys.events, { n: '2' });
      await waitFor(() => seen.length === 1, 'the next entry');
      expect(seen[0]?.fields.n).toBe('2');
      expect(troubles).toEqual(['a stream handler failed: Error: boom']);
    } finally {
      await rd.stop();
    }
  });

  test('CLU-4: Redis SIGKILLed and restarted empty mid-stream: the reader resumes from its last id, misses nothing it could read, repeats nothing', async () => {
    const keys = r.fresh();
    const w = r.link();
    const lease = await r.node('n1', { leaseMs: 3000, onReset: () => resets++ });
    let resets = 0;
    const { rd, seen, troubles } = reader({ [keys.inbox('n1')]: '0-0' });
    try {
      for (let i = 0; i < 100; i++) await append(w, keys.inbox('n1'), { n: String(i) });
      await waitFor(() => seen.length === 100, 'the first 100');
      await r.redis.kill();
      await waitFor(() => troubles.length === 1, 'the reader to notice');
      expect(troubles[0]).toStartWith('Redis is unavailable: ');
      await r.redis.restart();
      await lease.lease.tick();
      expect(resets).toBe(1);
      expect(lease.lease.mayServe()).toBe(true);
      for (let i = 100; i < 200; i++) await append(w, keys.inbox('n1'), { n: String(i) });
      await waitFor(() => seen.length === 200, 'all 200');
      expect(seen.map((e) => e.fields.n)).toEqual(Array.from({ length: 200 }, (_, i) => String(i)));
      expect(troubles).toEqual([troubles[0], undefined]);
      expect(rd.silentFor()).toBeLessThan(1000);
    } finally {
      await rd.stop();
    }
  });

  test('a stalled Redis shows in silentFor (the health check covers the data path); it recovers when Redis does', async () => {
    const keys = r.fresh();
    const { rd } = reader({ [keys.events]: '0-0' }, { blockMs: 50 });
    try {
      await waitFor(() => rd.silentFor() < 50, 'a first answer');
      r.redis.pause();
      await waitFor(() => rd.silentFor() > 600, 'the silence to show');
      r.redis.resume();
      await waitFor(() => rd.silentFor() < 100, 'answers again');
    } finally {
      r.redis.resume();
      await rd.stop();
    }
  });

  test('stop() ends the reader promptly even while Redis is down', async () => {
    const keys = r.fresh();
    const { rd, troubles } = reader({ [keys.events]: '0-0' }, { retryMs: 60_000 });
    await r.redis.kill();
    await waitFor(() => troubles.length === 1, 'the reader to notice');
    // Waiting out the 60 s retry would outlast the test's timeout.
    await rd.stop();
    expect(troubles).toHaveLength(1);
  });
});
