// Issue 10 item 7 (SEC-5), measured: 3000 plain TCP connections that never start TLS, from
// 127.0.0.2, against a TLS server with default caps and a 2 s handshake deadline; meanwhile a TLS
// login from 127.0.0.1.   bun bench/security/tls-flood.ts
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../src/server/server.ts';
import { RawClient } from '../../tests/helpers/raw-client.ts';
const dir = mkdtempSync(join(tmpdir(), 'chat-tls-flood-'));
Bun.spawnSync(['bash', join(import.meta.dir, '../../scripts/make-cert.sh'), dir]);
writeFileSync(`${dir}/c.txt`, 'hans falcon*solo\n');
const log: string[] = [];
const server = await startServer({ port: 0, host: '127.0.0.1', blockDurationMs: 60000, timeoutMs: 300000, credentials: `${dir}/c.txt`, db: ':memory:', tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') }, log: (l) => log.push(l), handshakeTimeoutMs: 2000 });
let closed = 0;
const socks = [];
const net = await import('node:net');
for (let i = 0; i < 3000; i++) { const s = net.connect({ host: '127.0.0.1', port: server.port, localAddress: '127.0.0.2' }); s.on('close', () => closed++); s.on('error', () => {}); socks.push({ terminate: () => s.destroy() }); await new Promise((r) => s.once('connect', r).once('error', r)); }
await Bun.sleep(300);
console.log(`after 3000 connects: server counts ${server.state.connections}, ${closed} closed by the server`);
const t0 = performance.now();
const hans = await RawClient.connect(server.port, '127.0.0.1', { tls: true });
const welcome = await hans.login('hans', 'falcon*solo').then(() => 'welcome', (e) => String(e).slice(0, 80));
console.log(`TLS login from 127.0.0.1 meanwhile: ${welcome} (${(performance.now() - t0).toFixed(0)} ms)`);
await Bun.sleep(2500);
console.log(`after the 2 s handshake deadline: server counts ${server.state.connections}, ${closed} closed; log lines: ${log.filter((l) => l.includes('not finished')).length} deadline, ${log.filter((l) => l.startsWith('refused a connection')).length} refusals`);
hans.kill();
for (const s of socks) s.terminate();
await server.stop();
