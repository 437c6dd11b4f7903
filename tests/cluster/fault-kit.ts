// What the engine fault tests (CLU-4) share: senders that keep messages flowing with a few in
// flight and record each message's fate, the client's rule for what it shows (`shownOnce`), and the
// final count of every message whose sender was told `delivered` or `stored`: shown exactly once,
// shown twice, hidden by the client, or lost (never reached the recipient's connection at all).

import { afterAll } from 'bun:test';
import type { Subprocess } from 'bun';
import { ShownOnce } from '../../src/protocol/shown-once.ts';
import { spawnServe, type ServeProcess } from '../helpers/serve-process.ts';
import { PASSWORDS, RawClient, type Line } from '../helpers/raw-client.ts';

/** Accounts of the fault tests: the usual five and a few more to be offline recipients and probes. */
export const FAULT_PASSWORDS: Record<string, string> = { ...PASSWORDS, lando: 'cloud-city', obiwan: 'hello-there', padme: 'naboo-queen', r2d2: 'beep-boop' };
/** The engine fault tests' users: senders on each node, recipients online (one on each node), and recipients who stay offline until the end (what is sent to them is stored). */
export const SENDERS: readonly (readonly string[])[] = [
  ['hans', 'vader'],
  ['yoda', 'lando'],
];
export const ONLINE = ['leia', 'luke'];
export const OFFLINE = ['obiwan', 'padme'];

export const FAULT_CREDENTIALS = Object.entries(FAULT_PASSWORDS)
  .map(([name, password]) => `${name} ${password}\n`)
  .join('');

/**
 * The `chat serve` nodes of a fault test file, on its Redis: no rate limit, per-address cap,
 * failure ban or offline quota for the test's load to hit. Every one is killed after the file
 * (SIGCONT first: a test may have left one stopped). Call it before useEngines(): a scope's
 * afterAll hooks run in order, and the nodes should go before their engines.
 */
export function faultNodes(redisUrl: () => string): { start(port: number, store: string, name: string, credentials: string): Promise<Subprocess>; logs(): string } {
  const started: ServeProcess[] = [];
  afterAll(async () => {
    for (const { proc } of started) {
      proc.kill('SIGCONT');
      proc.kill('SIGKILL');
      await proc.exited;
    }
  });
  return {
    async start(port, store, name, credentials) {
      const node = await spawnServe([String(port), '60', '300', '--host', '127.0.0.1', '--credentials', credentials, '--rate-limit', '0', '--max-per-address', '0', '--max-auth-failures', '0', '--offline-quota', '0', '--offline-quota-bytes', '0', '--cluster', redisUrl(), '--store', store, '--node', name]);
      started.push(node);
      return node.proc;
    },
    logs: () => started.map((n) => n.log()).join(''),
  };
}

/**
 * The messages a client shows, in order, from the lines it received over its connections (in the
 * order they were made), by the clients' own rule (src/protocol/shown-once.ts): once per `key`,
 * or, for a line without one, only above the highest id shown.
 */
export function shownOnce(lines: Iterable<Line>): Line[] {
  const seen = new ShownOnce();
  const shown: Line[] = [];
  for (const l of lines) {
    if (l.type !== 'message') continue;
    if (seen.firstSight({ id: l.id as number, ...(typeof l.key === 'number' && { key: l.key }) })) shown.push(l);
  }
  return shown;
}

/** Waits until `ready()` holds, looking every 20 ms; throws naming `what` after `ms` (a failure guard, not a timing). */
export async function until(ready: () => boolean | Promise<boolean>, what: string, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(20);
  }
}

/** Logs `user` in on `port`, trying again while the name is still held elsewhere or the node is settling. */
export async function logIn(port: number, user: string, ms = 15_000): Promise<RawClient> {
  const deadline = Date.now() + ms;
  for (;;) {
    const c = await RawClient.connect(port);
    const first = await c.request(`login ${user}`);
    const reply = first.type === 'ok' ? await c.request(`password ${FAULT_PASSWORDS[user]}`) : first;
    if (reply.code === 'welcome') return c;
    c.kill();
    if (!['already-online', 'busy'].includes(String(reply.code)) || Date.now() > deadline) throw new Error(`login ${user} on ${port}: ${JSON.stringify(reply)}`);
    await Bun.sleep(100);
  }
}

export interface Fate {
  readonly to: string;
  /** `delivered`, `stored`, or `error <code>`; undefined while no reply came. */
  fate?: string;
  readonly sentAt: number;
  repliedAt?: number;
}

