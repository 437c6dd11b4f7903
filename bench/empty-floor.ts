// The floor for B8 (an empty server's RSS) on this stack: a compiled executable that does only what
// an empty chat server must, and nothing else: parse its command line with cac, open the SQLite
// store with its schema (SqliteStore, statements prepared), read the credentials file into the
// accounts, listen on a TCP port. Its RSS is what no change to the server's own code can go below.
//
//   bun bench/empty-floor.ts [--accounts 19000] [--runs 2]
//
// builds the program (this file) into executables under a temporary directory, each way below, and
// starts each with `serve 0 60 600 --credentials <file> --db <file>` (what B8 starts), then prints
// VmRSS 1 s after start. The same file is the program: run with `serve ...` it is the floor server.
//
//   idle:              the same executable running only `setInterval` (Bun's own floor)
//   accounts "none":   the file read, nothing kept
//   accounts "map":    a Map of name -> secret, the file split into lines (the plainest way)
//   accounts "table":  the server's parser and AccountTable (src/server/credentials.ts, accounts.ts)
//   build "plain":     bun build --compile --minify --bytecode --format=esm
//   build "jit":       the same with --compile-jit-policy=1000, setJITPolicy(1) once listening, as
//                      scripts/build.ts and the serve command do (src/util/jit-policy.ts)

import { cac } from 'cac';
import { SqliteStore } from '../src/store/sqlite-store.ts';
import { parseCredentials } from '../src/server/credentials.ts';

async function serve(options: Record<string, unknown>): Promise<void> {
  const text = await Bun.file(String(options.credentials)).text();
  let accounts: { size: number } = { size: 0 };
  if (options.accounts === 'map') {
    const map = new Map<string, string>();
    for (const line of text.split('\n')) {
      const space = line.indexOf(' ');
      if (space > 0) map.set(line.slice(0, space), line.slice(space + 1));
    }
    accounts = map;
  } else if (options.accounts === 'table') {
    accounts = parseCredentials(text).accounts;
  }
  const store = new SqliteStore(String(options.db));
  const listener = Bun.listen({ hostname: String(options.host), port: 0, socket: { data() {} } });
  Bun.unsafe.setJITPolicy?.(1);
  console.log(`listening on ${listener.port}: ${accounts.size} accounts, store ${store ? 'open' : '?'}`);
}

async function measure(args: string[]): Promise<void> {
  const flag = (name: string, fallback: number) => {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? Number(args[i + 1]) : fallback;
  };
  const count = flag('accounts', 19_000);
  const runs = flag('runs', 2);
  const dir = (await Bun.$`mktemp -d /tmp/empty-floor.XXXXXX`.text()).trim();
  const credentials = `${dir}/credentials.txt`;
  await Bun.write(credentials, Array.from({ length: count }, (_, i) => `u${i} pw\n`).join(''));
  const base = [process.execPath, 'build', import.meta.path, '--compile', '--minify', '--bytecode', '--format=esm', '--no-compile-autoload-dotenv', '--no-compile-autoload-bunfig'];
  const builds = { plain: [] as string[], jit: ['--compile-jit-policy=1000'] };
  for (const [name, extra] of Object.entries(builds)) {
    const built = Bun.spawnSync([...base, ...extra, '--outfile', `${dir}/${name}`], { stdout: 'ignore', stderr: 'pipe' });
    if (!built.success) throw new Error(`bun build failed: ${built.stderr.toString()}`);
  }
  console.log(`${count} accounts in ${credentials}; load ${(await Bun.file('/proc/loadavg').text()).split(' ').slice(0, 3).join(' ')}`);
  for (const build of Object.keys(builds)) {
    for (const accounts of ['idle', 'none', 'map', 'table']) {
      const rss: string[] = [];
      for (let run = 0; run < runs; run++) {
        const db = `${dir}/${build}-${accounts}-${run}.db`;
        const command = accounts === 'idle' ? ['idle'] : ['serve', '0', '60', '600', '--credentials', credentials, '--db', db, '--host', '127.0.0.1', '--accounts', accounts];
        const proc = Bun.spawn([`${dir}/${build}`, ...command], { stdout: 'ignore', stderr: 'inherit' });
        await Bun.sleep(1000);
        const status = await Bun.file(`/proc/${proc.pid}/status`).text();
        rss.push(`${(Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]) / 1024).toFixed(1)}`);
        proc.kill();
        await proc.exited;
      }
      console.log(`${build.padEnd(5)} accounts ${accounts.padEnd(5)}  RSS 1 s after start: ${rss.join(', ')} MiB`);
    }
  }
  await Bun.$`rm -rf ${dir}`;
}

const args = process.argv.slice(2);
if (args[0] === 'idle') {
  setInterval(() => {}, 1e9);
} else if (args[0] === 'serve') {
  const cli = cac('empty-floor');
  cli
    .command('serve <port> <block_duration> <timeout>')
    .option('--credentials <file>', '', { default: './credentials.txt' })
    .option('--db <file>', '', { default: './chat.db' })
    .option('--host <addr>', '', { default: '0.0.0.0' })
    .option('--accounts <how>', 'map, table or none', { default: 'map' })
    .action((_port: string, _block: string, _timeout: string, options: Record<string, unknown>) => serve(options));
  cli.parse(process.argv, { run: false });
  await cli.runMatchedCommand();
} else {
  await measure(args);
}
