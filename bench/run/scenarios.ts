// The scenarios: each drives worker processes against a fresh server (or the bare relay), logs what
// it measured, and adds its figures to the table (bench/run/results.ts). docs/PERFORMANCE.md
// explains each one.

import { Database } from 'bun:sqlite';
import { scenarioCompare, type Comparison } from '../compare.ts';
import { sleep } from '../lib/clock.ts';
import { decodeHistograms, fmt, makeKit, names, type DirectResult } from '../lib/kit.ts';
import { CpuMeter, memoryOf } from '../lib/proc.ts';
import { PASSWORD, startTarget, Worker } from '../lib/procs.ts';
import { P } from './parameters.ts';
import { details, log, profileDir, rows, workDir } from './results.ts';

// Set by the scenarios and read by bench/run.ts through the module's live bindings.
export let ceiling = 0;
export let comparison: Comparison | undefined;

const kit = makeKit({ workDir, warmupMs: P.warmupMs, seconds: P.seconds, bodyChars: P.bodyChars, loginConcurrency: P.logins.concurrency, serverTimeoutSeconds: P.idle.serverTimeoutSeconds, profileDir, log });
const { freshDir, withServer, logIn, settle, exitAll, runDirect } = kit;

/** Msgs per second of the server's own CPU time (user + system): rate / fraction of a core. */
const perCpu = (rate: number, cpu: number) => (cpu > 0 ? rate / cpu : 0);

function ofCeiling(rate: number): string | undefined {
  return ceiling > 0 ? `${((rate / ceiling) * 100).toFixed(0)} %` : undefined;
}

// ---- scenarios ---------------------------------------------------------------------------------

export async function runCompare(): Promise<void> {
  comparison = await scenarioCompare(kit, P.compare, log);
  // The issue-14 target on chat's side of the comparison: 1000 users in pairs.
  for (const d of comparison.results.chat?.direct ?? []) {
    if (d.users < 1000) continue;
    rows.push({ id: 'C1', scenario: `chat: ${fmt(d.users)} users in pairs, ${d.window} in flight: msgs per server CPU-second`, target: '>= 500,000', measured: `${fmt(d.perServerCpuSecond)} (${fmt(d.perSecond)} msg/s at ${(d.serverCpu * 100).toFixed(0)} % server CPU)`, met: d.perServerCpuSecond >= 500_000 });
  }
}

export async function scenarioCeiling(): Promise<void> {
  const { dir } = freshDir(0);
  const relay = await startTarget('relay', { dir, profileDir: undefined });
  try {
    const { workers } = await logIn(relay, names(0, P.direct.users), P.direct.users, false, 'relay');
    const result = await runDirect(relay, workers[0] as Worker, P.direct.users, P.direct.window);
    await exitAll(workers);
    ceiling = result.receivedPerSecond;
    details.ceiling = result;
    log(`ceiling: ${fmt(ceiling)} msg/s through the bare relay (relay CPU ${(result.cpu.server * 100).toFixed(0)} %, generator ${(result.cpu.generator * 100).toFixed(0)} %)`);
    rows.push({ id: '—', scenario: `ceiling: bare relay, ${P.direct.users} users in pairs, ${P.direct.window} in flight each`, target: '(reference)', measured: `${fmt(ceiling)} msg/s; ${fmt(result.perServerCpuSecond)} per relay CPU-second`, met: null, ofCeiling: '100 %' });
  } finally {
    await relay.stop();
  }
}

