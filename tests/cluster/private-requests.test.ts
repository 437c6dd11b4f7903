import { describe, expect, test } from 'bun:test';
import { Keys } from '../../src/cluster/keys.ts';
import { PrivateRequests } from '../../src/cluster/private-requests.ts';
import { redisMissing, skipUnless } from '../helpers/engines.ts';
import { waitFor } from '../helpers/wait-for.ts';
import { useRedis } from './cluster-fixture.ts';

const skip = skipUnless(import.meta.path, redisMissing());
const r = useRedis(skip);

describe('Keys.privateRequest', () => {
  test('no two pairs of names share a key', () => {
    const k = new Keys();
    expect(k.privateRequest('a:b', 'c')).not.toBe(k.privateRequest('a', 'b:c'));
    expect(k.privateRequest('yoda', 'leia')).not.toBe(k.privateRequest('leia', 'yoda'));
  });
});

describe.skipIf(skip)('PrivateRequests', () => {
  test('P2P-2 across nodes: one pending request per pair; the first to take it decides, once', async () => {
    r.fresh();
    const [a, b] = [new PrivateRequests(r.link(), r.keys), new PrivateRequests(r.link(), r.keys)];
    expect(await a.request('hans', 'yoda', 'n1#e1', 60_000)).toBe(true);
    expect(await b.request('hans', 'yoda', 'n2#e2', 60_000)).toBe(false);
    expect(await b.pending('hans', 'yoda')).toBe(true);
    expect(await b.pending('yoda', 'hans')).toBe(false);
    const taken = await Promise.all([a.take('hans', 'yoda'), b.take('hans', 'yoda')]);
    expect(taken.toSorted()).toEqual(['n1#e1', undefined]);
    expect(await a.pending('hans', 'yoda')).toBe(false);
  });

  test('P2P-2: a request nobody answers lapses on its own and cannot be accepted after', async () => {
    r.fresh();
    const p = new PrivateRequests(r.link(), r.keys);
    expect(await p.request('hans', 'yoda', 'n1#e1', 100)).toBe(true);
    await waitFor(async () => !(await p.pending('hans', 'yoda')), 'the request to lapse');
    expect(await p.take('hans', 'yoda')).toBeUndefined();
    expect(await p.request('hans', 'yoda', 'n1#e1', 100)).toBe(true);
  });
});
