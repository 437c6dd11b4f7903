import { afterAll, afterEach, beforeAll, describe, expect, test } from 'bun:test';
import { RedisLink, RedisUnavailableError, Script } from '../../src/cluster/redis-link.ts';
import { ENGINE_START_MS, RedisEngine, redisMissing, skipUnless } from '../helpers/engines.ts';

const skip = skipUnless(import.meta.path, redisMissing());

describe.skipIf(skip)('RedisLink', () => {
  let redis: RedisEngine;
  const links: RedisLink[] = [];
  const link = (options?: ConstructorParameters<typeof RedisLink>[1]): RedisLink => {
    const l = new RedisLink(redis.url, options);
    links.push(l);
    return l;
  };
  beforeAll(async () => {
    redis = await RedisEngine.start();
  }, ENGINE_START_MS);
  afterEach(async () => {
    for (const l of links.splice(0)) l.close();
    redis.resume();
    if (!redis.running) await redis.restart();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  test('call sends a command; a command error is the server’s error, not "unavailable"', async () => {
    const l = link();
    expect(await l.call('SET', ['k', 1])).toBe('OK');
    expect(await l.call('INCR', ['k'])).toBe(2);
    const error = await l.call('LPUSH', ['k', 'x']).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(RedisUnavailableError);
    expect((error as Error).message).toContain('WRONGTYPE');
  });

  test('Redis killed: calls fail at once with RedisUnavailableError; started again: the next call reconnects; each change told once', async () => {
    const states: string[] = [];
    const l = link({ onState: (up) => states.push(up ? 'up' : 'down') });
    expect(await l.call('PING', [])).toBe('PONG');
    await redis.kill();
    for (let i = 0; i < 3; i++) {
      const error = await l.call('PING', []).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(RedisUnavailableError);
      expect((error as Error).message).toStartWith('Redis is unavailable: ');
    }
    await redis.restart();
    expect(await l.call('PING', [])).toBe('PONG');
    expect(states).toEqual(['up', 'down', 'up']);
  });

  test('Redis that does not answer (SIGSTOP): the call fails after its deadline instead of hanging', async () => {
    const l = link({ timeoutMs: 200 });
    await l.call('PING', []);
    redis.pause();
    const error = await l.call('PING', []).catch((e: unknown) => e);
    redis.resume();
    expect(error).toBeInstanceOf(RedisUnavailableError);
    expect((error as Error).message).toBe('Redis is unavailable: no answer to PING in 200 ms');
  });

  test('eval runs a script by its SHA1 and loads it again after Redis restarted empty', async () => {
    const l = link();
    const script = new Script("return redis.call('INCRBY', KEYS[1], ARGV[1])");
    expect(await l.eval(script, ['n'], [5])).toBe(5);
    expect(await l.call('SCRIPT', ['EXISTS', script.sha])).toEqual([1]);
    await redis.kill();
    await redis.restart();
    expect(await l.eval(script, ['n'], [2])).toBe(2);
  });
});
