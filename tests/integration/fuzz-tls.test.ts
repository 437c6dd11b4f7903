// The live-server fuzz of fuzz.test.ts over TLS (issue 10, SEC-5): hostile TLS clients run the
// same random scripts while TLS bystanders chat, and raw bytes where a handshake should be never
// crash the server or leak a connection. FC_SEED=<n> reruns another seed.

import { beforeAll, describe, expect, test } from 'bun:test';
import fc from 'fast-check';
import { join } from 'node:path';
import { Bystanders, bystander, checkServerHealthy, Hostile, runScripts, SEED, serve, server, until, useFuzzServer } from '../helpers/fuzz-kit.ts';
import { script } from '../helpers/fuzz-scripts.ts';
import { tempDir } from '../helpers/test-server.ts';

console.log(`fuzz-tls: FC_SEED=${SEED}`);
useFuzzServer();

describe('fuzzing a live TLS server (PROTO-3, SEC-5)', () => {
  let tls: { cert: string; key: string };
  beforeAll(() => {
    const dir = tempDir();
    const made = Bun.spawnSync(['bash', join(import.meta.dir, '../../scripts/make-cert.sh'), dir]);
    if (!made.success) throw new Error(`scripts/make-cert.sh failed (is openssl installed?): ${made.stderr.toString()}`);
    tls = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
  });

  test('hostile TLS clients run random sequences; the TLS bystanders are served throughout', async () => {
    await serve(0, tls);
    const yoda = await bystander('yoda');
    const leia = await bystander('leia');
    const bystanders = new Bystanders(yoda, leia);
    await fc.assert(
      fc.asyncProperty(fc.array(script, { minLength: 1, maxLength: 4 }), async (scripts) => {
        await runScripts(scripts, bystanders, 2);
        checkServerHealthy();
        expect(bystanders.failures).toEqual([]);
      }),
      { seed: SEED + 2, numRuns: 40, endOnFailure: true },
    );
    expect(bystanders.exchanges).toBe(80);
    bystanders.check();
    checkServerHealthy();
    yoda.kill();
    leia.kill();
  }, 30_000);

  test('random bytes where a TLS handshake should be: no crash, nothing leaked, the bystanders are served', async () => {
    await serve(0, tls);
    const yoda = await bystander('yoda');
    const leia = await bystander('leia');
    const bystanders = new Bystanders(yoda, leia);
    // Random bytes, sometimes after a real TLS record header (a ClientHello that goes wrong).
    const garbage = fc.tuple(fc.boolean(), fc.uint8Array({ minLength: 0, maxLength: 600 }));
    await fc.assert(
      fc.asyncProperty(fc.array(garbage, { minLength: 1, maxLength: 6 }), async (sends) => {
        const raws = await Promise.all(sends.map(() => Hostile.connect(server.port)));
        for (const [i, [header, bytes]] of sends.entries()) {
          const h = raws[i] as Hostile;
          h.write(header ? Uint8Array.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, ...bytes]) : bytes);
        }
        await bystanders.exchange(1);
        for (const h of raws) {
          // Nothing readable ever comes back before a handshake.
          expect(h.lines).toEqual([]);
          h.kill();
        }
        await until(() => server.state.connections === 2, 'only the bystanders are connected');
        checkServerHealthy();
        expect(bystanders.failures).toEqual([]);
      }),
      { seed: SEED + 3, numRuns: 40, endOnFailure: true },
    );
    expect(server.state.strangers.size).toBe(0);
    bystanders.check();
    yoda.kill();
    leia.kill();
  }, 30_000);
});
