// The chat server: starts the listeners (TCP, and the web one) and stops them. Everything else is
// in ServerState (data), dispatch.ts (commands), transport/ (what every connection does) and the store.

import type { Server, TCPSocketListener } from 'bun';
import type { AsyncStore } from '../store/async-store.ts';
import { SqliteAsyncStore } from '../store/sqlite-async-store.ts';
import { SqliteStore } from '../store/sqlite-store.ts';
import { ChatError, ErrorCode } from '../protocol/errors.ts';
import { redactUrl } from '../util/redact-url.ts';
import type { ClusterOptions, JoinedCluster } from '../cluster/join-cluster.ts';
import type { Conn } from './connection.ts';
import type { Accounts } from './accounts.ts';
import { CredentialsAppender, describe, exposureWarning, loadCredentials } from './credentials.ts';
import { tooMuchLike } from './auth.ts';
import { makeHandlers } from './dispatch.ts';
import { describeMessages } from './offline-queue.ts';
import { TurnFlusher } from '../util/outbox.ts';
import { hashPassword } from './passwords.ts';
import { flushPresence } from './presence.ts';
import { endSession } from './session.ts';
import { makeConnEvents } from './transport/events.ts';
import { listenTcp } from './transport/tcp.ts';
import type { WsData } from '../web/ws-transport.ts';
import { DEFAULT_CONFIG, ServerState, type Logger, type ServerConfig } from './state.ts';

export interface ServeOptions extends Partial<ServerConfig> {
  port: number;
  host?: string;
  blockDurationMs: number;
  timeoutMs: number;
  /** Path of the credentials file (AUTH-1). */
  credentials: string;
  /** Path of the database, or `:memory:`. */
  db: string;
  /**
   * A PostgreSQL URL: accounts, stored messages, blocks and ids live there, shared with the other
   * nodes of a cluster (CLU-1); the credentials file only seeds the accounts. Replaces `db`.
   */
  store?: string;
  /** Share the port with other processes on this host (the nodes of a cluster). */
  reusePort?: boolean;
  /** CLU-1: join a cluster through this Redis (needs `store`). */
  cluster?: ClusterOptions;
  /** PEM files; without them traffic is plain text. They serve the web client too (HTTPS/WSS). */
  tls?: { cert: string; key: string };
  /** WEB-1: also serve the web client and its WebSocket on this port (0: any free port). */
  web?: { port: number; host?: string };
  log?: Logger;
  clock?: () => number;
}

export interface RunningServer {
  readonly port: number;
  readonly hostname: string;
  /** The web client's port, when --web was given. */
  readonly webPort: number | undefined;
  readonly state: ServerState;
  /** In cluster mode: this node's Redis side and its delivery. */
  readonly cluster: JoinedCluster | undefined;
  /** Tells every client, flushes, closes sockets and the database. */
  stop(): Promise<void>;
}