export async function scenarioDirect(): Promise<void> {
  const { users, window } = P.direct;
  const result = await withServer(users, [], async (target) => {
    const { workers } = await logIn(target, names(0, users), users, false, 'direct');
    const r = await runDirect(target, workers[0] as Worker, users, window);
    await exitAll(workers);
    return r;
  });
  details.direct = result;
  const rate = result.receivedPerSecond;
  log(`B1: ${fmt(rate)} msg/s delivered (server CPU ${(result.cpu.server * 100).toFixed(0)} % of which kernel ${(result.cpu.serverKernel * 100).toFixed(0)} %, generator ${(result.cpu.generator * 100).toFixed(0)} %)`);
  rows.push({ id: 'B1', scenario: `direct messages, ${users} users in pairs, ${window} in flight each`, target: '>= 500,000 msgs per server CPU-second', measured: `${fmt(result.perServerCpuSecond)} per server CPU-second (${fmt(rate)} msg/s at ${(result.cpu.server * 100).toFixed(0)} % CPU)`, met: result.perServerCpuSecond >= 500_000, ofCeiling: ofCeiling(rate) });
}

export async function scenarioLatency(): Promise<void> {
  const { users, rates, seconds } = P.latency;
  const results = await withServer(users, [], async (target) => {
    const { workers } = await logIn(target, names(0, users), users, false, 'latency');
    const out = [];
    for (const rate of rates) {
      const serverCpu = new CpuMeter(target.pid);
      const r = await (workers[0] as Worker).call<{ histogram: string; achieved: number; sent: number; received: number; drained: boolean; lastError: string }>('latency', { rate, seconds, bodyChars: P.bodyChars });
      const cpu = serverCpu.read();
      const h = decodeHistograms([r.histogram]);
      log(`B2 at ${fmt(rate)}/s: achieved ${fmt(r.achieved)}/s, p50 ${h.p50.toFixed(3)} ms, p99 ${h.p99.toFixed(3)} ms, p99.9 ${h.p999.toFixed(3)} ms, max ${h.max.toFixed(1)} ms (server CPU ${(cpu * 100).toFixed(0)} %)`);
      if (r.lastError) log(`  last error seen: ${r.lastError}`);
      out.push({ rate, achieved: r.achieved, sent: r.sent, received: r.received, drained: r.drained, serverCpu: cpu, latencyMs: h });
    }
    await exitAll(workers);
    return out;
  });
  details.latency = results;
  for (const r of results) {
    const h = r.latencyMs;
    const at10k = r.rate === 10_000;
    rows.push({
      id: 'B2',
      scenario: `latency sender -> recipient at ${fmt(r.rate)} msg/s offered (${fmt(r.achieved)} sent/s)`,
      target: at10k ? 'p99 <= 2 ms' : 'report p50/p99/p99.9',
      measured: `p50 ${h.p50.toFixed(2)} / p99 ${h.p99.toFixed(2)} / p99.9 ${h.p999.toFixed(2)} ms`,
      met: at10k ? h.p99 <= 2 : null,
      ofCeiling: ofCeiling(r.achieved),
    });
  }
}

/**
 * W1: users over the web client's WebSocket exchange direct messages with users over TCP (each
 * WebSocket user has a TCP partner), against the same load with TCP on both sides: throughput with
 * `window` in flight each way, then latency one way at a fixed rate (the receiver's worker records it).
 */
