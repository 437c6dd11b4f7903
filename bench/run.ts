// `bun run bench [scenario...] [--quick] [--users N] [--seconds S] [--window W] [--profile] [--out FILE]`
//
// Starts the real server (a separate process, fresh database each scenario) and load-generator
// processes (bench/worker.ts) that log in real users over loopback, plus the bare relay
// (bench/relay.ts) as the ceiling. Prints a table and writes bench/results/<date>-<commit>.json.
// Scenarios: compare ceiling direct latency logins idle broadcast offline scale web (default: all).
// `compare` runs the same load on the bare relay, Debian's ngIRCd and chat (bench/compare.ts).
// docs/PERFORMANCE.md explains each one and the latest results.

import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatComparison } from './compare.ts';
import { fmt } from './lib/kit.ts';
import { flags, P, positionals, quick, SCENARIOS, wanted } from './run/parameters.ts';

if (flags.help) {
  console.log(`bun run bench [${SCENARIOS.join('|')} ...] [--quick] [--users N] [--seconds S] [--window W] [--profile] [--out FILE]
  --quick     small sizes, short runs (under a minute); checks nothing about speed
  --users     users for the scenario(s) run (default: each scenario's own)
  --seconds   measured seconds per throughput/latency run
  --window    messages each user keeps in flight (direct, scale, ceiling)
  --profile   run the server under bun --cpu-prof; profiles go next to the results file`);
  process.exit(0);
}

// The cluster scenario (issue 12) lives in bench/cluster.ts: `bun run bench cluster [--quick]`.
if (positionals[0] === 'cluster') {
  await (await import('./cluster.ts')).clusterBench();
  process.exit(0);
}

for (const name of positionals) {
  if (!(SCENARIOS as readonly string[]).includes(name)) {
    console.error(`bench: unknown scenario "${name}"; one of: ${SCENARIOS.join(', ')}`);
    process.exit(2);
  }
}

// Imported once the command line is checked: results.ts makes the run's work directory. The
// scenarios' module is used by its namespace, so that `ceiling` and `comparison` read what they are now.
const { details, gitCommit, log, machine, printTable, profileDir, resultsDir, rows, startedAt, workDir } = await import('./run/results.ts');
const scenarios = await import('./run/scenarios.ts');
const { runCompare, scenarioBroadcast, scenarioCeiling, scenarioDirect, scenarioLatency, scenarioLoginsAndIdle, scenarioOffline, scenarioScale, scenarioWeb } = scenarios;

// ---- the run -------------------------------------------------------------------------------------

async function main(): Promise<number> {
  const info = machine();
  const { commit, dirty } = gitCommit();
  log(`machine: ${info.cores} cores (${info.cpuModel}), ${fmt(info.memoryBytes / 2 ** 30, 1)} GiB, Bun ${info.bun}, fd limit ${info.fdLimit}; commit ${commit}${dirty ? ' (dirty)' : ''}`);
  if (process.env.BENCH_SERVER_ENV) log(`server environment: ${process.env.BENCH_SERVER_ENV}`);
  log(`scenarios: ${[...wanted].join(', ')}${quick ? ' (quick)' : ''}`);
  let failure: unknown;
  try {
    if (wanted.has('compare')) await runCompare();
    if (wanted.has('ceiling')) await scenarioCeiling();
    if (wanted.has('direct')) await scenarioDirect();
    if (wanted.has('latency')) await scenarioLatency();
    if (wanted.has('scale')) await scenarioScale();
    if (wanted.has('offline')) await scenarioOffline();
    if (wanted.has('broadcast')) await scenarioBroadcast();
    if (wanted.has('logins') || wanted.has('idle')) await scenarioLoginsAndIdle(wanted.has('logins'), wanted.has('idle'));
    if (wanted.has('web')) await scenarioWeb();
  } catch (err) {
    failure = err;
    log(`FAILED: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  }
  const seconds = (Date.now() - startedAt.getTime()) / 1000;
  printTable();
  if (scenarios.comparison) console.log(`\nSide by side (same generator, same run, fresh server each):\n${formatComparison(scenarios.comparison)}`);
  const date = startedAt.toISOString().slice(0, 19).replace(/[:T]/g, '-');
  const file = flags.out ?? join(resultsDir, `${date}-${commit}${quick ? '-quick' : ''}.json`);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(
    file,
    `${JSON.stringify({ date: startedAt.toISOString(), commit, dirty, machine: info, parameters: P, serverEnv: process.env.BENCH_SERVER_ENV, perf: process.env.BENCH_PERF ? true : undefined, scenarios: [...wanted], durationSeconds: seconds, error: failure ? String(failure) : undefined, ceilingMsgPerSecond: scenarios.ceiling, table: rows, comparison: scenarios.comparison, details }, null, 2)}\n`,
  );
  console.log(`\n${rows.length} figures in ${seconds.toFixed(0)} s; results: ${file}${profileDir ? `; profiles: ${profileDir}` : ''}`);
  if (!quick || failure) rmSync(workDir, { recursive: true, force: true });
  return failure ? 1 : 0;
}

process.exit(await main());
