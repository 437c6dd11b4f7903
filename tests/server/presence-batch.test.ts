// PRES-1 with batching: a turn's announcements go out together, consecutive logins (or logouts)
// share one line, and each user still hears exactly the others who came or went while they were
// online, minus blocks (BLK-2).

import { describe, expect, test } from 'bun:test';
import { announce, flushPresence, PRESENCE_PACE_MS } from '../../src/server/presence.ts';
import type { Session } from '../../src/server/session.ts';
import { DEFAULT_CONFIG, ServerState } from '../../src/server/state.ts';
import { SqliteAsyncStore } from '../../src/store/sqlite-async-store.ts';
import { SqliteStore } from '../../src/store/sqlite-store.ts';

function setup() {
  let requests = 0;
  const state = new ServerState({ ...DEFAULT_CONFIG, blockDurationMs: 60_000, timeoutMs: 300_000 }, new SqliteAsyncStore(new SqliteStore(':memory:')), new Map(), Date.now, () => {}, () => requests++);
  /** What each user heard: `name+` / `name-` per name, and the raw lines. */
  const heard = new Map<string, string[]>();
  const lines = new Map<string, string[]>();
  const login = (name: string) => {
    heard.set(name, []);
    lines.set(name, []);
    const conn = {
      send: (text: string) => {
        for (const line of text.trimEnd().split('\n')) {
          lines.get(name)?.push(line);
          const { users, online } = JSON.parse(line) as { users: string[]; online: boolean };
          heard.get(name)?.push(...users.map((u) => `${u}${online ? '+' : '-'}`));
        }
      },
    };
    state.sessions.set(name, { name, conn } as unknown as Session);
    announce(state, name, true);
  };
  const logout = (name: string) => {
    state.sessions.delete(name);
    announce(state, name, false);
  };
  return { state, heard, lines, login, logout, requests: () => requests };
}

describe('PRES-1 announcements batched per turn', () => {
  test('a user hears only the others who came or went after their own login, in order', () => {
    const { state, heard, lines, login, logout, requests } = setup();
    login('a');
    login('b');
    login('c');
    logout('b');
    expect(requests()).toBe(1);
    flushPresence(state);
    expect(heard.get('a')).toEqual(['b+', 'c+', 'b-']);
    expect(heard.get('c')).toEqual(['b-']);
    // Consecutive logins share a line.
    expect(lines.get('a')).toEqual(['{"type":"presence","online":true,"users":["b","c"]}', '{"type":"presence","online":false,"users":["b"]}']);
  });

  test('users online all turn get the whole batch; blocked users miss the blocker (BLK-2)', async () => {
    const { state, heard, login } = setup();
    login('old');
    login('other');
    flushPresence(state);
    heard.set('old', []);
    heard.set('other', []);
    state.blockSet('new').add('other');
    login('new');
    login('newer');
    // Sends are paced: the second batch leaves once the pace interval has passed.
    flushPresence(state);
    expect(heard.get('old')).toEqual([]);
    await Bun.sleep(PRESENCE_PACE_MS + 10);
    flushPresence(state);
    expect(heard.get('old')).toEqual(['new+', 'newer+']);
    expect(heard.get('other')).toEqual(['newer+']);
    expect(heard.get('new')).toEqual(['newer+']);
    expect(heard.get('newer')).toEqual([]);
  });

  test('names that need escaping are escaped', async () => {
    const { state, heard, login } = setup();
    login('watcher');
    flushPresence(state);
    await Bun.sleep(PRESENCE_PACE_MS + 10);
    login('quo"te\\');
    flushPresence(state);
    expect(heard.get('watcher')).toEqual(['quo"te\\+']);
  });
});