export async function scenarioWeb(): Promise<void> {
  const { pairs, window, rate, seconds } = P.web;
  const run = (overWs: boolean) =>
    withServer(
      pairs * 2,
      [],
      async (target) => {
        const side = names(0, pairs);
        const other = names(pairs, pairs);
        const [a, b] = [new Worker(overWs ? 'web-ws' : 'web-tcp-a'), new Worker('web-tcp')];
        await Promise.all([a.ready, b.ready]);
        const setup = (users: string[], partners: string[], tag: string, wsUrl?: string) => ({ host: '127.0.0.1', port: target.port, users, partners, password: PASSWORD, countOnly: false, concurrency: 50, tag, wsUrl });
        await Promise.all([a.call('setup', setup(side, other, 'wa', overWs ? `ws://127.0.0.1:${target.webPort}/ws` : undefined)), b.call('setup', setup(other, side, 'wb'))]);
        const args = { window, warmupMs: P.warmupMs, seconds: P.seconds, bodyChars: P.bodyChars };
        const [ra, rb] = await Promise.all([a.call<DirectResult>('direct', args), b.call<DirectResult>('direct', args)]);
        const oneWay = async (from: Worker, to: Worker) => {
          await to.call('recordStart');
          await from.call('latency', { rate, seconds, bodyChars: P.bodyChars });
          return decodeHistograms([(await to.call<{ histogram: string }>('recordStop')).histogram]);
        };
        const aToB = await oneWay(a, b);
        const bToA = await oneWay(b, a);
        await exitAll([a, b]);
        return { throughput: ra.receivedPerSecond + rb.receivedPerSecond, aToB, bToA, errors: [ra.lastError, rb.lastError].filter(Boolean) };
      },
      overWs,
    );
  const tcp = await run(false);
  const web = await run(true);
  details.web = { tcp, web, parameters: P.web };
  for (const e of [...tcp.errors, ...web.errors]) log(`  last error seen: ${e}`);
  log(`W1: WebSocket <-> TCP ${fmt(web.throughput)} msg/s, TCP <-> TCP ${fmt(tcp.throughput)} msg/s; p99 ws->tcp ${web.aToB.p99.toFixed(2)} ms, tcp->ws ${web.bToA.p99.toFixed(2)} ms, tcp->tcp ${tcp.aToB.p99.toFixed(2)} ms`);
  rows.push({ id: 'W1', scenario: `direct messages, ${pairs} WebSocket users <-> ${pairs} TCP users, ${window} in flight each`, target: '(beside TCP only)', measured: `${fmt(web.throughput)} msg/s (TCP only: ${fmt(tcp.throughput)})`, met: null, ofCeiling: ofCeiling(web.throughput) });
  rows.push({ id: 'W1', scenario: `latency at ${fmt(rate)} msg/s offered, p50 / p99`, target: '(beside TCP only)', measured: `ws->tcp ${web.aToB.p50.toFixed(2)} / ${web.aToB.p99.toFixed(2)} ms, tcp->ws ${web.bToA.p50.toFixed(2)} / ${web.bToA.p99.toFixed(2)} ms (TCP only: ${tcp.aToB.p50.toFixed(2)} / ${tcp.aToB.p99.toFixed(2)} ms)`, met: null });
}

