#!/usr/bin/env bun
// The one entrypoint: argv -> serve() or connect(), and exit codes. Nothing else lives here.

// First: a terminal's echo goes off before anything else loads (see early-tty.ts).
import './client/early-tty.ts';
import { cac, type CAC } from 'cac';
import { jsonLogger, stderrLogger } from './util/log.ts';
import { hostname } from 'node:os';
import { redactUrl } from './util/redact-url.ts';
import { versionLine } from './version.ts';
import { setJitPolicy, START_JIT_POLICY } from './util/jit-policy.ts';

/** Exit code for a bad command line (SPEC "Command line"). */
const USAGE = 2;

class UsageError extends Error {}

function wholeNumber(value: unknown, name: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const text = String(value);
  const n = Number(text);
  if (!/^\d+$/.test(text) || n < min || n > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `a whole number >= ${min}` : `a whole number from ${min} to ${max}`;
    const label = name.startsWith('--') ? name : name.includes('-') ? `--${name}` : `<${name}>`;
    throw new UsageError(`${label} must be ${range}, not "${text}"`);
  }
  return n;
}

/** --tls-cert and --tls-key: both or neither. */
function tlsFiles(options: Record<string, unknown>): { cert: string; key: string } | undefined {
  const { tlsCert: cert, tlsKey: key } = options;
  if (cert === undefined && key === undefined) return undefined;
  if (cert === undefined || key === undefined) throw new UsageError('--tls-cert and --tls-key go together');
  return { cert: String(cert), key: String(key) };
}

/** --web PORT [--web-host ADDR]; --web-host alone is a mistake. */
function webOptions(options: Record<string, unknown>): { port: number; host?: string } | undefined {
  if (options.web === undefined) {
    if (options.webHost !== undefined) throw new UsageError('--web-host goes with --web <port>');
    return undefined;
  }
  return { port: wholeNumber(options.web, '--web', 0, 65535), host: options.webHost === undefined ? undefined : String(options.webHost) };
}

