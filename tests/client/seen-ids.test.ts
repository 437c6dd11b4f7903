// Each message shown exactly once, even when the server delivers it again (issue 7), by its key
// when the server sends one (CLU-3, issue 12), else by the highest id shown (a server before keys).

import { describe, expect, test } from 'bun:test';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChatClient } from '../../src/client/chat-client.ts';
import type { UiEvent } from '../../src/client/events.ts';
import { SeenKeys, stateDir } from '../../src/client/seen-ids.ts';
import type { ServerLink } from '../../src/client/server-link.ts';
import type { Ui } from '../../src/client/terminal.ts';
import type { MessageLine } from '../../src/protocol/server-lines.ts';
import { KEEP_KEYS, ShownOnce } from '../../src/protocol/shown-once.ts';
import { tempDir } from '../helpers/test-server.ts';

const message = (id: number, body = `m${id}`): MessageLine => ({ type: 'message', id, from: 'yoda', at: 0, body });
/** A line from a server with keys: `id` stamped when written, `key` the message's for ever. */
const keyed = (id: number, key: number): MessageLine => ({ type: 'message', id, key, from: 'yoda', at: 0, body: `k${key}` });

/** A ChatClient wired to fakes: what it shows, and what it notifies the server of (with the file's state then). */
function fakeClient(seen: SeenKeys, file?: string) {
  const shown: UiEvent[] = [];
  const notified: { verb: string; args: unknown[]; onDisk?: string }[] = [];
  const link = {
    notify: (verb: string, args: unknown[] = []) => notified.push({ verb, args, onDisk: file ? readFileSync(file, 'utf8') : undefined }),
    request: async () => ({ type: 'ok', code: 'x' }),
  } as unknown as ServerLink;
  const ui = { interactive: false, show: (e: UiEvent) => shown.push(e), ask: async () => null, alert() {}, forgetLastLine() {}, inputEnded: new Promise<void>(() => {}), close() {} } as Ui;
  return { client: new ChatClient('hans', link, ui, seen), shown, notified };
}

describe('ShownOnce (CLU-3)', () => {
  test('a key is shown once, whatever id it comes with, even below ids shown before', () => {
    const shown = new ShownOnce();
    expect(shown.firstSight({ id: 50, key: 50 })).toBe(true);
    expect(shown.firstSight({ id: 51, key: 50 })).toBe(false);
    // Stored by another node with the sender's older id: a new key, below the highest shown.
    expect(shown.firstSight({ id: 52, key: 7 })).toBe(true);
    expect(shown.firstSight({ id: 60, key: 7 })).toBe(false);
  });

  test(`remembers the last ${KEEP_KEYS} keys, in the order they were shown`, () => {
    const shown = new ShownOnce();
    for (let k = 1; k <= KEEP_KEYS + 5; k++) expect(shown.firstSight({ id: k, key: k })).toBe(true);
    expect(shown.toJSON().keys).toHaveLength(KEEP_KEYS);
    expect(shown.toJSON().keys[0]).toBe(6);
    // The oldest were forgotten, the latest are remembered.
    expect(shown.firstSight({ id: 9000, key: KEEP_KEYS + 5 })).toBe(false);
    expect(shown.firstSight({ id: 9001, key: 6 })).toBe(false);
    expect(shown.firstSight({ id: 9002, key: 5 })).toBe(true);
    // Shown again, it is the latest now, and the oldest (6) makes room.
    expect(shown.toJSON().keys.at(-1)).toBe(5);
    expect(shown.toJSON().keys[0]).toBe(7);
  });

  test('without a key (a server before keys) the highest id shown rules', () => {
    const shown = new ShownOnce();
    expect(shown.firstSight({ id: 5 })).toBe(true);
    expect(shown.firstSight({ id: 5 })).toBe(false);
    expect(shown.firstSight({ id: 3 })).toBe(false);
    expect(shown.upTo).toBe(5);
    // Keyed messages do not move the mark, nor are they judged by it.
    expect(shown.firstSight({ id: 2, key: 2 })).toBe(true);
    expect(shown.upTo).toBe(5);
  });

  test('what was saved before keys (a bare number) still rules keyless lines; keys start empty; junk is ignored', () => {
    const old = new ShownOnce(41);
    expect(old.upTo).toBe(41);
    expect(old.firstSight({ id: 41 })).toBe(false);
    expect(old.firstSight({ id: 30, key: 30 })).toBe(true);
    expect(new ShownOnce({ keys: [1, 'x', 2.5, 3], upTo: 'no' }).toJSON()).toEqual({ keys: [1, 3], upTo: 0 });
    expect(new ShownOnce('garbage').toJSON()).toEqual({ keys: [], upTo: 0 });
  });
});

