// A test file's real PostgreSQL and Redis (tests/helpers/engines.ts): both started before its tests
// and stopped after them — or neither, where one is not installed (then `skip` is true and the
// reason is printed). A file that must stop processes of its own before the engines registers that
// afterAll before calling useEngines(): bun runs a scope's afterAll hooks in the order given.

import { afterAll, beforeAll } from 'bun:test';
import { ENGINE_START_MS, PostgresEngine, postgresMissing, RedisEngine, redisMissing, skipUnless } from './engines.ts';

export interface Engines {
  readonly skip: boolean;
  readonly pg: PostgresEngine;
  readonly redis: RedisEngine;
}

export function useEngines(file: string): Engines {
  const skip = skipUnless(file, redisMissing(), postgresMissing());
  let pg: PostgresEngine | undefined;
  let redis: RedisEngine | undefined;
  beforeAll(async () => {
    if (skip) return;
    [pg, redis] = await Promise.all([PostgresEngine.start(), RedisEngine.start()]);
  }, ENGINE_START_MS);
  afterAll(async () => {
    await Promise.all([pg?.stop(), redis?.stop()]);
  });
  return {
    skip,
    get pg(): PostgresEngine {
      if (!pg) throw new Error('PostgreSQL was not started (skipped, or its start failed)');
      return pg;
    },
    get redis(): RedisEngine {
      if (!redis) throw new Error('Redis was not started (skipped, or its start failed)');
      return redis;
    },
  };
}
