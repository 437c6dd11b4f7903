// Real Redis and PostgreSQL servers for tests: each on a free loopback port, in a temporary
// directory, stopped by its pid. Never a fake: where a binary is missing, `redisMissing()` /
// `postgresMissing()` say why, and the test file skips with one printed line (`skipUnless`).
// Fault helpers: SIGKILL Redis and start it again empty; stop PostgreSQL abruptly (immediate
// shutdown, as after a crash) and start it again on the same data; SIGSTOP/SIGCONT either.
// The engines are in redis-engine.ts and postgres-engine.ts, their processes in engine-process.ts;
// tests import all of it from here.

export { ENGINE_START_MS, freePort } from './engine-process.ts';
export { PostgresEngine, postgresMissing } from './postgres-engine.ts';
export { RedisEngine, redisMissing } from './redis-engine.ts';

/**
 * One line, printed once per file, saying why its engine tests are skipped; returns true when they
 * must be (use with `describe.skipIf(...)`).
 */
export function skipUnless(file: string, ...reasons: (string | undefined)[]): boolean {
  const why = reasons.filter((r) => r !== undefined);
  if (why.length === 0) return false;
  console.log(`skipped ${file.split('/').slice(-2).join('/')}: ${why.join('; ')}`);
  return true;
}
