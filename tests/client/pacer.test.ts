// The client's pacing of typed lines (CLI-7), on an injected clock: in order, within the budget,
// and a refused line goes again before every line typed after it.

import { describe, expect, test } from 'bun:test';
import { Pacer } from '../../src/client/pacer.ts';

describe('Pacer', () => {
  test('CLI-7 lines leave in the order typed, a burst at once and then at the rate (with a margin)', async () => {
    let now = 0;
    const pacer = new Pacer({ rate: 10, burst: 10 }, () => now);
    const order: number[] = [];
    const tickets = Array.from({ length: 12 }, () => pacer.ticket());
    const all = tickets.map((t) => pacer.turn(t).then(() => order.push(t)));
    await Promise.resolve();
    await Promise.resolve();
    // 90% of a burst of 10, less the 2 the login spent: 7 go at once.
    expect(order).toEqual([1, 2, 3, 4, 5, 6, 7]);
    now = 10_000;
    await Promise.all(all);
    expect(order).toEqual(tickets);
  });

  test('CLI-7 a refused line goes again before the lines typed after it, once the hold is over', async () => {
    let now = 0;
    const pacer = new Pacer({ rate: 1000, burst: 1000 }, () => now);
    const order: number[] = [];
    const [a, b, c] = [pacer.ticket(), pacer.ticket(), pacer.ticket()] as [number, number, number];
    await pacer.turn(a);
    order.push(a);
    // a was refused: hold, then b and c queue up behind a's second turn.
    pacer.hold(50);
    const later = [pacer.turn(b).then(() => order.push(b)), pacer.turn(c).then(() => order.push(c))];
    const again = pacer.turn(a).then(() => order.push(a));
    now = 1_000;
    await Promise.all([again, ...later]);
    expect(order).toEqual([a, a, b, c]);
  });

  test('without a budget nothing waits', async () => {
    const pacer = new Pacer(undefined);
    for (let i = 0; i < 1000; i++) await pacer.turn(pacer.ticket());
  });
});
