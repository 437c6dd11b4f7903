// The worker's simulated users and what every scenario shares: the state (one object, since each
// scenario's file reads and sets it), setup (connect and log in, or pair on the relay), the
// counters summed over the users, and the handling of lines outside a measurement.

import * as hdr from 'hdr-histogram-js';
import { Client, connectClient, connectClientWs, countLine, login, pool, type LineHandler } from '../lib/client.ts';
import { nowMs, sleep } from '../lib/clock.ts';
import { answerPing, ircRegister, numeric } from '../lib/irc.ts';

export type Msg = Record<string, unknown> & { id: number; cmd: string };

export function newHistogram() {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
}

export const state = {
  clients: [] as Client[],
  /** What the users speak: chat's protocol, the bare relay's pairing, or IRC (ngIRCd). */
  proto: 'chat' as 'chat' | 'relay' | 'irc',
  relay: false,
  /** The server sends one `delivered` line for several messages, with their count in "n" (min-server's batched variant). */
  batched: false,
  histogram: undefined as ReturnType<typeof newHistogram> | undefined,
  lastError: '',
};

let host = '127.0.0.1';
let port = 0;

export function pad(chars: number): string {
  return 'x'.repeat(Math.max(1, chars - 20));
}

// ---- setup: connect and log in (or pair, on the relay) -------------------------------------------

export async function setup(m: Msg): Promise<object> {
  host = m.host as string;
  port = m.port as number;
  state.proto = (m.proto as typeof state.proto | undefined) ?? 'chat';
  state.relay = state.proto === 'relay';
  state.batched = m.batched === true;
  const users = m.users as string[];
  const countOnly = m.countOnly === true;
  const fresh = users.map((name) => new Client(name));
  // Partners in another worker (the web scenario pairs WebSocket users with TCP users), else in pairs here.
  const partners = m.partners as string[] | undefined;
  fresh.forEach((c, i) => {
    c.partner = partners?.[i] ?? users[i ^ 1] ?? '';
    if (!partners) c.peer = fresh[i ^ 1];
  });
  const wsUrl = m.wsUrl as string | undefined;
  const started = nowMs();
  const times: number[] = [];
  // Logins in progress are bounded: a connect completes in the kernel before the server accepts it,
  // and past the listen backlog (512) SYNs are dropped and retried a second later.
  const index = new Map(fresh.map((c, i) => [c, i]));
  await pool(fresh, (m.concurrency as number) ?? 100, async (c) => {
    const t0 = nowMs();
    if (wsUrl) await connectClientWs(c, wsUrl);
    else await connectClient(c, host, port);
    if (state.relay) await pairOnRelay(c, `${m.tag}-${(index.get(c) as number) >> 1}`);
    else if (state.proto === 'irc') await ircRegister(c, ircIdleLine);
    else await login(c, m.password as string);
    c.countOnly = countOnly;
    times.push(nowMs() - t0);
  });
  state.clients.push(...fresh);
  times.sort((a, b) => a - b);
  return { ms: nowMs() - started, loginP50: times[Math.floor(times.length / 2)] ?? 0, loginMax: times.at(-1) ?? 0 };
}

function pairOnRelay(c: Client, key: string): Promise<void> {
  return new Promise((resolve) => {
    c.onLine = (client, line) => {
      if (line.includes('"code":"welcome"')) {
        client.welcomed = true;
        client.onLine = countLine;
        resolve();
      }
    };
    c.send(`pair ${key}\n`);
  });
}

export function stats(): object {
  let lines = 0;
  let closed = 0;
  for (const c of state.clients) {
    lines += c.linesAfterWelcome;
    if (c.closed) closed++;
  }
  return { lines, closed, users: state.clients.length };
}

/** Back to line mode (after a presence flood counted in count mode has settled). */
export function lineMode(): object {
  for (const c of state.clients) {
    c.countOnly = false;
    c.partial = '';
  }
  return {};
}

/** Lines outside a measurement: PINGs answered, error replies kept (4xx/5xx, ERROR). */
export const ircIdleLine: LineHandler = (c, line) => {
  if (answerPing(c, line)) return;
  const code = numeric(line);
  if ((code >= '400' && code < '600') || line.startsWith('ERROR ')) {
    c.failed++;
    state.lastError = line;
  } else if (line.includes(' JOIN ')) {
    c.linesAfterWelcome++;
  }
};

// ---- counters over a list of users ---------------------------------------------------------------

export function totals(list: readonly Client[]) {
  let sent = 0;
  let received = 0;
  let delivered = 0;
  let stored = 0;
  let failed = 0;
  let inflight = 0;
  for (const c of list) {
    sent += c.sent;
    received += c.received;
    delivered += c.delivered;
    stored += c.stored;
    failed += c.failed;
    inflight += c.inflight;
  }
  return { sent, received, delivered, stored, failed, inflight };
}

export function resetCounters(list: readonly Client[]): void {
  for (const c of list) {
    c.sent = c.received = c.delivered = c.stored = c.failed = c.inflight = 0;
  }
}

/** Active users are the first `active` clients (the rest stay idle and only read). */
export function activeClients(m: Msg): Client[] {
  const n = (m.active as number | undefined) ?? state.clients.length;
  return state.clients.slice(0, n);
}

export async function waitDrained(list: readonly Client[], ms: number): Promise<boolean> {
  const until = nowMs() + ms;
  while (nowMs() < until) {
    if (totals(list).inflight <= 0) return true;
    await sleep(20);
  }
  return false;
}