export async function scenarioLoginsAndIdle(doLogins: boolean, doIdle: boolean): Promise<void> {
  const { users, perProcess } = P.logins;
  await withServer(users, [], async (target) => {
    await sleep(1000);
    const empty = memoryOf(target.pid);
    const serverCpu = new CpuMeter(target.pid);
    const { workers, ms, replies, cpu: loginCpu } = await logIn(target, names(0, users), perProcess, true, 'login');
    serverCpu.read(true);
    const expected = (users * (users - 1)) / 2;
    const presence = await settle(workers, expected, 120_000);
    const settleCpu = serverCpu.read(true);
    await sleep(2000);
    const full = memoryOf(target.pid);
    const perUser = (full.rss - empty.rss) / users;
    const logins = {
      users,
      processes: workers.length,
      allLoggedInMs: ms,
      loginLatencyP50Ms: Math.max(...replies.map((r) => r.loginP50)),
      loginLatencyMaxMs: Math.max(...replies.map((r) => r.loginMax)),
      presenceLines: presence.lines,
      presenceExpected: expected,
      presenceSettledMs: ms + presence.ms,
      cpuDuringLogins: loginCpu,
      serverCpuWhileSettling: settleCpu,
      rssEmpty: empty.rss,
      rssFull: full.rss,
      rssPeak: full.peak,
      rssPerUserBytes: perUser,
      rssSteady: undefined as number | undefined,
      rssSteadyAfterSeconds: undefined as number | undefined,
      rssSteadyPerUserBytes: undefined as number | undefined,
    };
    details.logins = logins;
    log(`B3: ${users} users logged in in ${fmt(ms)} ms; presence (${fmt(presence.lines)} announcements) settled after ${fmt(logins.presenceSettledMs)} ms (CPU during logins: server ${(loginCpu.server * 100).toFixed(0)} %, generators ${(loginCpu.generators * 100).toFixed(0)} %); RSS ${fmt(empty.rss / 2 ** 20, 1)} -> ${fmt(full.rss / 2 ** 20, 1)} MiB (peak ${fmt(full.peak / 2 ** 20, 1)}), ${fmt(perUser)} B/user`);
    if (doIdle) {
      // First a quiet period: the collector is still tidying up after the login storm (recorded).
      const quietCpu = new CpuMeter(target.pid);
      await sleep(P.idle.quietSeconds * 1000);
      const afterStorm = quietCpu.read();
      const idleCpu = new CpuMeter(target.pid);
      await sleep(P.idle.seconds * 1000);
      const cpu = idleCpu.read();
      // Memory again once the login storm's garbage has had the idle period to be collected.
      const steady = memoryOf(target.pid);
      logins.rssSteady = steady.rss;
      logins.rssSteadyAfterSeconds = P.idle.quietSeconds + P.idle.seconds;
      logins.rssSteadyPerUserBytes = (steady.rss - empty.rss) / users;
      log(`B3: RSS after ${P.idle.quietSeconds + P.idle.seconds} s idle ${fmt(steady.rss / 2 ** 20, 1)} MiB, ${fmt(logins.rssSteadyPerUserBytes)} B/user`);
      details.idle = { users, quietSeconds: P.idle.quietSeconds, serverCpuDuringQuiet: afterStorm, seconds: P.idle.seconds, serverTimeoutSeconds: P.idle.serverTimeoutSeconds, serverCpu: cpu, timersArmed: users };
      log(`B7: ${users} idle users, server CPU ${(afterStorm * 100).toFixed(2)} % in the ${P.idle.quietSeconds} s after the logins, then ${(cpu * 100).toFixed(2)} % over ${P.idle.seconds} s`);
      rows.push({ id: 'B7', scenario: `${fmt(users)} idle users, inactivity timers armed (${P.idle.serverTimeoutSeconds} s)`, target: 'server CPU < 1 %', measured: `${(cpu * 100).toFixed(2)} %`, met: cpu < 0.01 });
    }
    if (doLogins) {
      const rss = logins.rssSteady ?? full.rss;
      const per = (rss - empty.rss) / users;
      const when = logins.rssSteady === undefined ? 'after logins' : `after ${P.idle.quietSeconds + P.idle.seconds} s idle; ${fmt(perUser / 1024, 2)} KB right after logins, peak ${fmt(full.peak / 2 ** 20, 0)} MiB`;
      rows.push({ id: 'B3', scenario: `${fmt(users)} users logged in at once: time to log all in`, target: '<= 10 s', measured: `${(ms / 1000).toFixed(2)} s (presence settled at ${(logins.presenceSettledMs / 1000).toFixed(2)} s)`, met: ms <= 10_000 && presence.complete });
      rows.push({ id: 'B3', scenario: `${fmt(users)} idle users: RSS per user above an empty server, after settling`, target: '<= 2 KB/user', measured: `${fmt(per / 1024, 2)} KB/user (${fmt(empty.rss / 2 ** 20, 1)} -> ${fmt(rss / 2 ** 20, 1)} MiB ${when})`, met: logins.rssSteady === undefined ? null : per <= 2 * 1024 });
      rows.push({ id: 'B8', scenario: 'empty server: RSS 1 s after start', target: '<= 30 MiB', measured: `${fmt(empty.rss / 2 ** 20, 1)} MiB`, met: empty.rss <= 30 * 2 ** 20 });
    }
    await exitAll(workers);
  });
}

