import { join } from 'node:path';
import { SqliteAsyncStore } from '../../src/store/sqlite-async-store.ts';
import { SqliteStore } from '../../src/store/sqlite-store.ts';
import { tempDir } from '../helpers/test-server.ts';
import { asyncStoreContract } from './async-store.case.ts';

// Each backing is a fresh database file; opening it again is a restart of the single node.
asyncStoreContract('SQLite (the single node’s store behind the adapter)', async () => {
  const path = join(tempDir(), 'chat.db');
  return async () => new SqliteAsyncStore(new SqliteStore(path));
});
