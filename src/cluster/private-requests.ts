// Private-chat requests across nodes (P2P-2): the request is a Redis key with the request's lapse as
// its PX, so it dies on its own when nobody answers. Answering takes it (GET and DEL in one script):
// whoever takes it first decides, and a request that lapsed cannot be accepted any more.

import type { Keys } from './keys.ts';
import { Script, type RedisLink } from './redis-link.ts';

/** KEYS: the request. The request's value if it was still pending (now taken), else false. */
const TAKE = new Script(`
local v = redis.call('GET', KEYS[1])
if v then redis.call('DEL', KEYS[1]) end
return v`);

export class PrivateRequests {
  constructor(
    private readonly link: RedisLink,
    private readonly keys: Keys,
  ) {}

  /**
   * Records a request from `from` to `to` for `lapseMs`, holding `value` (say, the requester's
   * owner, where the answer goes). False when one is already pending between them.
   */
  async request(from: string, to: string, value: string, lapseMs: number): Promise<boolean> {
    return (await this.link.call<string | null>('SET', [this.keys.privateRequest(from, to), value, 'NX', 'PX', lapseMs])) === 'OK';
  }

  /** Takes the pending request (to accept or decline it): its value, or undefined when it lapsed or was taken. */
  async take(from: string, to: string): Promise<string | undefined> {
    const v = await this.link.eval<string | null>(TAKE, [this.keys.privateRequest(from, to)], []);
    return v ?? undefined;
  }

  /** Whether a request from `from` to `to` is still pending. */
  async pending(from: string, to: string): Promise<boolean> {
    return (await this.link.call<number>('EXISTS', [this.keys.privateRequest(from, to)])) === 1;
  }
}
