// Issue 10 item 8 (SEC-6), measured: 50,000 messages (200 B each) stored for leia; she logs in
// (acking as she goes) while yoda and hans ping-pong; prints the slowest round trip and RSS growth.
//   bun bench/security/backlog.ts [path of another checkout's root, to compare]
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
const root = process.argv[2] ?? join(import.meta.dir, '../..');
const { startServer } = await import(`${root}/src/server/server.ts`);
const { RawClient } = await import('../../tests/helpers/raw-client.ts');
const dir = mkdtempSync(join(tmpdir(), 'chat-backlog-'));
writeFileSync(`${dir}/c.txt`, 'hans falcon*solo\nyoda wise@!man\nleia $blasterpistol$\n');
const server = await startServer({ port: 0, host: '127.0.0.1', blockDurationMs: 60000, timeoutMs: 300000, credentials: `${dir}/c.txt`, db: `${dir}/chat.db`, rateLimit: 0 });
const N = 50_000;
const body = 'x'.repeat(200);
const first = server.state.store.reserveIds(N + 10);
const msgs = Array.from({ length: N }, (_, i) => ({ id: first + i, from: 'hans', to: 'leia', at: Date.now(), body }));
server.state.store.commit(msgs, []);
const yoda = await RawClient.connect(server.port); await yoda.login('yoda', 'wise@!man');
const hans = await RawClient.connect(server.port); await hans.login('hans', 'falcon*solo');
Bun.gc(true);
const rss0 = process.memoryUsage().rss;
let rssMax = rss0;
let slowest = 0;
let running = true;
const pinger = (async () => {
  for (let i = 0; running; i++) {
    const t = performance.now();
    await yoda.request(`message hans ping ${i}`);
    await hans.waitFor((l) => l.type === 'message' && l.body === `ping ${i}`, 'ping', 20000);
    slowest = Math.max(slowest, performance.now() - t);
    rssMax = Math.max(rssMax, process.memoryUsage().rss);
  }
})();
const t0 = performance.now();
const leia = await RawClient.connect(server.port);
await leia.login('leia', '$blasterpistol$');
await leia.waitFor((l) => l.type === 'message' && l.id === first + N - 1, 'the last stored message', 120000);
const took = performance.now() - t0;
running = false;
await pinger;
console.log(`${root}: ${N} stored delivered in ${took.toFixed(0)} ms; slowest bystander round trip ${slowest.toFixed(0)} ms; RSS +${((rssMax - rss0) / 2 ** 20).toFixed(0)} MiB (client and server in one process)`);
for (const c of [yoda, hans, leia]) c.kill();
await server.stop();
