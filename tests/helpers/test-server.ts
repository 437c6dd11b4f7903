// Real servers for tests: port 0 on loopback, a temporary credentials file, an in-memory or
// temporary database, and (optionally) a fake clock that the test moves by hand.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type RunningServer } from '../../src/server/server.ts';

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
}

export interface TestServer {
  readonly server: RunningServer;
  readonly port: number;
  readonly dir: string;
  readonly credentialsPath: string;
  readonly dbPath: string;
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
    port: 0,
    host: '127.0.0.1',
    blockDurationMs: (options.blockSeconds ?? 60) * 1000,
    timeoutMs: (options.timeoutSeconds ?? 300) * 1000,
    credentials: credentialsPath,
    db: dbPath,
    register: options.register ?? true,
    clock: options.clock?.read,
    ...(options.ackTimeoutMs !== undefined && { ackTimeoutMs: options.ackTimeoutMs }),
    ...(options.privateRequestMs !== undefined && { privateRequestMs: options.privateRequestMs }),
    ...(options.outboxLimit !== undefined && { outboxLimit: options.outboxLimit }),
  });
  if (options.clock) options.clock.server = server;
  return { server, port: server.port, dir, credentialsPath, dbPath, stop: () => server.stop() };
}

/**
 * A test server with any of the server's settings (rate limit, caps, outbox limit...) on top of
 * startTestServer's: a fresh directory, credentials file and database file.
 */
export async function startConfiguredServer(options: TestServerOptions & { config?: Partial<import('../../src/server/state.ts').ServerConfig> } = {}): Promise<TestServer> {
  const { config = {}, ...rest } = options;
  const base = await startTestServer(rest);
  await base.stop();
  const server = await startServer({
    port: 0,
    host: '127.0.0.1',
    blockDurationMs: (rest.blockSeconds ?? 60) * 1000,
    timeoutMs: (rest.timeoutSeconds ?? 300) * 1000,
    credentials: base.credentialsPath,
    db: base.dbPath,
    register: rest.register ?? true,
    clock: rest.clock?.read,
    ...(rest.ackTimeoutMs !== undefined && { ackTimeoutMs: rest.ackTimeoutMs }),
    ...(rest.privateRequestMs !== undefined && { privateRequestMs: rest.privateRequestMs }),
    ...(rest.outboxLimit !== undefined && { outboxLimit: rest.outboxLimit }),
    ...config,
  });
  if (rest.clock) rest.clock.server = server;
  return { ...base, server, port: server.port, stop: () => server.stop() };
}
