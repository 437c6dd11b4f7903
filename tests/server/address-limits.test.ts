import { describe, expect, test } from 'bun:test';
import { addressKey, FailureBans, LogThrottle, WindowCounter } from '../../src/server/address-limits.ts';

describe('addressKey (SEC-2: IPv6 grouped by /64)', () => {
  test('IPv4 as it is; every IPv6 address of one /64 under one key; other /64s apart', () => {
    expect(addressKey('192.0.2.7')).toBe('192.0.2.7');
    const key = addressKey('2001:db8:1:2::1');
    for (const a of ['2001:db8:1:2::ffff', '2001:0db8:0001:0002:abcd:ef01:2345:6789', '2001:DB8:1:2:0:0:0:9', '2001:db8:1:2::1%eth0']) expect(addressKey(a)).toBe(key);
    expect(key).toBe('2001:db8:1:2::/64');
    expect(addressKey('2001:db8:1:3::1')).not.toBe(key);
    expect(addressKey('::1')).toBe('0:0:0:0::/64');
    expect(addressKey('fe80::1')).toBe('fe80:0:0:0::/64');
  });
});

describe('WindowCounter', () => {
  test('counts events within the window only', () => {
    const c = new WindowCounter(2, 1000);
    c.record('a', 0);
    c.record('a', 500);
    expect(c.full('a', 999)).toBe(true);
    expect(c.full('b', 999)).toBe(false);
    expect(c.waitMs('a', 600)).toBe(400);
    expect(c.full('a', 1000)).toBe(false);
  });
});

describe('FailureBans (mod_fail2ban, growing)', () => {
  test('the max-th failure in the window bans; each ban within a day lasts twice as long; a day later it starts again', () => {
    const bans = new FailureBans(3, 60_000);
    expect(bans.fail('a', 0)).toBe(0);
    expect(bans.fail('a', 1)).toBe(0);
    expect(bans.fail('a', 2)).toBe(60_000);
    expect(bans.bannedFor('a', 30_002)).toBe(30_000);
    expect(bans.bannedFor('b', 30_002)).toBe(0);
    for (let i = 0; i < 2; i++) bans.fail('a', 70_000);
    expect(bans.fail('a', 70_000)).toBe(120_000);
    const day = 24 * 3600_000;
    for (let i = 0; i < 2; i++) bans.fail('a', 70_000 + day + 1);
    expect(bans.fail('a', 70_000 + day + 1)).toBe(60_000);
  });
});

describe('LogThrottle', () => {
  test('one line per key per period; the next line says how many were held back', () => {
    const t = new LogThrottle(60_000);
    expect(t.line('a', 0, 'refused a')).toBe('refused a');
    expect(t.line('a', 1000, 'refused a')).toBeUndefined();
    expect(t.line('a', 2000, 'refused a')).toBeUndefined();
    expect(t.line('b', 2000, 'refused b')).toBe('refused b');
    expect(t.line('a', 60_000, 'refused a')).toBe('refused a (and 2 more like it in the last 60 s)');
    expect(t.line('a', 130_000, 'refused a')).toBe('refused a');
  });
});
