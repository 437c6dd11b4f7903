// JS heap (and RSS) per idle logged-in user, with the server in this process so that the heap can be
// counted by object type after a full collection (bun:jsc heapStats); the users log in from a
// bench worker process. Complements B3, which reads the RSS of a separate server process.
//
//   bun bench/idle-heap.ts [users=2000]    (needs ulimit -n above the count)

import { heapStats } from 'bun:jsc';
import { startServer } from '../src/server/server.ts';
import { writeCredentials, Worker, PASSWORD } from './lib/procs.ts';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
const N = Number(process.argv[2] ?? 2000);
const dir = mkdtempSync('/tmp/perf-heap-');
writeCredentials(join(dir, 'c.txt'), N);
const server = await startServer({ port: 0, host: '127.0.0.1', blockDurationMs: 60000, timeoutMs: 600000, credentials: join(dir, 'c.txt'), db: join(dir, 'db'), maxConnections: 0, maxPerAddress: 0, rateLimit: 0, loginTimeoutMs: 600000, maxAuthFailures: 0, checksPerAddress: 0, registrationsPerAddress: 0, registrationsTotal: 0 });
const snap = () => { Bun.gc(true); const h = heapStats(); return { size: h.heapSize, counts: h.objectTypeCounts as Record<string, number>, rss: process.memoryUsage().rss }; };
await Bun.sleep(200);
const a = snap();
const w = new Worker('h');
await w.call('setup', { host: '127.0.0.1', port: server.port, proto: 'chat', users: Array.from({ length: N }, (_, i) => `u${i}`), password: PASSWORD, countOnly: true, concurrency: 100, tag: 'h' });
for (let i = 0; i < 100; i++) { const s = await w.call<{ lines: number }>('stats'); if (s.lines >= (N * (N - 1)) / 2) break; await Bun.sleep(100); }
await Bun.sleep(3000);
const b = snap();
console.log(`heap ${((b.size - a.size) / N).toFixed(0)} B/user, rss ${((b.rss - a.rss) / N).toFixed(0)} B/user`);
const rows = Object.keys(b.counts).map((k) => [k, ((b.counts[k] ?? 0) - (a.counts[k] ?? 0)) / N] as const).filter(([, v]) => v >= 0.5).sort((x, y) => y[1] - x[1]);
for (const [k, v] of rows) console.log(v.toFixed(2).padStart(7), k);
await w.exit();
process.exit(0);
