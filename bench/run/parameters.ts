// What a run is asked to do: the command line, the scenarios wanted and every parameter (all
// recorded in the results file). Reading it has no side effect: bench/run.ts acts on it.

import { parseArgs } from 'node:util';

export const SCENARIOS = ['compare', 'ceiling', 'direct', 'latency', 'scale', 'offline', 'broadcast', 'logins', 'idle', 'web'] as const;
export type Scenario = (typeof SCENARIOS)[number];

export const { values: flags, positionals } = parseArgs({
  args: Bun.argv.slice(2),
  allowPositionals: true,
  options: {
    quick: { type: 'boolean', default: false },
    users: { type: 'string' },
    seconds: { type: 'string' },
    window: { type: 'string' },
    profile: { type: 'boolean', default: false },
    out: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

export const quick = flags.quick;
const num = (text: string | undefined, fallback: number) => (text === undefined ? fallback : Number(text));

/** Every parameter, recorded in the results file. */
export const P = {
  quick,
  seconds: num(flags.seconds, quick ? 2 : 10),
  warmupMs: quick ? 500 : 2000,
  bodyChars: 40,
  direct: { users: num(flags.users, quick ? 100 : 1000), window: num(flags.window, 64), procs: 1 },
  latency: { users: num(flags.users, quick ? 100 : 1000), rates: quick ? [1000, 10_000] : [1000, 10_000, 100_000], seconds: num(flags.seconds, quick ? 1 : 5) },
  logins: { users: num(flags.users, quick ? 1000 : 19_000), perProcess: 4750, concurrency: 100 },
  idle: { quietSeconds: quick ? 1 : 10, seconds: num(flags.seconds, quick ? 2 : 10), serverTimeoutSeconds: 600 },
  broadcast: { users: num(flags.users, quick ? 500 : 10_000), perProcess: 5000, count: quick ? 5 : 20, intervalMs: 200 },
  offline: { messages: quick ? 5000 : 100_000, recipients: 10, senders: quick ? 20 : 100, window: 100, backlogEach: quick ? 500 : 10_000 },
  scale: { active: num(flags.users, quick ? 100 : 1000), online: quick ? 1000 : 10_000, perProcess: 5000 },
  web: { pairs: num(flags.users, quick ? 20 : 100), window: num(flags.window, quick ? 8 : 16), rate: quick ? 500 : 2000, seconds: num(flags.seconds, quick ? 1 : 5) },
  compare: {
    cases: quick ? [{ users: 100, window: 16 }] : [{ users: 100, window: 16 }, { users: 1000, window: 16 }, { users: 1000, window: 64 }],
    latency: { users: quick ? 100 : 1000, rate: quick ? 1000 : 10_000, seconds: quick ? 1 : 5 },
    broadcast: { users: quick ? 100 : 1000, count: quick ? 5 : 20, intervalMs: quick ? 100 : 200 },
    bodyChars: 40,
  },
};

export const wanted: Set<Scenario> = new Set(positionals.length > 0 ? (positionals as Scenario[]) : SCENARIOS);
// Throughput is shown as a fraction of the ceiling, so any throughput scenario brings it along.
if (wanted.has('direct') || wanted.has('scale') || wanted.has('offline') || wanted.has('latency')) wanted.add('ceiling');