describe('SeenKeys', () => {
  test('remembers keys per server and user, across opening again', () => {
    const dir = tempDir();
    const a = SeenKeys.open(dir, 111, 'hans');
    expect(a.firstSight({ id: 5, key: 5 })).toBe(true);
    expect(a.firstSight({ id: 9, key: 5 })).toBe(false);
    a.save();
    expect(SeenKeys.open(dir, 111, 'hans').firstSight({ id: 12, key: 5 })).toBe(false);
    expect(SeenKeys.open(dir, 222, 'hans').firstSight({ id: 12, key: 5 })).toBe(true);
    expect(SeenKeys.open(dir, 111, 'leia').firstSight({ id: 12, key: 5 })).toBe(true);
  });

  test('migrates seen.json from before keys: the number stays the mark for keyless lines, other entries are kept', () => {
    const dir = tempDir();
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'seen.json'), JSON.stringify({ '111/hans': 40, '111/leia': 7 }));
    const seen = SeenKeys.open(dir, 111, 'hans');
    expect(seen.firstSight({ id: 40 })).toBe(false);
    expect(seen.firstSight({ id: 41 })).toBe(true);
    expect(seen.firstSight({ id: 42, key: 12 })).toBe(true);
    seen.save();
    expect(JSON.parse(readFileSync(join(dir, 'seen.json'), 'utf8'))).toEqual({ '111/hans': { keys: [12], upTo: 41 }, '111/leia': 7 });
  });

  test('an unwritable state directory costs exactly-once, not the session', () => {
    // A directory under a regular file cannot be made, even by root.
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, 'x');
    const seen = SeenKeys.open(join(file, 'state'), 1, 'hans');
    seen.firstSight({ id: 1, key: 1 });
    expect(() => seen.save()).not.toThrow();
    expect(seen.firstSight({ id: 2, key: 1 })).toBe(false);
  });

  test('the state directory follows CHAT_STATE_DIR, then XDG_STATE_HOME', () => {
    expect(stateDir({ CHAT_STATE_DIR: '/x' })).toBe('/x');
    expect(stateDir({ XDG_STATE_HOME: '/s' })).toBe('/s/chat');
  });
});

describe('ChatClient drops duplicates', () => {
  test('CLU-3 a message delivered again is shown once by its key, by the same process or the next one; the ack names the ids received', async () => {
    const dir = tempDir();
    const file = join(dir, 'seen.json');
    const first = fakeClient(SeenKeys.open(dir, 7, 'hans'), file);
    first.client.onEvent(keyed(10, 10));
    first.client.onEvent(keyed(11, 10));
    first.client.onEvent(keyed(12, 4));
    const acked = () => first.notified.some((n) => n.verb === 'ack');
    while (!acked()) await Bun.sleep(10);
    expect(first.shown.map((e) => (e as MessageLine).key)).toEqual([10, 4]);
    // The ack went out only after the keys were on disk, and names the highest id received.
    const ack = first.notified.find((n) => n.verb === 'ack');
    expect(ack?.args).toEqual([12]);
    expect(JSON.parse(ack?.onDisk ?? '{}')).toEqual({ '7/hans': { keys: [10, 4], upTo: 0 } });

    // The connection died before the server saw the ack: the next login gets key 4 again with a
    // new id, then a message stored with a lower key than any shown (stored by another node).
    const second = fakeClient(SeenKeys.open(dir, 7, 'hans'));
    second.client.onEvent({ ...keyed(20, 4), offline: true });
    second.client.onEvent({ ...keyed(21, 2), offline: true });
    second.client.onEvent(keyed(22, 22));
    expect(second.shown.map((e) => (e as MessageLine).key)).toEqual([2, 22]);
  });

  test('from a server before keys: shown once by the highest id, as before', () => {
    const dir = tempDir();
    const first = fakeClient(SeenKeys.open(dir, 7, 'hans'), join(dir, 'seen.json'));
    first.client.onEvent(message(10));
    first.client.onEvent(message(10));
    first.client.onEvent(message(11));
    first.client.stop();
    expect(first.shown.map((e) => (e as MessageLine).id)).toEqual([10, 11]);
    const second = fakeClient(SeenKeys.open(dir, 7, 'hans'));
    second.client.onEvent({ ...message(11), offline: true });
    second.client.onEvent(message(12));
    expect(second.shown.map((e) => (e as MessageLine).id)).toEqual([12]);
  });
});