export async function scenarioBroadcast(): Promise<void> {
  const { users, perProcess, count, intervalMs } = P.broadcast;
  const result = await withServer(users, [], async (target) => {
    const { workers, ms } = await logIn(target, names(0, users), perProcess, true, 'bcast');
    const presence = await settle(workers, (users * (users - 1)) / 2, 120_000);
    log(`B4: ${users} online after ${fmt(ms)} ms, presence settled after ${fmt(presence.ms)} ms more`);
    await Promise.all(workers.map((w) => w.call('lineMode')));
    await Promise.all(workers.map((w) => w.call('broadcastListen')));
    const serverCpu = new CpuMeter(target.pid);
    const sent = await (workers[0] as Worker).call<{ sent: number; confirmed: number }>('broadcastSend', { count, intervalMs, bodyChars: P.bodyChars });
    await sleep(500);
    const cpu = serverCpu.read();
    const cpuKernel = serverCpu.lastSystem;
    const cpuSecondsPerBroadcast = (cpu * (count * intervalMs + 500)) / 1000 / count;
    const reports = await Promise.all(workers.map((w) => w.call<{ histogram: string; copies: [number, number, number][] }>('broadcastReport')));
    await exitAll(workers);
    const perId = new Map<number, { count: number; maxUs: number }>();
    for (const r of reports) {
      for (const [id, n, maxUs] of r.copies) {
        const e = perId.get(id) ?? { count: 0, maxUs: 0 };
        e.count += n;
        e.maxUs = Math.max(e.maxUs, maxUs);
        perId.set(id, e);
      }
    }
    const lastCopyMs = [...perId.values()].map((e) => e.maxUs / 1000);
    const complete = [...perId.values()].every((e) => e.count === users - 1) && perId.size === count;
    return { users, broadcasts: count, confirmed: sent.confirmed, intervalMs, complete, copiesPerBroadcast: [...perId.values()].map((e) => e.count), lastCopyMs, worstLastCopyMs: Math.max(...lastCopyMs), copyLatencyMs: decodeHistograms(reports.map((r) => r.histogram)), serverCpu: cpu, serverCpuKernel: cpuKernel, serverCpuMsPerBroadcast: cpuSecondsPerBroadcast * 1000 };
  });
  details.broadcast = result;
  const h = result.copyLatencyMs;
  log(`B4: worst time to last copy ${result.worstLastCopyMs.toFixed(1)} ms; copies p50 ${h.p50.toFixed(1)} ms p99 ${h.p99.toFixed(1)} ms; all copies: ${result.complete}; server CPU ${fmt(result.serverCpuMsPerBroadcast)} ms per broadcast (${((result.serverCpuKernel / result.serverCpu) * 100).toFixed(0)} % in the kernel)`);
  rows.push({ id: 'B4', scenario: `broadcast to ${fmt(users)} online users (${count} broadcasts): time to the last copy`, target: '<= 50 ms', measured: `${result.worstLastCopyMs.toFixed(1)} ms worst (copies p50 ${h.p50.toFixed(1)}, p99 ${h.p99.toFixed(1)} ms)`, met: result.complete && result.worstLastCopyMs <= 50 });
  rows.push({ id: 'B4', scenario: `broadcast to ${fmt(users)} online users: server CPU per broadcast`, target: '<= 20 ms', measured: `${fmt(result.serverCpuMsPerBroadcast, 1)} ms (${((result.serverCpuKernel / result.serverCpu) * 100).toFixed(0)} % in the kernel)`, met: result.serverCpuMsPerBroadcast <= 20 });
}

