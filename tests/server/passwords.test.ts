import { describe, expect, test } from 'bun:test';
import { ChatError } from '../../src/protocol/errors.ts';
import { checkPassword, hashPassword, isHash, JobQueue } from '../../src/server/passwords.ts';

const queue = new JobQueue();

describe('password secrets', () => {
  test('argon2 and bcrypt hashes are recognised; anything else is a plain password', async () => {
    expect(isHash(await Bun.password.hash('x', { algorithm: 'argon2id', memoryCost: 4096, timeCost: 1 }))).toBe(true);
    expect(isHash(await Bun.password.hash('x', { algorithm: 'bcrypt', cost: 4 }))).toBe(true);
    for (const plain of ['$blasterpistol$', 'darkside_%$run', '$argon2id$garbage', '$2b$10$short']) expect(isHash(plain)).toBe(false);
  });

  test('plain, argon2id and bcrypt secrets check the right password only', async () => {
    const secrets = [
      'falcon*solo',
      await Bun.password.hash('falcon*solo', { algorithm: 'argon2id', memoryCost: 4096, timeCost: 1 }),
      await Bun.password.hash('falcon*solo', { algorithm: 'bcrypt', cost: 4 }),
    ];
    for (const secret of secrets) {
      expect(await checkPassword('falcon*solo', secret, queue)).toBe(true);
      expect(await checkPassword('falcon*sol0', secret, queue)).toBe(false);
      expect(await checkPassword('', secret, queue)).toBe(false);
    }
  });

  test('new accounts are hashed with argon2id, and the hash checks', async () => {
    const secret = await hashPassword('n3w!', queue);
    expect(secret).toStartWith('$argon2id$v=19$m=19456,t=2,p=1$');
    expect(await checkPassword('n3w!', secret, queue)).toBe(true);
  });
});

describe('JobQueue: bounded concurrency for hashing', () => {
  test('never runs more than its concurrency at once, and runs everything', async () => {
    const q = new JobQueue(2, 100);
    let running = 0;
    let most = 0;
    const job = async (i: number) => {
      running++;
      most = Math.max(most, running);
      await Bun.sleep(2);
      running--;
      return i;
    };
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => q.run(() => job(i))));
    expect(results).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(most).toBe(2);
    expect(q.load).toEqual({ running: 0, waiting: 0 });
  });

  test('past the waiting bound, jobs are refused with busy', async () => {
    const q = new JobQueue(1, 2);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const held = [q.run(() => gate), q.run(() => gate), q.run(() => gate)];
    await expect(q.run(async () => 1)).rejects.toBeInstanceOf(ChatError);
    release();
    await Promise.all(held);
  });

  test('a failing job frees its slot', async () => {
    const q = new JobQueue(1, 10);
    await expect(q.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await q.run(async () => 'next')).toBe('next');
  });
});
