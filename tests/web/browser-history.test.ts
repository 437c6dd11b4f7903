// The web client in a real browser, what it shows once (WEB-2, WEB-3): a backlog, acks, a reload
// with messages sent again, keys shown and one stored late.
// Debian's chromium, headless, against a real server with TCP users beside it (the fixture:
// tests/helpers/browser.ts). Skipped, saying why, when chromium is not installed.

import { describe, expect, setDefaultTimeout, test } from 'bun:test';
import { type PageDocument, type PageStorage, skipReason, WAIT, webFixture } from '../helpers/browser.ts';
import { startTestServer } from '../helpers/test-server.ts';

declare const document: PageDocument;
declare const localStorage: PageStorage;

// A browser test drives several pages through a real server: more than bun's 5 s default.
setDefaultTimeout(30_000);

describe.skipIf(skipReason !== undefined)('web client in chromium', () => {
  const web = webFixture();
  const { start, newPage, logIn, tcp, open, bodies, waitBody, sendText } = web;

  test('WEB-2 a backlog of hundreds of stored messages is shown once, in order, without tripping the rate limit', async () => {
    const first = await start({ config: { rateLimit: 0 } });
    const yoda = await tcp('yoda');
    const count = 300;
    let batch = '';
    for (let i = 0; i < count; i++) batch += `#s${i} message hans backlog ${i}\n`;
    yoda.write(batch);
    await yoda.waitFor((l) => l.re === `s${count - 1}`);
    yoda.kill();
    await first.stop();
    // A tight budget (1 command a second, bursts of 5): an ack a message would be a flood.
    web.server = await startTestServer({ dir: first.dir, port: first.port, web: true, config: { rateLimit: 1 } });
    const page = await newPage();
    await logIn(page, 'hans');
    await open(page, 'yoda');
    await waitBody(page, `backlog ${count - 1}`);
    expect(await bodies(page)).toEqual(Array.from({ length: count }, (_, i) => `backlog ${i}`));
    // Everything was acknowledged: nothing is left stored, and the page is still connected.
    const store = web.server.server.state.store;
    // (The last ack leaves at most 50 ms after the last message; the store has no hook to wait on.)
    for (let i = 0; i < 100 && (await store.countFor('hans')) > 0; i++) await Bun.sleep(20);
    expect(await store.countFor('hans')).toBe(0);
    expect(await page.isVisible('#connection')).toBe(false);
    expect(web.server.server.state.sessions.has('hans')).toBe(true);
  });

  test('the page acks direct messages, never broadcasts (they need no ack: docs/PROTOCOL.md, issue 14)', async () => {
    await start();
    const yoda = await tcp('yoda');
    const page = await newPage();
    // The page's timers run only when the test says, so an ack it would send late is sent at a known point.
    await page.clock.install();
    const sent: string[] = [];
    await page.routeWebSocket(/\/ws$/, (ws) => {
      const upstream = ws.connectToServer();
      ws.onMessage((m) => {
        sent.push(String(m));
        upstream.send(m);
      });
    });
    await page.reload();
    await logIn(page, 'hans');
    await open(page, '* everyone');
    expect((await yoda.request('broadcast hello everyone')).code).toBe('sent');
    await waitBody(page, 'hello everyone');
    await page.clock.runFor(1000);
    await open(page, 'yoda');
    const delivered = yoda.request('message hans hello hans');
    await waitBody(page, 'hello hans');
    await page.clock.runFor(1000);
    // `delivered` comes once the page has acked the message: every ack it sent is in `sent` by then.
    expect((await delivered).code).toBe('delivered');
    const acks = sent.filter((m) => m.startsWith('ack '));
    expect(acks).toEqual([`ack ${(await delivered).id}`]);
  });

  test('WEB-3 a reload keeps the conversation and shows nothing twice, even what the server sends again', async () => {
    await start();
    const yoda = await tcp('yoda');
    const page = await newPage();
    // Acks from the page are dropped on the way: the server then sends those messages again at the next login.
    let dropAcks = false;
    await page.routeWebSocket(/\/ws$/, (ws) => {
      const upstream = ws.connectToServer();
      ws.onMessage((m) => {
        if (!(dropAcks && String(m).startsWith('ack '))) upstream.send(m);
      });
    });
    await page.reload();
    await logIn(page, 'hans');
    await open(page, 'yoda');
    yoda.send('message hans first');
    await waitBody(page, 'first');
    await sendText(page, 'my reply');
    await yoda.event('message');
    dropAcks = true;
    yoda.send('message hans second, not acknowledged');
    await waitBody(page, 'second, not acknowledged');
    await page.reload();
    dropAcks = false;
    await logIn(page, 'hans');
    // The conversation is back, and the message the server delivered again is not shown twice.
    await page.waitForFunction(() => document.getElementById('conversation-title')?.textContent === 'yoda', undefined, WAIT);
    yoda.send('message hans third');
    await waitBody(page, 'third');
    expect(await bodies(page)).toEqual(['first', 'my reply', 'second, not acknowledged', 'third']);
  });

  test('WEB-3 CLU-3 the page shows each message once by its key: one stored late with a key below those shown is shown, one sent again is not', async () => {
    const { state } = (await start()).server;
    const yoda = await tcp('yoda');
    const page = await newPage();
    // Every ack from the page is lost: what it was shown is sent again, with new ids, at each login.
    let acked = () => {};
    await page.routeWebSocket(/\/ws$/, (ws) => {
      const upstream = ws.connectToServer();
      ws.onMessage((m) => {
        if (String(m).startsWith('ack ')) acked();
        else upstream.send(m);
      });
    });
    await page.reload();
    await logIn(page, 'hans');
    await open(page, 'yoda');
    // A message accepted before the others, on a node that died; its node stores it late (here: straight into the store).
    const late = state.ids.take();
    // The page saves what it showed before it acks (WEB-3): the ack says it is saved.
    const saved = new Promise<void>((resolve) => (acked = resolve));
    yoda.send('message hans shown once');
    await waitBody(page, 'shown once');
    await saved;
    await state.store.commit([{ id: late, from: 'yoda', to: 'hans', at: state.now(), body: 'stored late' }], []);
    await page.reload();
    await logIn(page, 'hans');
    await waitBody(page, 'stored late');
    yoda.send('message hans after');
    await waitBody(page, 'after');
    expect(await bodies(page)).toEqual(['shown once', 'stored late', 'after']);
    // What the page keeps: the keys shown, the late one among them.
    const kept = await page.evaluate((k) => localStorage[k], `chat/${state.instance}/hans`);
    expect((JSON.parse(kept as string) as { keys: number[] }).keys).toContain(late);
  });
});
