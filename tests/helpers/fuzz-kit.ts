// What the live-server fuzz tests share (tests/integration/fuzz*.test.ts): hostile connections
// that check every byte they get, the server, the bystanders and the checks; the random scripts
// the hostiles send are in fuzz-scripts.ts. A test file calls useFuzzServer() once for the hooks.

import { afterAll, afterEach, beforeAll, expect } from 'bun:test';
import type { Socket } from 'bun';
import { MAX_TEXT_CHARS } from '../../src/protocol/limits.ts';
import { startServer, type RunningServer } from '../../src/server/server.ts';
import { bytesOf, expectedTags, type Script } from './fuzz-scripts.ts';
import { as, nextWake, RawClient, type Line } from './raw-client.ts';
import { startTestServer } from './test-server.ts';

export const SEED = Number(process.env.FC_SEED ?? 7_007);

const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/;
const encoder = new TextEncoder();
const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

// ---- a hostile connection: raw bytes out, every byte in checked --------------------------------

type Json = Record<string, unknown> & { type: string };

export class Hostile {
  readonly lines: Json[] = [];
  /** Lines from the server that were not valid UTF-8 JSON objects with a type. */
  readonly bad: string[] = [];
  closed = false;
  /** A write the kernel did not take whole: what the server saw is not what we meant to send. */
  truncated = false;
  private pending = Buffer.alloc(0);
  private readonly wakers = new Set<() => void>();
  private socket!: Socket<undefined>;

  static async connect(port: number, tls = false): Promise<Hostile> {
    const h = new Hostile();
    let shaken!: () => void;
    const handshake = new Promise<void>((resolve) => (shaken = resolve));
    h.socket = await Bun.connect({
      hostname: '127.0.0.1',
      port,
      tls: tls ? { rejectUnauthorized: false } : undefined,
      socket: {
        data: (_s, chunk) => h.onData(chunk),
        close: () => {
          h.closed = true;
          if (h.pending.length > 0) h.bad.push(`closed mid-line: ${h.pending.toString('utf8').slice(0, 200)}`);
          h.wake();
          shaken();
        },
        error: () => {},
        handshake: () => shaken(),
      },
    });
    // Over TLS, what is written before the client's handshake is done would be lost.
    if (tls) await handshake;
    return h;
  }

  private onData(chunk: Uint8Array): void {
    let buf = Buffer.concat([this.pending, chunk]);
    for (let nl = buf.indexOf(0x0a); nl >= 0; nl = buf.indexOf(0x0a)) {
      const raw = buf.subarray(0, nl);
      buf = buf.subarray(nl + 1);
      let text: string;
      try {
        text = utf8.decode(raw);
      } catch {
        this.bad.push(`invalid UTF-8: ${raw.toString('hex').slice(0, 200)}`);
        continue;
      }
      try {
        const value = JSON.parse(text) as Json;
        if (typeof value !== 'object' || value === null || typeof value.type !== 'string') throw new Error('no type');
        this.lines.push(value);
      } catch {
        this.bad.push(`not a JSON line with a type: ${text.slice(0, 200)}`);
      }
    }
    this.pending = Buffer.from(buf);
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.wakers]) w();
  }

  write(bytes: Uint8Array): void {
    if (this.closed || bytes.length === 0) return;
    const n = this.socket.write(bytes);
    if (n < bytes.length) this.truncated = true;
  }

  /** The reply tagged `tag`, or undefined if the connection closed (or `ms` passed) first. */
  async reply(tag: string, ms = 3000): Promise<Json | undefined> {
    const deadline = Date.now() + ms;
    for (;;) {
      const found = this.lines.find((l) => l.re === tag);
      if (found) return found;
      const left = deadline - Date.now();
      if (this.closed || left <= 0) return undefined;
      await nextWake(this.wakers, left);
    }
  }

  async login(user: string, password: string): Promise<boolean> {
    this.write(encoder.encode(`#L1 login ${user}\n#L2 password ${password}\n`));
    return (await this.reply('L2'))?.code === 'welcome';
  }

  end(): void {
    this.socket.end();
  }

  kill(): void {
    this.socket.terminate();
  }
}

// ---- the server, the bystanders, and the checks ----------------------------------------------

export let server: RunningServer;
/** Set by serve(): the hostiles and bystanders speak TLS. */
let overTls = false;
export const log: string[] = [];
const crashes: unknown[] = [];
const onRejection = (reason: unknown) => crashes.push(reason);
const onException = (err: unknown) => crashes.push(err);

export async function serve(rateLimit: number, tls?: { cert: string; key: string }): Promise<void> {
  log.length = 0;
  crashes.length = 0;
  overTls = tls !== undefined;
  const base = await startTestServer();
  await base.stop();
  server = await startServer({
    tls,
    port: 0,
    host: '127.0.0.1',
    blockDurationMs: 60_000,
    timeoutMs: 300_000,
    credentials: base.credentialsPath,
    db: base.dbPath,
    rateLimit,
    log: (line) => log.push(line),
  });
}

/** Registers the hooks: crashes are caught, the server is stopped after each test. */
export function useFuzzServer(): void {
  beforeAll(() => {
    process.on('unhandledRejection', onRejection);
    process.on('uncaughtException', onException);
  });
  afterAll(() => {
    process.off('unhandledRejection', onRejection);
    process.off('uncaughtException', onException);
  });
  afterEach(async () => {
    await server?.stop();
  });
}

/** yoda and leia, messaging each other while the hostiles run; every exchange must succeed, promptly. */
export class Bystanders {
  exchanges = 0;
  readonly failures: string[] = [];
  slowest = 0;

  constructor(
    readonly yoda: RawClient,
    readonly leia: RawClient,
  ) {}