export async function startServer(options: ServeOptions): Promise<RunningServer> {
  const log = options.log ?? (() => {});
  const credentials = await loadCredentials(options.credentials);
  for (const problem of credentials.problems) log(problem);
  if (!credentials.existed && options.store === undefined) log(missingCredentials(options.credentials, options.register ?? DEFAULT_CONFIG.register));
  const store = await openStore(options, log);
  const accounts = options.store === undefined ? credentials.accounts : await seededAccounts(store, credentials.accounts, log);
  for (const [path, what] of [[options.credentials, 'the credentials file'], [options.db, 'the database']] as const) {
    if (what === 'the database' && options.store !== undefined) continue;
    const warning = await exposureWarning(path, what);
    if (warning) log(warning);
  }
  const config: ServerConfig = { ...DEFAULT_CONFIG, ...options };
  const flusher = new TurnFlusher();
  const state = await ServerState.open(config, store, accounts, options.clock, log, () => flusher.request());
  state.sharedStore = options.store !== undefined;
  let cluster: JoinedCluster | undefined;
  if (options.cluster) {
    if (options.store === undefined) throw new Error('a cluster needs a shared store (--store postgres://…)');
    try {
      // The cluster, PostgreSQL and web code load only when asked for: a single node holds none of their pages (RSS, B8).
      const { joinCluster } = await import('../cluster/join-cluster.ts');
      cluster = await joinCluster(state, options.cluster);
    } catch (err) {
      await store.close();
      throw err;
    }
  }
  flusher.beforeFlush(() => void state.offline.flush());
  flusher.beforeFlush(() => flushPresence(state));
  const appender = new CredentialsAppender(options.credentials);
  const handlers = makeHandlers(async (user, password) => {
    const secret = await hashPassword(password, state.hashing);
    // SEC-4: acknowledged only once committed, in the shared store or the credentials file.
    if (options.store === undefined) await appender.append(user, secret);
    else if (!(await store.addAccount({ name: user, secret }))) {
      // Taken, or too much like a name, registered on another node since this one looked (SEC-3).
      const like = await store.similarAccount(user);
      if (like === undefined) throw new ChatError(ErrorCode.NameTaken, `${user} was registered a moment ago on another node; choose another name`);
      state.indexName(like);
      throw tooMuchLike(like);
    }
    return secret;
  });

  const tls = options.tls && (await readTls(options.tls));
  if (!tls) log('traffic is plain text: anyone on the network path can read it (--tls-cert and --tls-key encrypt it)');

  const events = makeConnEvents(state, handlers, flusher);
  let listener: TCPSocketListener<Conn>;
  try {
    listener = listenTcp({ host: options.host ?? '0.0.0.0', port: options.port, tls, reusePort: options.reusePort }, events);
  } catch (err) {
    await cluster?.leave();
    await store.close();
    if (tls) throw new Error(`cannot serve TLS with ${options.tls?.cert} and ${options.tls?.key}: ${(err as Error).message}`);
    const code = (err as { code?: string }).code;
    const where = `${options.host ?? '0.0.0.0'}:${options.port}`;
    if (code === 'EADDRINUSE') throw new Error(`port ${options.port} is already in use (${where})`);
    if (code === 'EACCES') throw new Error(`not allowed to listen on ${where}`);
    throw new Error(`cannot listen on ${where}: ${(err as Error).message}`);
  }

  let web: Server<WsData> | undefined;
  if (options.web) {
    const where = `${options.web.host ?? options.host ?? '0.0.0.0'}:${options.web.port}`;
    const { serveWeb } = await import('../web/web-server.ts');
    try {
      web = serveWeb({ host: options.web.host ?? options.host ?? '0.0.0.0', port: options.web.port, tls }, events, log);
    } catch (err) {
      listener.stop(true);
      await cluster?.leave();
      await store.close();
      const code = (err as { code?: string }).code;
      if (code === 'EADDRINUSE') throw new Error(`web port ${options.web.port} is already in use (${where})`);
      throw new Error(`cannot serve the web client on ${where}: ${(err as Error).message}`);
    }
  }

  const ticker = setInterval(() => state.wheel.advance(state.now()), state.wheel.tickMs);
  let stopping: Promise<void> | undefined;
  return {
    port: listener.port,
    hostname: listener.hostname,
    webPort: web?.port,
    state,
    cluster,
    stop() {
      stopping ??= (async () => {
        clearInterval(ticker);
        // While the store is unreachable, storing is tried until this deadline, then given up (logged).
        const deadline = Date.now() + state.config.shutdownStoreMs;
        // End the sessions first, while every connection is still open: what they had not
        // acknowledged is stored, and so is what was handed to other nodes of a cluster and not
        // yet confirmed; their senders hear `stored` before their `bye`.
        const conns = [...state.sessions.values()].map((session) => session.conn);
        for (const conn of conns) if (conn.session) endSession(state, conn.session, 'shutdown');
        await Promise.all([flushUntil(state, deadline), cluster?.storeHandoffs(deadline)]);
        for (const conn of conns) conn.bye('shutdown', 'The server is shutting down');
        flusher.run();
        listener.stop(true);
        await web?.stop(true);
        await flushUntil(state, deadline);
        const unstored = state.offline.unstored();
        if (unstored.length > 0) log(`stopping; NOT STORED (the store is unreachable): ${unstored.length} messages, which are lost: ${describeMessages(unstored)}`);
        await cluster?.leave();
        await store.close();
      })();
      return stopping;
    },
  };
}

