// LocalDelivery (a single node) against the Delivery contract, on fake connections.

import { Conn } from '../../src/server/connection.ts';
import { endSession, startSession } from '../../src/server/session.ts';
import { DEFAULT_CONFIG, ServerState } from '../../src/server/state.ts';
import { flushPresence } from '../../src/server/presence.ts';
import { SqliteAsyncStore } from '../../src/store/sqlite-async-store.ts';
import { SqliteStore } from '../../src/store/sqlite-store.ts';
import { TurnFlusher } from '../../src/util/outbox.ts';
import type { Transport } from '../../src/server/transport/transport.ts';
import { deliveryContract } from './delivery.case.ts';

deliveryContract('LocalDelivery', async () => {
  const flusher = new TurnFlusher();
  const config = { ...DEFAULT_CONFIG, blockDurationMs: 60_000, timeoutMs: 300_000 };
  const state = await ServerState.open(config, new SqliteAsyncStore(new SqliteStore(':memory:')), new Map(), Date.now, () => {}, () => flusher.request());
  flusher.beforeFlush(() => void state.offline.flush());
  flusher.beforeFlush(() => flushPresence(state));
  const conns = new Map<string, Conn>();
  return {
    state,
    async login(user) {
      const lines: string[] = [];
      const transport: Transport = {
        kind: 'tcp',
        remoteAddress: '127.0.0.1',
        write: (data) => {
          const text = typeof data === 'string' ? data : new TextDecoder().decode(data);
          lines.push(...text.trimEnd().split('\n'));
          return Buffer.byteLength(text);
        },
        end: () => {},
        terminate: () => {},
        bufferedAmount: () => 0,
      };
      const conn = new Conn(transport, '127.0.0.1', flusher, config.outboxLimit);
      conns.set(user, conn);
      await startSession(state, conn, user, () => {});
      return lines;
    },
    async logout(user) {
      const session = conns.get(user)?.session;
      if (session) endSession(state, session, 'logout');
    },
    async settle() {
      // Presence is paced; the contract does not test the pace.
      state.presence.sentAt = -Infinity;
      flusher.run();
      await state.offline.flush();
      flusher.run();
    },
  };
});