/**
 * One sender keeping `window` messages in flight to `targets` in turn, each message's text its tag,
 * until stop(); `done` resolves when every message sent has its reply (rejects if one takes longer
 * than `replyMs`, or the connection closes).
 */
export class Sender {
  readonly fates = new Map<string, Fate>();
  private readonly pending = new Set<string>();
  private stopped = false;
  private next = 0;
  private scanned = 0;
  readonly done: Promise<void>;

  constructor(
    readonly client: RawClient,
    readonly prefix: string,
    private readonly targets: readonly string[],
    private readonly window = 8,
    /** At most one message this often (ms): a steady load, not a flood that fills the offline quota. */
    private readonly paceMs = 10,
    private readonly replyMs = 30_000,
  ) {
    this.done = this.run();
    // Awaited by stop(); a test that failed before that must not also see an unhandled rejection.
    this.done.catch(() => {});
  }

  stop(): Promise<void> {
    this.stopped = true;
    return this.done;
  }

  /** Replies of `fate` heard after `since` (for messages to one of `to`, when given). */
  heard(fate: string, since = 0, to?: readonly string[]): number {
    let n = 0;
    for (const f of this.fates.values()) if (f.fate === fate && (f.repliedAt ?? 0) >= since && (!to || to.includes(f.to))) n++;
    return n;
  }

  private async run(): Promise<void> {
    let quietSince = Date.now();
    let sentAt = 0;
    for (;;) {
      while (!this.stopped && this.pending.size < this.window && Date.now() - sentAt >= this.paceMs) {
        sentAt = Date.now();
        const to = this.targets[this.next % this.targets.length] as string;
        const tag = `${this.prefix}m${this.next++}`;
        this.fates.set(tag, { to, sentAt: Date.now() });
        this.pending.add(tag);
        this.client.send(`#${tag} message ${to} ${tag}`);
      }
      const before = this.pending.size;
      for (; this.scanned < this.client.lines.length; this.scanned++) {
        const l = this.client.lines[this.scanned] as Line;
        if (typeof l.re !== 'string' || !this.pending.has(l.re)) continue;
        this.pending.delete(l.re);
        const f = this.fates.get(l.re) as Fate;
        f.fate = l.type === 'error' ? `error ${String(l.code)}` : String(l.code);
        f.repliedAt = Date.now();
      }
      if (this.pending.size < before || this.pending.size === 0) quietSince = Date.now();
      if (this.stopped && this.pending.size === 0) return;
      if (this.client.isClosed) throw new Error(`${this.prefix}: the connection closed with ${this.pending.size} messages unanswered`);
      if (Date.now() - quietSince > this.replyMs) throw new Error(`${this.prefix}: no reply for ${this.replyMs} ms to ${[...this.pending].slice(0, 5).join(', ')}...`);
      await this.client.more(this.scanned, this.stopped || this.pending.size >= this.window ? 1000 : this.paceMs);
    }
  }
}

export interface Count {
  sent: number;
  delivered: number;
  stored: number;
  /** Told an error (by code), or never answered. */
  refused: Record<string, number>;
  /** Told delivered or stored and shown once. */
  shown: number;
  /** Told delivered or stored and shown more than once, though its copies carry a key the client dedupes on: a bug. */
  duplicates: number;
  /**
   * Told delivered or stored and shown more than once, its copies without a key (a server from
   * before keys): the id rule cannot tell a copy re-sent with another id from a new message.
   */
  duplicatesWithoutKey: number;
  /** Told delivered or stored, reached the recipient's connection, and not shown by the client's rule. */
  hidden: number;
  /** Told delivered or stored and never reached the recipient's connection. */
  lost: number;
  /** Told an error, yet it reached the recipient (a sender who tries again sends it twice). */
  refusedButArrived: number;
  /** A few of the messages shown twice, lost or refused-but-arrived, with where each copy went: for the failure message. */
  examples: string[];
}

