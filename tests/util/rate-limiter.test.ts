import { describe, expect, test } from 'bun:test';
import { RateLimiter } from '../../src/util/rate-limiter.ts';

describe('RateLimiter, driven by a fake clock', () => {
  test('a burst passes, then commands are limited until tokens refill', () => {
    const limiter = new RateLimiter(10, 50, 0);
    for (let i = 0; i < 50; i++) expect(limiter.take(0)).toBe('ok');
    expect(limiter.take(0)).toBe('limited');
    // One refused command is a token in debt: two are needed, 200 ms at 10 a second.
    expect(limiter.waitMs(0)).toBe(200);
    expect(limiter.take(100)).toBe('limited');
    expect(limiter.waitMs(100)).toBe(200);
    expect(limiter.take(300)).toBe('ok');
  });

  test('a sender that keeps going through a whole burst of refusals is flooding', () => {
    const limiter = new RateLimiter(10, 50, 0);
    const verdicts = Array.from({ length: 102 }, () => limiter.take(0));
    expect(verdicts.slice(0, 50).every((v) => v === 'ok')).toBe(true);
    expect(verdicts.slice(50, 100).every((v) => v === 'limited')).toBe(true);
    expect(verdicts.at(-1)).toBe('flood');
  });

  test('a steady sender at the rate is never limited', () => {
    const limiter = new RateLimiter(20, 100, 0);
    for (let t = 0; t < 60_000; t += 50) expect(limiter.take(t)).toBe('ok');
  });

  test('cheap commands cost less', () => {
    const limiter = new RateLimiter(1, 1, 0);
    for (let i = 0; i < 10; i++) expect(limiter.take(0, 0.1)).toBe('ok');
    expect(limiter.take(0, 0.1)).toBe('limited');
  });

  test('waitMs is 0 when a command may go now, and never moves the clock back', () => {
    const limiter = new RateLimiter(10, 5, 1000);
    expect(limiter.waitMs(1000)).toBe(0);
    for (let i = 0; i < 5; i++) limiter.take(1000);
    expect(limiter.waitMs(900)).toBe(100);
    expect(limiter.waitMs(1100)).toBe(0);
  });
});
