// PRES-1 with batching: a turn's announcements go out together, but each user still hears exactly
// the logins and logouts of others that happened while they were online, minus blocks (BLK-2).

import { describe, expect, test } from 'bun:test';
import { announce, batchPresence, flushPresence } from '../../src/server/presence.ts';
import type { Session } from '../../src/server/session.ts';
import { DEFAULT_CONFIG, ServerState } from '../../src/server/state.ts';
import { SqliteStore } from '../../src/store/sqlite-store.ts';

function setup() {
  const state = new ServerState({ ...DEFAULT_CONFIG, blockDurationMs: 60_000, timeoutMs: 300_000 }, new SqliteStore(':memory:'), new Map());
  let requests = 0;
  batchPresence(state, () => requests++);
  const heard = new Map<string, string[]>();
  const login = (name: string) => {
    heard.set(name, []);
    const conn = { send: (text: string) => heard.get(name)?.push(...text.trimEnd().split('\n').map((l) => JSON.parse(l).user + (JSON.parse(l).online ? '+' : '-'))) };
    state.sessions.set(name, { name, conn } as unknown as Session);
    announce(state, name, true);
  };
  const logout = (name: string) => {
    state.sessions.delete(name);
    announce(state, name, false);
  };
  return { state, heard, login, logout, requests: () => requests };
}

describe('PRES-1 announcements batched per turn', () => {
  test('a user hears only the others who came or went after their own login, in order', () => {
    const { state, heard, login, logout, requests } = setup();
    login('a');
    login('b');
    login('c');
    logout('b');
    expect(requests()).toBe(1);
    flushPresence(state);
    expect(heard.get('a')).toEqual(['b+', 'c+', 'b-']);
    expect(heard.get('c')).toEqual(['b-']);
    expect(heard.get('b')).toEqual([]);
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
    await Bun.sleep(60);
    flushPresence(state);
    expect(heard.get('old')).toEqual(['new+', 'newer+']);
    expect(heard.get('other')).toEqual(['newer+']);
    expect(heard.get('new')).toEqual(['newer+']);
    expect(heard.get('newer')).toEqual([]);
  });
});