  /** `count` messages, alternating yoda -> leia and leia -> yoda, each waited for (delivered and received). */
  async exchange(count: number): Promise<void> {
    for (let n = 0; n < count; n++) {
      const i = this.exchanges;
      const started = performance.now();
      const [from, to, fromName, toName] = i % 2 === 0 ? [this.yoda, this.leia, 'yoda', 'leia'] : [this.leia, this.yoda, 'leia', 'yoda'];
      const body = `exchange ${i} from ${fromName}`;
      try {
        const reply = await from.request(`message ${toName} ${body}`);
        if (reply.code !== 'delivered') this.failures.push(`${fromName} -> ${toName}: ${JSON.stringify(reply)}`);
        await to.event('message', { from: fromName, body });
      } catch (err) {
        this.failures.push(String(err).slice(0, 500));
      }
      this.exchanges++;
      this.slowest = Math.max(this.slowest, performance.now() - started);
    }
  }

  /** Every line they got is well-formed, and no message could drive their terminal. */
  check(): void {
    for (const c of [this.yoda, this.leia]) {
      for (const text of c.received.split('\n').slice(0, -1)) {
        const value = JSON.parse(text) as Line;
        expect(typeof value.type).toBe('string');
      }
      for (const m of c.seen((l) => l.type === 'message' || l.type === 'broadcast')) {
        const body = String(m.body);
        expect(CONTROL.test(body)).toBe(false);
        expect([...body].length).toBeLessThanOrEqual(MAX_TEXT_CHARS);
        expect(body.trim()).not.toBe('');
      }
    }
  }
}

/** Waits (yielding to the event loop, bounded) until `check` holds. */
export async function until(check: () => boolean, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const LOGINS: [string, string][] = [
  ['hans', 'falcon*solo'],
  ['luke', 'light==saber'],
  ['vader', 'sithlord**'],
];

/** One property run: the hostile scripts, run at once against the live server while the bystanders chat. */
export async function runScripts(scripts: Script[], bystanders: Bystanders, exchanges: number): Promise<void> {
  const { state } = server;
  const hostiles = await Promise.all(scripts.map(() => Hostile.connect(server.port, overTls)));
  const streams: number[][] = scripts.map(() => []);
  const sent = (i: number, bytes: Uint8Array) => {
    (hostiles[i] as Hostile).write(bytes);
    (streams[i] as number[]).push(...bytes);
  };
  await Promise.all([
    bystanders.exchange(exchanges),
    ...scripts.map(async (s, i) => {
      const h = hostiles[i] as Hostile;
      if (s.login) {
        const [user, password] = LOGINS[i % LOGINS.length] as [string, string];
        streams[i]?.push(...encoder.encode(`#L1 login ${user}\n#L2 password ${password}\n`));
        // Logged in, with a private-chat port, so that private-chat commands between hostiles get far.
        if (await h.login(user, password)) sent(i, encoder.encode(`#L3 p2pport ${40_000 + i}\n`));
      }
      for (const [k, p] of s.pieces.entries()) {
        sent(i, bytesOf(p, `f${i}x${k}`));
        if (p.yieldAfter) await new Promise((r) => setImmediate(r));
      }
      if (s.ending === 'sync') {
        sent(i, encoder.encode('\n#end help\n'));
        await h.reply('end');
      } else if (s.ending === 'half-kill') {
        sent(i, encoder.encode(s.half));
        await new Promise((r) => setImmediate(r));
        h.kill();
      } else {
        h.end();
      }
    }),
  ]);

  for (const [i, h] of hostiles.entries()) {
    const what = `hostile ${i}`;
    expect(h.bad, what).toEqual([]);
    const { required, allowed } = expectedTags(Uint8Array.from(streams[i] as number[]));
    // PROTO-2: never a reply to a request that was not made, never two to one request.
    const tags = h.lines.filter((l) => l.re !== undefined).map((l) => String(l.re));
    for (const tag of tags) expect(required.has(tag) || allowed.has(tag), `${what}: reply to ${tag}`).toBe(true);
    expect(new Set(tags).size, `${what}: one reply per tag`).toBe(tags.length);
    // Still open after `#end help` was answered: everything before it was answered too.
    if (!h.truncated && h.lines.some((l) => l.re === 'end' && l.type === 'ok')) {
      const missing = [...required].filter((t) => !tags.includes(t));
      expect(missing, `${what}: requests without a reply`).toEqual([]);
    }
  }

  for (const h of hostiles) h.kill();
  // Back to the bystanders alone: nothing leaked (SESS-4: a vanished client is logged out).
  await until(() => state.connections === 2 && state.sessions.size === 2, 'only the bystanders are connected');
  expect([...state.sessions.keys()].sort()).toEqual(['leia', 'yoda']);
  expect(state.privateRequests.size).toBe(0);
  expect([...state.perAddress]).toEqual([['127.0.0.1', 2]]);
  // Inactivity and ack timers of the two sessions, and lockout expiries: nothing else.
  expect(state.wheel.size).toBeLessThanOrEqual(2 * state.sessions.size + state.lockedUntil.size);
}

export function checkServerHealthy(): void {
  expect(crashes).toEqual([]);
  expect(log.filter((l) => /error in a handler|connection error/.test(l))).toEqual([]);
}

/** A bystander, over TLS when the server speaks it. */
export async function bystander(name: 'yoda' | 'leia'): Promise<RawClient> {
  if (!overTls) return as(server.port, name);
  const c = await RawClient.connect(server.port, '127.0.0.1', { tls: true });
  await c.login(name, name === 'yoda' ? 'wise@!man' : '$blasterpistol$');
  return c;
}