export async function scenarioOffline(): Promise<void> {
  const { messages, recipients, senders, window, backlogEach } = P.offline;
  const recipientNames = Array.from({ length: recipients }, (_, i) => `r${i}`);
  const result = await withServer(senders, recipientNames, async (target) => {
    const { workers } = await logIn(target, names(0, senders), senders, false, 'offline');
    const worker = workers[0] as Worker;
    const serverCpu = new CpuMeter(target.pid);
    const store = await worker.call<{ seconds: number; stored: number; failed: number; storedPerSecond: number; lastError: string }>('offlineSend', { to: recipientNames, perSender: messages / senders, window, bodyChars: P.bodyChars });
    const cpu = serverCpu.read();
    if (store.lastError) log(`  last error seen: ${store.lastError}`);
    // Every "stored" reply must be backed by a committed row: count them from another connection.
    const db = new Database(target.db, { readonly: true });
    const rowsInDb = (db.query('SELECT count(*) AS n FROM messages').get() as { n: number }).n;
    db.close();
    const logins = await worker.call<{ results: { user: string; ms: number; received: number }[] }>('offlineLogin', { host: '127.0.0.1', port: target.port, users: recipientNames, password: PASSWORD, expectEach: backlogEach });
    await exitAll(workers);
    return { messages, senders, recipients, window, ...store, serverCpu: cpu, rowsInDbAfterStored: rowsInDb, backlogLogins: logins.results };
  });
  details.offline = result;
  const worstBacklog = Math.max(...result.backlogLogins.map((r) => r.ms));
  const allReceived = result.backlogLogins.every((r) => r.received >= backlogEach);
  log(`B5: ${fmt(result.stored)} stored at ${fmt(result.storedPerSecond)}/s (${fmt(result.rowsInDbAfterStored)} rows in the db), backlog of ${fmt(backlogEach)} delivered in ${fmt(worstBacklog)} ms worst`);
  rows.push({ id: 'B5', scenario: `${fmt(messages)} messages to offline users, stored (${senders} senders, ${window} in flight each)`, target: '>= 50,000/s, each durable before its reply', measured: `${fmt(result.storedPerSecond)} msg/s (${fmt(result.rowsInDbAfterStored)} rows committed); ${fmt(perCpu(result.storedPerSecond, result.serverCpu))} per server CPU-second`, met: result.storedPerSecond >= 50_000 && result.rowsInDbAfterStored === messages, ofCeiling: ofCeiling(result.storedPerSecond) });
  rows.push({ id: 'B5', scenario: `backlog of ${fmt(backlogEach)} delivered at login (worst of ${recipients})`, target: '<= 1 s', measured: `${fmt(worstBacklog)} ms`, met: worstBacklog <= 1000 && allReceived });
}

export async function scenarioScale(): Promise<void> {
  const { active, online, perProcess } = P.scale;
  const window = P.direct.window;
  const small = await withServer(active, [], async (target) => {
    const { workers } = await logIn(target, names(0, active), active, false, 'scaleA');
    const r = await runDirect(target, workers[0] as Worker, active, window);
    await exitAll(workers);
    return r;
  });
  log(`B6: ${active} online: ${fmt(small.receivedPerSecond)} msg/s`);
  const large = await withServer(online, [], async (target) => {
    const idle = await logIn(target, names(active, online - active), perProcess, true, 'scaleIdle');
    const busy = await logIn(target, names(0, active), active, false, 'scaleB');
    const presence = await settle([...idle.workers, ...busy.workers], (online * (online - 1)) / 2, 120_000);
    log(`B6: ${online} online after ${fmt(idle.ms + busy.ms)} ms, presence settled ${fmt(presence.ms)} ms later`);
    const r = await runDirect(target, busy.workers[0] as Worker, online, window);
    await exitAll([...idle.workers, ...busy.workers]);
    return r;
  });
  const ratio = large.receivedPerSecond / small.receivedPerSecond;
  details.scale = { active, online, small, large, ratio };
  log(`B6: ${online} online: ${fmt(large.receivedPerSecond)} msg/s (${(ratio * 100).toFixed(0)} % of ${active})`);
  rows.push({ id: 'B6', scenario: `B1 load from ${fmt(active)} users with ${fmt(active)} online`, target: '(reference)', measured: `${fmt(small.receivedPerSecond)} msg/s; ${fmt(small.perServerCpuSecond)} per server CPU-second`, met: null, ofCeiling: ofCeiling(small.receivedPerSecond) });
  rows.push({ id: 'B6', scenario: `B1 load from ${fmt(active)} users with ${fmt(online)} online`, target: 'within 20 % of the above', measured: `${fmt(large.receivedPerSecond)} msg/s (${(ratio * 100).toFixed(0)} %); ${fmt(large.perServerCpuSecond)} per server CPU-second`, met: ratio >= 0.8, ofCeiling: ofCeiling(large.receivedPerSecond) });
}
