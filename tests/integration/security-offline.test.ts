// SEC-6 over real sockets: a quota on what waits for an offline user, and a large backlog sent in
// pages, with messages arriving meanwhile kept in id order.

import { describe, expect, test } from 'bun:test';
import { ChatError, ErrorCode } from '../../src/protocol/errors.ts';
import { as, RawClient } from '../helpers/raw-client.ts';
import { useServer } from '../helpers/test-server.ts';

const { start, user, track } = useServer();

describe('SEC-6 offline quota per recipient', () => {
  test('past the count quota the sender is told mailbox-full and nothing is stored; after the recipient reads, there is room again', async () => {
    const { server } = await start({ config: { offlineQuotaMessages: 5, rateLimit: 0 } });
    const yoda = await user('yoda');
    for (let i = 1; i <= 5; i++) expect(await yoda.request(`message leia number ${i}`)).toMatchObject({ code: 'stored' });
    const refused = await yoda.request('message leia number 6');
    expect(refused).toMatchObject({ type: 'error', code: 'mailbox-full' });
    expect(String(refused.text)).toContain('leia has too many messages waiting (5');
    expect(await server.state.store.countFor('leia')).toBe(5);
    // Another recipient has a quota of its own.
    expect(await yoda.request('message luke hello')).toMatchObject({ code: 'stored' });
    const leia = await user('leia');
    await leia.waitFor((l) => l.type === 'message' && l.body === 'number 5');
    await leia.request('whoelse');
    leia.kill();
    await leia.closed;
    await yoda.presence('leia', false);
    expect(await yoda.request('message leia number 7')).toMatchObject({ code: 'stored' });
  });

  test('past the byte quota: refused, with the same code', async () => {
    await start({ config: { offlineQuotaBytes: 100, rateLimit: 0 } });
    const yoda = await user('yoda');
    expect(await yoda.request(`message leia ${'a'.repeat(60)}`)).toMatchObject({ code: 'stored' });
    expect(await yoda.request(`message leia ${'é'.repeat(30)}`)).toMatchObject({ type: 'error', code: 'mailbox-full' });
    expect(await yoda.request(`message leia ${'b'.repeat(40)}`)).toMatchObject({ code: 'stored' });
  });
});

describe('SEC-6 a large backlog goes out in pages', () => {
  test('120 stored, pages of 50: one page per acknowledgement; a message sent meanwhile follows the backlog, ids in order', async () => {
    const { port } = await start({ config: { backlogPage: 50, rateLimit: 0 } });
    const yoda = await user('yoda');
    for (let i = 1; i <= 120; i++) await yoda.request(`message leia stored ${i}`);
    const leia = track(await RawClient.connect(port));
    leia.autoAck = false;
    await leia.login('leia', '$blasterpistol$');
    // The whole first page comes with the welcome; nothing more until it is acknowledged.
    await leia.request('whoelse');
    const messages = () => leia.seen((l) => l.type === 'message');
    expect(messages()).toHaveLength(50);
    // A message sent now waits behind the backlog.
    const hans = await as(port, 'hans');
    const sent = hans.request('message leia live one');
    await leia.request('whoelse');
    expect(messages()).toHaveLength(50);
    leia.send(`ack ${messages()[49]?.id}`);
    await leia.waitFor((l) => l.type === 'message' && l.body === 'stored 100');
    await leia.request('whoelse');
    expect(messages()).toHaveLength(100);
    leia.send(`ack ${messages()[99]?.id}`);
    await leia.waitFor((l) => l.type === 'message' && l.body === 'live one');
    const all = messages();
    expect(all.map((m) => m.body)).toEqual([...Array.from({ length: 120 }, (_, i) => `stored ${i + 1}`), 'live one']);
    const ids = all.map((m) => Number(m.id));
    expect(ids).toEqual([...ids].sort((a, b) => a - b));
    leia.send(`ack ${ids.at(-1)}`);
    // The sender is told the message's key, the id it was given when accepted (CLU-3).
    expect(await sent).toMatchObject({ code: 'delivered', id: all.at(-1)?.key });
    hans.kill();
  });

  test('a broadcast during the backlog also waits, so the client drops nothing as already seen', async () => {
    const { port } = await start({ config: { backlogPage: 10, rateLimit: 0 } });
    const yoda = await user('yoda');
    for (let i = 1; i <= 15; i++) await yoda.request(`message leia stored ${i}`);
    const leia = track(await RawClient.connect(port));
    leia.autoAck = false;
    await leia.login('leia', '$blasterpistol$');
    const told = await yoda.request('broadcast to everyone');
    await leia.request('whoelse');
    expect(leia.seen((l) => l.type === 'broadcast')).toHaveLength(0);
    leia.send(`ack ${leia.seen((l) => l.type === 'message')[9]?.id}`);
    const broadcast = await leia.event('broadcast');
    const lastStored = leia.seen((l) => l.type === 'message').at(-1);
    expect(lastStored?.body).toBe('stored 15');
    expect(Number(broadcast.id)).toBeGreaterThan(Number(lastStored?.id));
    // CLU-3: stamped when written, it keeps the key the sender was told.
    expect(broadcast.key).toBe(told.id);
  });

  // The next page holds nothing (what waited behind the backlog is stamped next) or one more stored message.
  for (const count of [2, 3]) {
    test(`CLU-3 no id left to stamp the next lines (ids cannot be reserved), ${count} stored: the user is told to come back, nothing is lost`, async () => {
      const { port, server } = await start({ config: { backlogPage: 2, rateLimit: 0 } });
      const yoda = await user('yoda');
      for (let i = 1; i <= count; i++) await yoda.request(`message leia stored ${i}`);
      const leia = track(await RawClient.connect(port));
      leia.autoAck = false;
      await leia.login('leia', '$blasterpistol$');
      await leia.request('whoelse');
      const page = leia.seen((l) => l.type === 'message');
      expect(page).toHaveLength(2);
      // Behind the page: a message (its sender waits) and a broadcast.
      const hans = await as(port, 'hans');
      hans.send('#w message leia waiting');
      await hans.request('whoelse');
      await yoda.request('broadcast to everyone');
      // From now on no id can be had: the store is unreachable and the blocks are used up.
      const { ids } = server.state;
      ids.take = () => {
        throw new ChatError(ErrorCode.Busy, 'The server is reserving message ids; try again in a moment');
      };
      leia.send(`ack ${page[1]?.id}`);
      await leia.closed;
      expect(leia.lines.at(-1)).toMatchObject({ type: 'bye', code: 'store-unavailable' });
      // The waiting message was stored for the next login, and its sender told so.
      expect(await hans.waitFor((l) => l.re === 'w')).toMatchObject({ code: 'stored' });
      expect((await server.state.store.messagesFor('leia')).map((m) => m.body)).toEqual([...(count === 3 ? ['stored 3'] : []), 'waiting']);
      hans.kill();
    });
  }
});
