// Checking and making password secrets. A secret in the credentials file is either a plain
// password or an argon2/bcrypt hash. Hashing runs off the event loop (Bun.password's async API),
// at most HASH_CONCURRENCY at a time, so a burst of logins can neither stall the server nor
// take a hash's worth of memory per login.

import { ChatError, ErrorCode } from '../protocol/errors.ts';

const ARGON2 = /^\$argon2(id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;
const BCRYPT = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

/**
 * argon2id with 19 MiB and 2 passes (OWASP's recommended minimum). Measured here (2 cores):
 * 26 ms a verify, 78 verifies/s with both cores busy; 64 MiB/t=2 took 90 ms (22/s) and bcrypt
 * cost 10 took 53 ms (35/s) while being weaker against GPUs. See the issue notes for the table.
 */
export const HASH_OPTIONS = { algorithm: 'argon2id', memoryCost: 19456, timeCost: 2 } as const;
/** Hashes computed at once: one per core. */
export const HASH_CONCURRENCY = 2;
/** Logins that may wait for a hash check before more are turned away with `busy`. */
export const HASH_QUEUE = 256;

/** True for a well-formed argon2 or bcrypt hash; anything else (`$blasterpistol$` too) is a plain password. */
export function isHash(secret: string): boolean {
  return ARGON2.test(secret) || BCRYPT.test(secret);
}

/**
 * Runs async jobs at most `concurrency` at a time; refuses with ChatError(busy) past `maxWaiting`.
 * SEC-2, a fair share: jobs carry a key (the client's address); one key may have at most `perKey`
 * running or waiting, and waiting jobs are served key by key in turn, not first come first served.
 */
export class JobQueue {
  private running = 0;
  /** Waiting jobs by key; the Map's order is the round-robin order. */
  private readonly waiting = new Map<string, (() => void)[]>();
  private waitingCount = 0;
  /** Jobs running or waiting per key. */
  private readonly perKeyCount = new Map<string, number>();

  constructor(
    private readonly concurrency = HASH_CONCURRENCY,
    private readonly maxWaiting = HASH_QUEUE,
    private readonly perKey = 0,
  ) {}

  async run<T>(job: () => Promise<T>, key = ''): Promise<T> {
    const mine = this.perKeyCount.get(key) ?? 0;
    if (this.perKey > 0 && key !== '' && mine >= this.perKey) throw new ChatError(ErrorCode.Busy, `Too many password checks from ${key} at once; try again in a moment`);
    if (this.running >= this.concurrency && this.waitingCount >= this.maxWaiting) throw new ChatError(ErrorCode.Busy, 'Too many logins at once; try again in a moment');
    this.perKeyCount.set(key, mine + 1);
    try {
      if (this.running >= this.concurrency) {
        await new Promise<void>((resolve) => {
          let list = this.waiting.get(key);
          if (!list) this.waiting.set(key, (list = []));
          list.push(resolve);
          this.waitingCount++;
        });
      } else {
        this.running++;
      }
      try {
        return await job();
      } finally {
        // Hand the slot straight to the next key's job, or give it back.
        const next = this.takeNext();
        if (next) next();
        else this.running--;
      }
    } finally {
      const left = (this.perKeyCount.get(key) ?? 1) - 1;
      if (left > 0) this.perKeyCount.set(key, left);
      else this.perKeyCount.delete(key);
    }
  }

  private takeNext(): (() => void) | undefined {
    const first = this.waiting.entries().next();
    if (first.done) return undefined;
    const [key, list] = first.value;
    const next = list.shift();
    this.waiting.delete(key);
    // The key goes to the back of the line if it has more.
    if (list.length > 0) this.waiting.set(key, list);
    this.waitingCount--;
    return next;
  }

  get load(): { running: number; waiting: number } {
    return { running: this.running, waiting: this.waitingCount };
  }
}

/** Compares in constant time for plain secrets; verifies hashes through `queue`. False on a malformed hash. */
export async function checkPassword(password: string, secret: string, queue: JobQueue, key?: string): Promise<boolean> {
  if (!isHash(secret)) {
    // Digests of equal length, compared without an early exit. Bun's hasher, not node:crypto:
    // loading that module alone added 5.6 MiB to the server's RSS (B8).
    const a = Bun.CryptoHasher.hash('sha256', password) as Uint8Array;
    const b = Bun.CryptoHasher.hash('sha256', secret) as Uint8Array;
    let diff = 0;
    for (let i = 0; i < a.length; i++) diff |= (a[i] as number) ^ (b[i] as number);
    return diff === 0;
  }
  return queue.run(async () => {
    try {
      return await Bun.password.verify(password, secret);
    } catch {
      return false;
    }
  }, key);
}

/** The secret stored for a new account. */
export function hashPassword(password: string, queue: JobQueue): Promise<string> {
  return queue.run(() => Bun.password.hash(password, HASH_OPTIONS));
}
