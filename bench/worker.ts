// A load-generator process. bench/run.ts starts one or more and drives them over IPC: each command
// is one JSON object with an `id` and a `cmd`, answered by one object with the same `id`.
// A worker holds a list of simulated users (Client) on one server (or the bare relay); the
// scenarios' parts are in bench/worker/ (users and setup, direct and latency, broadcast, offline).

import { broadcastListen, broadcastReport, broadcastSend, ircJoin } from './worker/broadcast.ts';
import { direct, directCount, latency, recordStart, recordStop } from './worker/direct.ts';
import { offlineLogin, offlineSend } from './worker/offline.ts';
import { lineMode, setup, state, stats, type Msg } from './worker/users.ts';

// ---- plumbing ------------------------------------------------------------------------------------

function closeAll(): object {
  for (const c of state.clients) {
    c.socket?.terminate();
    c.ws?.close();
  }
  state.clients = [];
  return {};
}

const commands: Record<string, (m: Msg) => object | Promise<object>> = {
  setup,
  stats,
  lineMode,
  direct,
  directCount,
  latency,
  recordStart,
  recordStop,
  broadcastListen,
  ircJoin,
  broadcastSend,
  broadcastReport,
  offlineSend,
  offlineLogin,
  close: closeAll,
  exit: () => {
    closeAll();
    setTimeout(() => process.exit(0), 10);
    return {};
  },
};

process.on('message', async (m: Msg) => {
  try {
    const handler = commands[m.cmd];
    if (!handler) throw new Error(`unknown command ${m.cmd}`);
    const result = await handler(m);
    process.send?.({ id: m.id, ok: true, ...result });
  } catch (err) {
    process.send?.({ id: m.id, ok: false, error: err instanceof Error ? err.message : String(err) });
  }
});
process.send?.({ id: 0, ok: true, ready: true });
