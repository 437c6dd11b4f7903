// Fuzzing a live server (issue 7, PROTO-3: "invalid UTF-8, unknown verbs and commands before login
// get errors, never a crash. One misbehaving client never affects the others"). Several hostile
// connections, some logged in, send random command sequences: valid verbs with random arguments,
// random tags, invalid UTF-8, control characters, over-long lines, half lines then a disconnect.
// Meanwhile yoda and leia keep messaging each other and must be served correctly throughout.
//
// fast-check with a fixed seed, printed: FC_SEED=<n> reruns another. Each property run checks:
// every server line is valid UTF-8 JSON with a type; a tagged request gets at most one reply, and
// exactly one when the connection stayed open (PROTO-2); when the hostiles are gone the server is
// back to its bystanders (no leaked session, connection, private request or timer); no handler
// error, uncaught exception or unhandled rejection.


import { describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { as, RawClient } from '../helpers/raw-client.ts';
import { Bystanders, checkServerHealthy, runScripts, SEED, serve, server, useFuzzServer } from '../helpers/fuzz-kit.ts';
import { script } from '../helpers/fuzz-scripts.ts';

console.log(`fuzz: FC_SEED=${SEED}`);
useFuzzServer();

describe('fuzzing a live server (PROTO-3)', () => {
  test('no rate limit: random hostile sequences reach the parser; the bystanders are served throughout', async () => {
    await serve(0);
    const yoda = await as(server.port, 'yoda');
    const leia = await as(server.port, 'leia');
    const bystanders = new Bystanders(yoda, leia);
    await fc.assert(
      fc.asyncProperty(fc.array(script, { minLength: 1, maxLength: 4 }), async (scripts) => {
        await runScripts(scripts, bystanders, 2);
        checkServerHealthy();
        expect(bystanders.failures).toEqual([]);
      }),
      { seed: SEED, numRuns: 200, endOnFailure: true },
    );
    expect(bystanders.failures).toEqual([]);
    expect(bystanders.exchanges).toBe(400);
    expect(bystanders.slowest).toBeLessThan(1000);
    bystanders.check();
    // Still answering, and still exact.
    expect(await yoda.request('whoelse')).toMatchObject({ code: 'users', users: ['leia'] });
    checkServerHealthy();
    yoda.kill();
    leia.kill();
  }, 30_000);

  test('default rate limit: floods are refused or cut off; the bystanders, under the limit, are never refused', async () => {
    await serve(20);
    const yoda = await as(server.port, 'yoda');
    const leia = await as(server.port, 'leia');
    // One exchange a run: each of them sends ~30 messages in all, under the burst of 100.
    const bystanders = new Bystanders(yoda, leia);
    await fc.assert(
      fc.asyncProperty(fc.array(script, { minLength: 1, maxLength: 4 }), async (scripts) => {
        // A flood of whole scripts at once, without yielding: the limit must answer it.
        const flood = scripts.map((s) => ({ ...s, pieces: Array.from({ length: 12 }, () => s.pieces).flat().map((p) => ({ ...p, yieldAfter: false })) }));
        await runScripts(flood, bystanders, 1);
        checkServerHealthy();
        expect(bystanders.failures).toEqual([]);
      }),
      { seed: SEED + 1, numRuns: 60, endOnFailure: true },
    );
    expect(bystanders.failures).toEqual([]);
    expect(bystanders.exchanges).toBe(60);
    expect(yoda.seen((l) => l.code === 'rate-limited')).toEqual([]);
    expect(leia.seen((l) => l.code === 'rate-limited')).toEqual([]);
    bystanders.check();
    checkServerHealthy();
    yoda.kill();
    leia.kill();
  }, 30_000);
});

describe('PROTO-3 control characters before the first word (found by the property tests)', () => {
  test('are refused with bad-characters, not ignored or stripped', async () => {
    await serve(0);
    const c = await RawClient.connect(server.port);
    c.write('\rwhoelse\n\u000b\n\u000c#t1 login hans\n#t2 login hans\n');
    for (let i = 0; i < 3; i++) expect(await c.waitFor((l) => l.type === 'error')).toMatchObject({ code: 'bad-characters' });
    expect((await c.waitFor((l) => l.re === 't2')).code).toBe('password');
    expect(c.lines).toHaveLength(4);
    expect(c.seen((l) => l.re === 't1')).toEqual([]);
    c.kill();
  });
});