/** Commits what is queued, trying (the queue retries by itself) until `deadline` at most. */
async function flushUntil(state: ServerState, deadline: number): Promise<void> {
  let timer: Timer | undefined;
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), Math.max(0, deadline - Date.now()))));
  const flushed = await Promise.race([state.offline.flush().then(() => true), late]);
  clearTimeout(timer);
  if (!flushed) state.log(`stopping; the store is unreachable and ${state.offline.unstored().length} messages are not stored yet`);
}

/** The single node's SQLite database, or the cluster's PostgreSQL; one clear error when it cannot be opened. */
async function openStore(options: ServeOptions, log: Logger): Promise<AsyncStore> {
  if (options.store === undefined) {
    try {
      return new SqliteAsyncStore(new SqliteStore(options.db));
    } catch (err) {
      throw new Error(`cannot open database ${options.db}: ${(err as Error).message}`);
    }
  }
  const where = redactUrl(options.store);
  try {
    const { PostgresStore } = await import('../store/postgres-store.ts');
    const store = await PostgresStore.open(options.store);
    log(`store ${where}: reachable`);
    return store;
  } catch (err) {
    throw new Error(`cannot use the store ${where}: ${(err as Error).message}`);
  }
}

/** The credentials file seeds the shared store's accounts (names already there keep their secrets); the store's accounts are the ones served. */
async function seededAccounts(store: AsyncStore, fromFile: Accounts, log: Logger): Promise<Map<string, string>> {
  const added = await store.seedAccounts([...fromFile].map(([name, secret]) => ({ name, secret })));
  const accounts = new Map((await store.accounts()).map((a) => [a.name, a.secret]));
  log(`${accounts.size} accounts in the store (${added} added from the credentials file)`);
  return accounts;
}

/** The one loud line for a credentials file that is not there (a typo in --credentials, most often). */
function missingCredentials(path: string, register: boolean): string {
  const then = register ? 'anyone can register, and the file will be created at the first registration' : 'with --no-register nobody can log in';
  return `WARNING: credentials file ${path} does not exist: starting with 0 accounts; ${then}`;
}

/**
 * TLS 1.2 suites offered: forward-secret AEAD only (Mozilla's "intermediate" list), no CBC or SHA-1
 * MACs. TLS 1.3 suites are all AEAD and are always on.
 */
export const TLS_CIPHERS = ['ECDHE-ECDSA-AES128-GCM-SHA256', 'ECDHE-RSA-AES128-GCM-SHA256', 'ECDHE-ECDSA-AES256-GCM-SHA384', 'ECDHE-RSA-AES256-GCM-SHA384', 'ECDHE-ECDSA-CHACHA20-POLY1305', 'ECDHE-RSA-CHACHA20-POLY1305'].join(':');

/** Reads the certificate and key, so that a missing or unreadable file is one clear error at start. */
async function readTls(files: { cert: string; key: string }): Promise<{ cert: string; key: string; ciphers: string }> {
  const read = async (path: string, what: string) => {
    try {
      return await Bun.file(path).text();
    } catch (err) {
      throw new Error(`cannot read the TLS ${what} ${path}: ${describe(err)}`);
    }
  };
  return { cert: await read(files.cert, 'certificate'), key: await read(files.key, 'key'), ciphers: TLS_CIPHERS };
}
