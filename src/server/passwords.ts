// Checking and making password secrets. A secret in the credentials file is either a plain
// password or an argon2/bcrypt hash; hashing runs off the event loop (Bun.password's async API).

import { createHash, timingSafeEqual } from 'node:crypto';

const ARGON2 = /^\$argon2(id|i|d)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$/;
const BCRYPT = /^\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$/;

/** True for a well-formed argon2 or bcrypt hash; anything else (`$blasterpistol$` too) is a plain password. */
export function isHash(secret: string): boolean {
  return ARGON2.test(secret) || BCRYPT.test(secret);
}

/** Compares in constant time for plain secrets; verifies hashes asynchronously. Never throws. */
export async function checkPassword(password: string, secret: string): Promise<boolean> {
  if (!isHash(secret)) {
    const digest = (s: string) => createHash('sha256').update(s).digest();
    return timingSafeEqual(digest(password), digest(secret));
  }
  try {
    return await Bun.password.verify(password, secret);
  } catch {
    return false;
  }
}

/** The secret stored for a new account. */
export function hashPassword(password: string): Promise<string> {
  return Bun.password.hash(password, { algorithm: 'argon2id', memoryCost: 19456, timeCost: 2 });
}
