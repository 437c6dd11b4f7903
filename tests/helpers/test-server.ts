// Real servers for tests: port 0 on loopback, a temporary credentials file, an in-memory or
// temporary database, and (optionally) a fake clock that the test moves by hand.

import { afterEach } from 'bun:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer, type ServeOptions } from '../../src/server/server.ts';
import type { Logger, ServerConfig } from '../../src/server/state.ts';
import { as, type RawClient } from './raw-client.ts';

export const SAMPLE_CREDENTIALS = `hans falcon*solo
yoda wise@!man
vader sithlord**
leia $blasterpistol$
luke light==saber
`;

/** A clock the test moves; `advance` also runs the server's timers that fell due. */
export class FakeClock {
  now = 1_700_000_000_000;
  server: RunningServer | undefined;
  readonly read = (): number => this.now;
  advance(ms: number): void {
    this.now += ms;
    this.server?.state.wheel.advance(this.now);
  }
}

export interface TestServerOptions {
  credentials?: string;
  /** A database file path; default a fresh file in the test's directory. */
  db?: string;
  dir?: string;
  blockSeconds?: number;
  timeoutSeconds?: number;
  register?: boolean;
  clock?: FakeClock;
  ackTimeoutMs?: number;
  privateRequestMs?: number;
  outboxLimit?: number;
  /** Also serve the web client and its WebSocket (WEB-1): on a free port, or on this one. */
  web?: boolean | number;
  /** The TCP port (default 0: a free one), to start a server again where it was. */
  port?: number;
  /** Any other server setting (rate limit, caps, ...). */
  config?: Partial<ServerConfig>;
  /** Where the server's log lines go (default: nowhere). */
  log?: Logger;
  tls?: { cert: string; key: string };
  /** A PostgreSQL URL: the store shared by the nodes of a cluster, instead of SQLite. */
  store?: string;
  /** Join a cluster through Redis (with `store`). */
  cluster?: ServeOptions['cluster'];
}

export interface TestServer {
  readonly server: RunningServer;
  readonly port: number;
  readonly dir: string;
  readonly credentialsPath: string;
  readonly dbPath: string;
  /** ws://127.0.0.1:<web port>/ws when started with `web`. */
  readonly wsUrl?: string;
  stop(): Promise<void>;
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'chat-test-'));
}

export async function startTestServer(options: TestServerOptions = {}): Promise<TestServer> {
  const dir = options.dir ?? tempDir();
  const credentialsPath = join(dir, 'credentials.txt');
  if (options.credentials !== undefined || !options.dir) writeFileSync(credentialsPath, options.credentials ?? SAMPLE_CREDENTIALS);
  const dbPath = options.db ?? join(dir, 'chat.db');
  const server = await startServer({
    port: options.port ?? 0,
    host: '127.0.0.1',
    blockDurationMs: (options.blockSeconds ?? 60) * 1000,
    timeoutMs: (options.timeoutSeconds ?? 300) * 1000,
    credentials: credentialsPath,
    db: dbPath,
    register: options.register ?? true,
    clock: options.clock?.read,
    log: options.log,
    tls: options.tls,
    ...(options.ackTimeoutMs !== undefined && { ackTimeoutMs: options.ackTimeoutMs }),
    ...(options.privateRequestMs !== undefined && { privateRequestMs: options.privateRequestMs }),
    ...(options.outboxLimit !== undefined && { outboxLimit: options.outboxLimit }),
    ...(options.web !== undefined && options.web !== false && { web: { port: options.web === true ? 0 : options.web } }),
    ...(options.store !== undefined && { store: options.store }),
    ...(options.cluster !== undefined && { cluster: options.cluster }),
    ...options.config,
  });
  if (options.clock) options.clock.server = server;
  return { server, port: server.port, dir, credentialsPath, dbPath, wsUrl: `ws://127.0.0.1:${server.webPort}/ws`, stop: () => server.stop() };
}


/**
 * The usual set-up of an integration test file: `start()` a server and `user(name)` to log in a
 * protocol client; after each test the clients are killed and the server stopped.
 */
export function useServer() {
  const clients: { kill(): void }[] = [];
  let current: TestServer | undefined;
  const killClients = (): void => {
    for (const c of clients.splice(0)) c.kill();
  };
  afterEach(async () => {
    killClients();
    await current?.stop();
    current = undefined;
  });
  return {
    /** Starts a server (the one before, if any, should have been stopped by the test). */
    start: async (options?: TestServerOptions): Promise<TestServer> => (current = await startTestServer(options)),
    /** Logs `name` in (password from PASSWORDS) on a new connection. */
    user: async (name: string): Promise<RawClient> => track(await as((current as TestServer).port, name)),
    /** Kills the client after the test. */
    track,
    killClients,
  };
  function track<T extends { kill(): void }>(client: T): T {
    clients.push(client);
    return client;
  }
}