/** --cluster and --store go together; --node names this node (default: host name and process id). */
function clusterOptions(options: Record<string, unknown>): { store?: string; cluster?: { url: string; node: string }; reusePort?: boolean } {
  const { cluster, store, node } = options;
  if (cluster === undefined && store === undefined) {
    if (node !== undefined) throw new UsageError('--node goes with --cluster and --store');
    return {};
  }
  if (cluster === undefined || store === undefined) throw new UsageError('--cluster and --store go together (a cluster needs both Redis and PostgreSQL)');
  if (!/^rediss?:\/\//.test(String(cluster))) throw new UsageError(`--cluster must be a redis:// URL, not "${String(cluster)}"`);
  if (!/^postgres(ql)?:\/\//.test(String(store))) throw new UsageError('--store must be a postgres:// URL');
  const name = node === undefined ? `${hostname()}-${process.pid}` : String(node);
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new UsageError(`--node must be 1 to 64 letters, digits, _ . or -, not "${name}"`);
  // Several nodes on one host may share the port.
  return { store: String(store), cluster: { url: String(cluster), node: name }, reusePort: true };
}

function buildCli(): CAC {
  const cli = cac('chat');
  cli
    .command('serve <port> <block_duration> <timeout>', 'Run the chat server (durations in seconds)')
    .option('--host <addr>', 'Address to listen on', { default: '0.0.0.0' })
    .option('--credentials <file>', 'Account file, one "username password" a line', { default: './credentials.txt' })
    .option('--db <file>', 'Database file for offline messages and blocks (:memory: for none)', { default: './chat.db' })
    .option('--no-register', 'Refuse usernames that have no account')
    .option('--max-connections <n>', 'Connections open at once (0: no cap)', { default: 10_000 })
    .option('--max-per-address <n>', 'Connections from one address (0: no cap)', { default: 100 })
    .option('--login-timeout <seconds>', 'Time a new connection has to log in', { default: 60 })
    .option('--rate-limit <n>', 'Commands a second per connection, bursts of 5x (0: no limit)', { default: 20 })
    .option('--reserve <n>', 'Connections kept for users who log in when strangers fill the server (at most a tenth of --max-connections)', { default: 1000 })
    .option('--handshake-timeout <seconds>', 'With TLS: time a new connection has to finish its handshake', { default: 10 })
    .option('--max-auth-failures <n>', 'Failed logins from one address (IPv6: its /64) in 10 minutes that ban it (0: no ban)', { default: 20 })
    .option('--ban <seconds>', 'How long the first ban lasts; each ban within a day of the last lasts twice as long', { default: 600 })
    .option('--max-checks-per-address <n>', 'Password checks one address may have waiting at once (0: no cap)', { default: 8 })
    .option('--registrations-per-address <n>', 'New accounts from one address an hour (0: no limit)', { default: 10 })
    .option('--registrations-total <n>', 'New accounts an hour in total (0: no limit)', { default: 500 })
    .option('--offline-quota <n>', 'Messages that may wait for one offline user (0: no limit)', { default: 1000 })
    .option('--offline-quota-bytes <n>', 'Bytes of text that may wait for one offline user (0: no limit)', { default: 1024 * 1024 })
    .option('--tls-cert <file>', 'Serve over TLS with this certificate (PEM); needs --tls-key')
    .option('--tls-key <file>', 'The private key (PEM) of --tls-cert')
    .option('--web <port>', 'Also serve the web client (a page and its WebSocket) on this port; HTTPS with --tls-cert')
    .option('--web-host <addr>', 'Address for --web to listen on (default: --host)')
    .option('--cluster <redis-url>', 'Run as one node of a cluster, through this Redis (needs --store)')
    .option('--store <postgres-url>', 'With --cluster: keep accounts, stored messages and blocks in this PostgreSQL (instead of --db)')
    .option('--node <name>', 'With --cluster: this node\'s name, unique among live nodes (default: host name and process id)')
    .option('--log-format <format>', 'Log lines as text, or json: one JSON object a line', { default: 'text' })
    .example('chat serve 5000 60 300')
    .example('chat serve 5000 60 300 --web 8080')
    .example('chat serve 5000 60 300 --tls-cert cert.pem --tls-key key.pem')
    .example('chat serve 5000 60 300 --cluster redis://10.0.0.5:6379 --store postgres://chat@10.0.0.6/chat --node n1')
    .action(async (port: string, blockDuration: string, timeout: string, options: Record<string, unknown>) => {
      const format = String(options.logFormat);
      if (format !== 'text' && format !== 'json') throw new UsageError(`--log-format must be text or json, not "${format}"`);
      const log = format === 'json' ? jsonLogger : stderrLogger;
      const several = clusterOptions(options);
      // Start-up runs in the interpreter, until the server listens (jit-policy.ts).
      setJitPolicy(START_JIT_POLICY);
      // Each command loads only its own code: a server does not hold the terminal client's pages, nor a client the server's (RSS, B8).
      const { startServer } = await import('./server/server.ts');
      const server = await startServer({
        ...several,
        port: wholeNumber(port, 'port', 0, 65535),
        blockDurationMs: wholeNumber(blockDuration, 'block_duration', 1) * 1000,
        timeoutMs: wholeNumber(timeout, 'timeout', 1) * 1000,
        host: String(options.host),
        credentials: String(options.credentials),
        db: String(options.db),
        register: options.register !== false,
        maxConnections: wholeNumber(options.maxConnections, 'max-connections', 0),
        maxPerAddress: wholeNumber(options.maxPerAddress, 'max-per-address', 0),
        loginTimeoutMs: wholeNumber(options.loginTimeout, 'login-timeout', 1) * 1000,
        rateLimit: wholeNumber(options.rateLimit, 'rate-limit', 0),
        reservedConnections: wholeNumber(options.reserve, '--reserve', 0),
        handshakeTimeoutMs: wholeNumber(options.handshakeTimeout, 'handshake-timeout', 1) * 1000,
        maxAuthFailures: wholeNumber(options.maxAuthFailures, 'max-auth-failures', 0),
        banMs: wholeNumber(options.ban, '--ban', 1) * 1000,
        checksPerAddress: wholeNumber(options.maxChecksPerAddress, 'max-checks-per-address', 0),
        registrationsPerAddress: wholeNumber(options.registrationsPerAddress, 'registrations-per-address', 0),
        registrationsTotal: wholeNumber(options.registrationsTotal, 'registrations-total', 0),
        offlineQuotaMessages: wholeNumber(options.offlineQuota, 'offline-quota', 0),
        offlineQuotaBytes: wholeNumber(options.offlineQuotaBytes, 'offline-quota-bytes', 0),
        tls: tlsFiles(options),
        web: webOptions(options),
        log,
      });
      setJitPolicy(1);
      console.log(`chat server listening on ${server.hostname}:${server.port}`);
      if (server.webPort !== undefined) {
        const scheme = options.tlsCert === undefined ? 'http' : 'https';
        console.log(`web client on ${scheme}://${String(options.webHost ?? options.host)}:${server.webPort}/`);
      }
      const database = several.store === undefined ? `database ${String(options.db)}` : `store ${redactUrl(several.store)}, node ${several.cluster?.node}`;
      log(`listening on ${server.hostname}:${server.port} (${server.state.accounts.size} accounts, ${database})${server.webPort === undefined ? '' : `; web client on port ${server.webPort}`}`);
      let stopping = false;
      const shutdown = (signal: string) => {
        // Ctrl-C under `bun run` arrives twice: from the terminal and forwarded by bun run. The
        // second must not kill the process in the middle of its graceful shutdown.
        if (stopping) return;
        stopping = true;
        log(`${signal}: shutting down`);
        void server.stop().then(() => process.exit(0));
      };
      process.on('SIGINT', () => shutdown('SIGINT'));
      process.on('SIGTERM', () => shutdown('SIGTERM'));
    });
  cli
    .command('connect <port>', 'Log in to a chat server and chat')
    .option('--host <addr>', 'Server address', { default: '127.0.0.1' })
    .option('--p2p-port <port>', 'Port for private chats to listen on (0: any free port)', { default: 0 })
    .option('--json', 'One JSON object a line on stdout, for scripts and bots')
    .option('--tls', 'Connect over TLS')
    .option('--ca <file>', 'With --tls: trust this certificate (PEM), e.g. a self-signed server certificate')
    .option('--reconnect', 'Reconnect when the connection drops or the server restarts (default: on a terminal)')
    .option('--no-reconnect', 'Exit when the connection drops instead')
    .option('--no-bell', 'No terminal bell on a direct or private message')
    .option('--bail', 'From a pipe: stop at the first command that fails, exit status 5')
    .example('chat connect 5000')
    .example('chat connect 5000 --host chat1.example.org,chat2.example.org')
    .example('chat connect 5000 --host chat.example.org --tls')
    .action(async (port: string, options: Record<string, unknown>) => {
      if (options.ca !== undefined && !options.tls) throw new UsageError('--ca goes with --tls');
      // A missing CA file is a mistake on the command line, not a network error.
      if (options.ca !== undefined && !(await Bun.file(String(options.ca)).stat().catch(() => undefined))?.isFile()) {
        throw new UsageError(`--ca ${String(options.ca)}: no such file`);
      }
      const { runClient } = await import('./client/run.ts');
      const code = await runClient({
        port: wholeNumber(port, 'port', 1, 65535),
        host: String(options.host),
        p2pPort: wholeNumber(options.p2pPort, 'p2p-port', 0, 65535),
        json: options.json === true,
        tls: options.tls ? { ca: options.ca === undefined ? undefined : String(options.ca) } : undefined,
        // cac: --reconnect sets true, --no-reconnect false; neither leaves the default (a terminal).
        reconnect: process.argv.includes('--reconnect') ? true : process.argv.includes('--no-reconnect') ? false : undefined,
        bell: options.bell !== false,
        bail: options.bail === true,
      });
      await exitAfterOutput(code);
    });
  cli
    .command('hash-credentials <file>', 'Replace the plain passwords in a credentials file with argon2id hashes')
    .example('chat hash-credentials ./credentials.txt')
    .action(async (file: string) => {
      const { hashCredentialsFile } = await import('./server/credentials.ts');
      const { HASH_CONCURRENCY, hashPassword, isHash, JobQueue } = await import('./server/passwords.ts');
      const queue = new JobQueue(HASH_CONCURRENCY, Number.MAX_SAFE_INTEGER);
      const report = await hashCredentialsFile(file, (password) => hashPassword(password, queue), isHash);
      for (const problem of report.problems) console.error(problem);
      console.log(`${file}: ${report.hashed} ${report.hashed === 1 ? 'password' : 'passwords'} hashed, ${report.alreadyHashed} already hashed${report.problems.length ? `, ${report.problems.length} malformed left as they were` : ''}`);
    });
  // cac prints "(default: true)" after a --no-x option, which reads as if it were on by default.
  cli.help((sections) => sections.map((s) => ({ ...s, body: s.body.replace(/^(\s*--no-\S+.*?) \(default: true\)$/gm, '$1') })));
  return cli;
}

/** Exits once everything written to stdout has left: a pipe reader must see every last line. */
async function exitAfterOutput(code: number): Promise<never> {
  await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  process.exit(code);
}

async function main(argv: string[]): Promise<void> {
  const args = argv.slice(2);
  if (args.length === 1 && (args[0] === '--version' || args[0] === '-v')) {
    console.log(versionLine());
    return;
  }
  const cli = buildCli();
  try {
    cli.parse(argv, { run: false });
    if (cli.options.help || cli.options.h) return;
    if (!cli.matchedCommand) {
      throw new UsageError(args.length === 0 ? 'missing command' : `unknown command "${args[0]}"`);
    }
    // The executable starts with START_JIT_POLICY (scripts/build.ts); only a server's start wants it.
    if (cli.matchedCommand.name !== 'serve') setJitPolicy(1);
    await cli.runMatchedCommand();
  } catch (err) {
    const usage = err instanceof UsageError || (err as Error).name === 'CACError';
    const command = cli.matchedCommand;
    console.error(`chat: ${(err as Error).message}`);
    if (usage) {
      console.error(command ? `Usage: chat ${command.rawName} [options]  (chat ${command.name} --help for more)` : 'Usage: chat serve <port> <block_duration> <timeout> | chat connect <port>  (chat --help for more)');
    }
    process.exit(usage ? USAGE : 1);
  }
}

await main(process.argv);