/** Counts every message of `senders` against what `connections` (recipient -> its connections, in order) received. */
export function count(senders: readonly Sender[], connections: ReadonlyMap<string, readonly RawClient[]>): Count {
  const wire = new Map<string, Set<string>>();
  const shown = new Map<string, Map<string, number>>();
  for (const [user, conns] of connections) {
    const lines = conns.flatMap((c) => c.lines);
    wire.set(user, new Set(lines.filter((l) => l.type === 'message').map((l) => String(l.body))));
    const times = new Map<string, number>();
    for (const l of shownOnce(lines)) times.set(String(l.body), (times.get(String(l.body)) ?? 0) + 1);
    shown.set(user, times);
  }
  const c: Count = { sent: 0, delivered: 0, stored: 0, refused: {}, shown: 0, duplicates: 0, duplicatesWithoutKey: 0, hidden: 0, lost: 0, refusedButArrived: 0, examples: [] };
  const example = (tag: string, f: Fate, what: string) => {
    if (c.examples.length >= 5) return;
    const copies = (connections.get(f.to) ?? []).flatMap((conn, i) => conn.lines.filter((l) => l.type === 'message' && l.body === tag).map((l) => `connection ${i}: ${JSON.stringify(l)}`));
    c.examples.push(`${tag} to ${f.to} (${what}, told ${f.fate ?? 'nothing'}): ${copies.join('; ') || 'no copy'}`);
  };
  for (const sender of senders) {
    for (const [tag, f] of sender.fates) {
      c.sent++;
      const arrived = wire.get(f.to)?.has(tag) ?? false;
      if (f.fate !== 'delivered' && f.fate !== 'stored') {
        const why = f.fate ?? 'no reply';
        c.refused[why] = (c.refused[why] ?? 0) + 1;
        if (arrived) {
          c.refusedButArrived++;
          example(tag, f, 'refused but arrived');
        }
        continue;
      }
      c[f.fate]++;
      const n = shown.get(f.to)?.get(tag) ?? 0;
      if (n === 1) c.shown++;
      else if (n > 1) {
        const keyed = (connections.get(f.to) ?? []).some((conn) => conn.lines.some((l) => l.type === 'message' && l.body === tag && typeof l.key === 'number'));
        if (keyed) c.duplicates++;
        else c.duplicatesWithoutKey++;
        example(tag, f, keyed ? 'shown twice' : 'shown twice, no key');
      } else if (arrived) c.hidden++;
      else {
        c.lost++;
        example(tag, f, 'lost');
      }
    }
  }
  return c;
}

/** One summary line for the test's output. */
export function describeCount(name: string, c: Count, extra = ''): string {
  const refused = Object.entries(c.refused)
    .map(([why, n]) => `${n} ${why}`)
    .join(', ');
  const examples = c.examples.length > 0 ? `\n  ${c.examples.join('\n  ')}` : '';
  return `${name}: ${c.sent} sent, ${c.delivered} delivered, ${c.stored} stored, refused/failed: ${refused || 'none'}; of those told delivered or stored: ${c.shown} shown once, ${c.duplicates} shown twice, ${c.lost} lost, and by the client's rule ${c.hidden} hidden and ${c.duplicatesWithoutKey} shown twice; ${c.refusedButArrived} refused but arrived${extra ? `; ${extra}` : ''}${examples}`;
}

/** Waits until every message told delivered or stored to `user` has reached one of `conns`, or `ms` passed. */
export async function allArrived(senders: readonly Sender[], user: string, conns: readonly RawClient[], ms = 20_000): Promise<void> {
  const want = senders.flatMap((s) => [...s.fates].filter(([, f]) => f.to === user && (f.fate === 'delivered' || f.fate === 'stored')).map(([tag]) => tag));
  const last = conns.at(-1) as RawClient;
  const deadline = Date.now() + ms;
  for (;;) {
    const got = new Set(conns.flatMap((c) => c.lines.filter((l) => l.type === 'message').map((l) => String(l.body))));
    if (want.every((t) => got.has(t)) || Date.now() > deadline || last.isClosed) return;
    await last.more(last.lines.length, deadline - Date.now());
  }
}

/**
 * The end of a fault run: every recipient logs in again — ONLINE users on the other node than
 * before, OFFLINE users for the first time — is given what was stored, and every message is counted.
 */
export async function logInAgainAndCount(senders: readonly Sender[], connections: Map<string, RawClient[]>, ports: readonly number[]): Promise<Count> {
  for (const [i, user] of ONLINE.entries()) {
    const old = connections.get(user)?.at(-1) as RawClient;
    old.end();
    await old.waitClosed(5000);
    connections.get(user)?.push(await logIn(ports[1 - i] as number, user));
  }
  for (const [i, user] of OFFLINE.entries()) connections.get(user)?.push(await logIn(ports[i] as number, user));
  for (const [user, conns] of connections) await allArrived(senders, user, conns);
  return count(senders, connections);
}
