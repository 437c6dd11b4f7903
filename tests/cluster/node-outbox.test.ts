import { describe, expect, test } from 'bun:test';
import type { Deliver, InboxEntry, Packable } from '../../src/cluster/node-messages.ts';
import { NodeOutbox, pack } from '../../src/cluster/node-outbox.ts';

const deliver = (n: number, to = 'yoda'): Deliver => ({ type: 'deliver', origin: `n1:${n}`, key: n, from: 'hans', to, at: n, body: `m${n}`, replyTo: 'n1' });

/** An outbox whose turns end when the test says so, writing into `written`. */
function outbox(options: { fail?: (node: string) => boolean; maxEntries?: number } = {}) {
  const written: [string, InboxEntry][] = [];
  const turnEnds: (() => void)[] = [];
  const box = new NodeOutbox(
    async (node, entry) => {
      if (options.fail?.(node)) throw new Error('Redis is unavailable');
      written.push([node, entry]);
    },
    { schedule: (flush) => turnEnds.push(flush), ...(options.maxEntries !== undefined && { maxEntries: options.maxEntries }) },
  );
  const endTurn = async () => {
    for (const flush of turnEnds.splice(0)) flush();
    await Promise.resolve();
  };
  return { box, written, endTurn, turnEnds };
}

describe('node outbox', () => {
  test('what one turn has for a node goes out as one pack when the turn ends, in order, one pack per node', async () => {
    const { box, written, endTurn, turnEnds } = outbox();
    box.put('n2', deliver(1));
    box.put('n3', deliver(2, 'leia'));
    box.put('n2', { type: 'refused', origin: 'n2:5', reason: 'offline' });
    box.put('n2', deliver(3));
    expect(written).toEqual([]);
    expect(turnEnds.length).toBe(1); // one flush per turn, however many entries
    expect(box.size).toBe(4);
    await endTurn();
    expect(written).toEqual([
      ['n2', { type: 'pack', entries: [deliver(1), { type: 'refused', origin: 'n2:5', reason: 'offline' }, deliver(3)] }],
      ['n3', deliver(2, 'leia')],
    ]);
    expect(box.size).toBe(0);
    // The next turn starts empty and schedules again.
    box.put('n2', deliver(4));
    expect(turnEnds.length).toBe(1);
    await endTurn();
    expect(written.at(-1)).toEqual(['n2', deliver(4)]);
  });

  test('a lone entry goes out as it is (a node from before packs reads it); delivered entries are merged into one', () => {
    expect(pack([deliver(1)], 200)).toEqual([deliver(1)]);
    expect(pack([{ type: 'delivered', origins: ['n2:1'] }, { type: 'delivered', origins: ['n2:2', 'n2:3'] }], 200)).toEqual([{ type: 'delivered', origins: ['n2:1', 'n2:2', 'n2:3'] }]);
    const mixed: Packable[] = [{ type: 'delivered', origins: ['n2:1'] }, deliver(1), { type: 'delivered', origins: ['n2:2'] }];
    expect(pack(mixed, 200)).toEqual([{ type: 'pack', entries: [{ type: 'delivered', origins: ['n2:1', 'n2:2'] }, deliver(1)] }]);
    // The caller's entries are not changed by the merge.
    expect(mixed[0]).toEqual({ type: 'delivered', origins: ['n2:1'] });
  });

  test('a long burst goes out as packs of at most maxEntries, in order', async () => {
    const { box, written, endTurn } = outbox({ maxEntries: 2 });
    for (let n = 1; n <= 5; n++) box.put('n2', deliver(n));
    await endTurn();
    expect(written).toEqual([
      ['n2', { type: 'pack', entries: [deliver(1), deliver(2)] }],
      ['n2', { type: 'pack', entries: [deliver(3), deliver(4)] }],
      ['n2', deliver(5)],
    ]);
  });

  test('flush(node) writes that node’s entries now (before an entry that must not overtake them), the others at the turn’s end', async () => {
    const { box, written, endTurn } = outbox();
    box.put('n2', deliver(1));
    box.put('n3', deliver(2));
    await box.flush('n2');
    expect(written).toEqual([['n2', deliver(1)]]);
    await box.flush('n4'); // nothing queued there
    await endTurn();
    expect(written).toEqual([['n2', deliver(1)], ['n3', deliver(2)]]);
  });

  test('a write Redis refuses is dropped without a rejection (its sender holds the message); other nodes still get theirs', async () => {
    const { box, written, endTurn } = outbox({ fail: (node) => node === 'n2' });
    box.put('n2', deliver(1));
    box.put('n3', deliver(2));
    await endTurn();
    await box.flush();
    expect(written).toEqual([['n3', deliver(2)]]);
    expect(box.size).toBe(0);
  });
});
