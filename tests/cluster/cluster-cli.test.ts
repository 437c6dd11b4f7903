// `chat serve … --cluster … --store …` as a user runs it (CLU-1): real processes, real engines. Two
// nodes share one port (reusePort); each prints one line per engine at start; an unreachable store
// is one clear line and a non-zero exit.

import { describe, expect, test } from 'bun:test';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';
import { freePort } from '../helpers/engines.ts';
import { useEngines } from '../helpers/use-engines.ts';
import { as } from '../helpers/raw-client.ts';
import { SAMPLE_CREDENTIALS, tempDir } from '../helpers/test-server.ts';
import { spawnServe, type ServeProcess } from '../helpers/serve-process.ts';

const engines = useEngines(import.meta.path);
const { skip } = engines;

/** Starts a node and resolves once it prints that it listens, with everything it logged until then. */
function node(port: number, store: string, name: string, credentials: string): Promise<ServeProcess> {
  return spawnServe([String(port), '60', '300', '--host', '127.0.0.1', '--credentials', credentials, '--cluster', engines.redis.url, '--store', store, '--node', name]);
}

describe.skipIf(skip)('chat serve --cluster --store', () => {
  test('CLU-1 two nodes share one port; each says what it reached; users log in through it', async () => {
    const store = await engines.pg.createDatabase();
    const dir = tempDir();
    const credentials = join(dir, 'credentials.txt');
    writeFileSync(credentials, SAMPLE_CREDENTIALS);
    const port = freePort();
    const one = await node(port, store, 'n1', credentials);
    const two = await node(port, store, 'n2', credentials);
    try {
      for (const n of [one, two]) {
        expect(n.log()).toContain('store postgres://');
        expect(n.log()).toContain(': reachable');
        expect(n.log()).toMatch(/cluster: Redis redis:\/\/127\.0\.0\.1:\d+\/? reachable; serving as node n\d/);
      }
      const hans = await as(port, 'hans');
      const leia = await as(port, 'leia');
      const reply = await hans.request('message leia through one port').catch((e: unknown) => {
        throw new Error(`${String(e)}\nn1: ${one.log()}\nn2: ${two.log()}`);
      });
      expect(reply.code).toBe('delivered');
      hans.kill();
      leia.kill();
    } finally {
      for (const n of [one, two]) {
        n.proc.kill('SIGTERM');
        await n.proc.exited;
      }
    }
  }, 30_000);

  test('an unreachable store: one clear line, non-zero exit, no stack trace', async () => {
    const dir = tempDir();
    const { code, stderr } = await runCli(['serve', '0', '60', '300', '--credentials', join(dir, 'c.txt'), '--cluster', engines.redis.url, '--store', `postgres://postgres@127.0.0.1:${freePort()}/chat`], { timeoutMs: 20_000 });
    expect(code).not.toBe(0);
    expect(stderr).toContain('cannot use the store postgres://');
    expect(stderr).not.toContain('    at ');
  }, 30_000);
});
