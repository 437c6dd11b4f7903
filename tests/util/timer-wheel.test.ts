import { describe, expect, test } from 'bun:test';
import { TimerWheel, type TimerId } from '../../src/util/timer-wheel.ts';

describe('TimerWheel (SESS-2), driven by a fake clock', () => {
  test('a timer fires at the first advance at or after its due time, not before', () => {
    const wheel = new TimerWheel(0, 100);
    const fired: number[] = [];
    wheel.schedule(1000, () => fired.push(1));
    expect(wheel.advance(999)).toBe(0);
    expect(fired).toEqual([]);
    expect(wheel.advance(1000)).toBe(1);
    expect(fired).toEqual([1]);
    expect(wheel.size).toBe(0);
  });

  test('timers due in the same advance run earliest first', () => {
    const wheel = new TimerWheel(0, 100);
    const fired: string[] = [];
    wheel.schedule(300, () => fired.push('c'));
    wheel.schedule(100, () => fired.push('a'));
    wheel.schedule(200, () => fired.push('b'));
    wheel.advance(5000);
    expect(fired).toEqual(['a', 'b', 'c']);
  });

  test('timers further out than one lap of the wheel wait for their lap', () => {
    const wheel = new TimerWheel(0, 100, 8);
    let fired = 0;
    wheel.schedule(2_000, () => fired++);
    for (let t = 100; t < 2_000; t += 100) wheel.advance(t);
    expect(fired).toBe(0);
    wheel.advance(2_000);
    expect(fired).toBe(1);
  });

  test('a jump of many laps still fires everything due', () => {
    const wheel = new TimerWheel(0, 100, 8);
    let fired = 0;
    for (let i = 1; i <= 50; i++) wheel.schedule(i * 150, () => fired++);
    wheel.advance(1_000_000);
    expect(fired).toBe(50);
  });

  test('cancel stops a timer; cancelling twice or after firing returns false', () => {
    const wheel = new TimerWheel(0, 100);
    let fired = 0;
    const id = wheel.schedule(100, () => fired++);
    expect(wheel.cancel(id)).toBe(true);
    expect(wheel.cancel(id)).toBe(false);
    wheel.advance(1000);
    expect(fired).toBe(0);
    const other = wheel.schedule(100, () => fired++);
    wheel.advance(2000);
    expect(wheel.cancel(other)).toBe(false);
  });

  test('a callback can cancel a later timer in the same batch', () => {
    const wheel = new TimerWheel(0, 100);
    const fired: string[] = [];
    let second: TimerId | undefined;
    wheel.schedule(100, () => {
      fired.push('first');
      if (second) wheel.cancel(second);
    });
    second = wheel.schedule(200, () => fired.push('second'));
    wheel.advance(1000);
    expect(fired).toEqual(['first']);
  });

  test('a timer scheduled from a callback does not run in the same advance', () => {
    const wheel = new TimerWheel(0, 100);
    const fired: string[] = [];
    wheel.schedule(100, () => {
      fired.push('outer');
      wheel.schedule(0, () => fired.push('inner'));
    });
    wheel.advance(100);
    expect(fired).toEqual(['outer']);
    wheel.advance(200);
    expect(fired).toEqual(['outer', 'inner']);
  });

  test('a throwing callback does not stop the others; the error surfaces after', () => {
    const wheel = new TimerWheel(0, 100);
    const fired: string[] = [];
    wheel.schedule(100, () => {
      throw new Error('boom');
    });
    wheel.schedule(100, () => fired.push('after'));
    expect(() => wheel.advance(100)).toThrow('boom');
    expect(fired).toEqual(['after']);
    expect(wheel.size).toBe(0);
  });

  test('delays are measured from the last advance', () => {
    const wheel = new TimerWheel(0, 100);
    wheel.advance(5_000);
    let fired = 0;
    wheel.schedule(1_000, () => fired++);
    wheel.advance(5_900);
    expect(fired).toBe(0);
    wheel.advance(6_000);
    expect(fired).toBe(1);
  });

  test('going back in time does nothing', () => {
    const wheel = new TimerWheel(1000, 100);
    wheel.schedule(100, () => {});
    expect(wheel.advance(500)).toBe(0);
    expect(wheel.size).toBe(1);
  });
});
