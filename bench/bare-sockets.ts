// RSS per idle socket of a bare Bun.listen server (no protocol, no state): Bun's own floor per
// connection, beside which the server's per-user memory (B3) can be read. The clients run in a
// child process, so only the server's memory is counted.
//
//   bun bench/bare-sockets.ts [sockets=10000]    (needs ulimit -n above the count)

// bare Bun.listen holding N idle sockets: RSS per socket (server process only)
if (process.argv[2] === 'client') {
  const port = Number(process.argv[3]); const n = Number(process.argv[4]);
  const socks = [];
  for (let i = 0; i < n; i++) { socks.push(await Bun.connect({ hostname: '127.0.0.1', port, socket: { data() {} } })); }
  console.log('connected'); await Bun.sleep(1e9);
} else {
  const n = Number(process.argv[2] ?? 10000);
  let count = 0;
  const server = Bun.listen<{ x: number }>({ hostname: '127.0.0.1', port: 0, socket: { open(s) { s.data = { x: count++ }; }, data() {} } });
  await Bun.sleep(1000); Bun.gc(true);
  const rss0 = process.memoryUsage().rss;
  const c = Bun.spawn([process.execPath, import.meta.path, 'client', String(server.port), String(n)], { stdout: 'pipe' });
  while (count < n) await Bun.sleep(100);
  await Bun.sleep(5000); Bun.gc(true); await Bun.sleep(1000);
  const rss1 = process.memoryUsage().rss;
  console.log(`${n} idle sockets: ${((rss1 - rss0) / n).toFixed(0)} B/socket RSS`);
  c.kill(); process.exit(0);
}
