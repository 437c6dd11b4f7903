// Each message shown exactly once, even when the server delivers it again (issue 7).

import { describe, expect, test } from 'bun:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ChatClient } from '../../src/client/chat-client.ts';
import type { UiEvent } from '../../src/client/events.ts';
import { SeenIds, stateDir } from '../../src/client/seen-ids.ts';
import type { ServerLink } from '../../src/client/server-link.ts';
import type { Ui } from '../../src/client/terminal.ts';
import type { MessageLine } from '../../src/protocol/server-lines.ts';
import { tempDir } from '../helpers/test-server.ts';

const message = (id: number, body = `m${id}`): MessageLine => ({ type: 'message', id, from: 'yoda', at: 0, body });

/** A ChatClient wired to fakes: what it shows, and what it notifies the server of (with the file's state then). */
function fakeClient(seen: SeenIds, file?: string) {
  const shown: UiEvent[] = [];
  const notified: { verb: string; args: unknown[]; onDisk?: string }[] = [];
  const link = {
    notify: (verb: string, args: unknown[] = []) => notified.push({ verb, args, onDisk: file ? readFileSync(file, 'utf8') : undefined }),
    request: async () => ({ type: 'ok', code: 'x' }),
  } as unknown as ServerLink;
  const ui = { interactive: false, show: (e: UiEvent) => shown.push(e), ask: async () => null, alert() {}, forgetLastLine() {}, inputEnded: new Promise<void>(() => {}), close() {} } as Ui;
  return { client: new ChatClient('hans', link, ui, seen), shown, notified };
}

describe('SeenIds', () => {
  test('remembers the highest id per server and user, across opening again', () => {
    const dir = tempDir();
    const a = SeenIds.open(dir, 111, 'hans');
    expect(a.firstSight(5)).toBe(true);
    expect(a.firstSight(5)).toBe(false);
    expect(a.firstSight(3)).toBe(false);
    a.save();
    expect(SeenIds.open(dir, 111, 'hans').upTo).toBe(5);
    expect(SeenIds.open(dir, 222, 'hans').upTo).toBe(0);
    expect(SeenIds.open(dir, 111, 'leia').upTo).toBe(0);
  });

  test('an unwritable state directory costs exactly-once, not the session', () => {
    // A directory under a regular file cannot be made, even by root.
    const file = join(tempDir(), 'a-file');
    writeFileSync(file, 'x');
    const seen = SeenIds.open(join(file, 'state'), 1, 'hans');
    seen.firstSight(1);
    expect(() => seen.save()).not.toThrow();
    expect(seen.upTo).toBe(1);
  });

  test('the state directory follows CHAT_STATE_DIR, then XDG_STATE_HOME', () => {
    expect(stateDir({ CHAT_STATE_DIR: '/x' })).toBe('/x');
    expect(stateDir({ XDG_STATE_HOME: '/s' })).toBe('/s/chat');
  });
});

describe('ChatClient drops duplicates by id', () => {
  test('a message delivered again is shown once, by the same process or the next one', async () => {
    const dir = tempDir();
    const first = fakeClient(SeenIds.open(dir, 7, 'hans'), join(dir, 'seen.json'));
    first.client.onEvent(message(10));
    first.client.onEvent(message(10));
    first.client.onEvent(message(11));
    await Bun.sleep(80);
    expect(first.shown.map((e) => (e as MessageLine).id)).toEqual([10, 11]);
    // The ack went out only after the mark was on disk.
    const ack = first.notified.find((n) => n.verb === 'ack');
    expect(ack?.args).toEqual([11]);
    expect(JSON.parse(ack?.onDisk ?? '{}')).toEqual({ '7/hans': 11 });

    // The connection died before the server saw the ack: the next login gets 11 again, then 12.
    const second = fakeClient(SeenIds.open(dir, 7, 'hans'));
    second.client.onEvent({ ...message(11), offline: true });
    second.client.onEvent(message(12));
    expect(second.shown.map((e) => (e as MessageLine).id)).toEqual([12]);
  });
});
