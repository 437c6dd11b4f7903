// The web client in a real browser (WEB-2, WEB-3, WEB-4): Debian's chromium, headless, against a
// real server with TCP users beside it. Skipped, saying why, when chromium is not installed.

import { afterAll, afterEach, beforeAll, describe, expect, setDefaultTimeout, test } from 'bun:test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchBrowser, skipReason } from '../helpers/browser.ts';
import { as, PASSWORDS, RawClient } from '../helpers/raw-client.ts';
import { FakeClock, SAMPLE_CREDENTIALS, startTestServer, tempDir, type TestServer } from '../helpers/test-server.ts';
import { startServer } from '../../src/server/server.ts';

// The callbacks given to page.evaluate and waitForFunction run in the page; these are the page's
// globals they use (the tests' own types have no DOM).
interface PageNode {
  textContent: string | null;
}
declare const document: { body: PageNode | null; title: string; activeElement: unknown; dispatchEvent(event: unknown): boolean; getElementById(id: string): PageNode | null; querySelectorAll(selector: string): ArrayLike<PageNode> & Iterable<PageNode>; cookie: string };
declare const localStorage: Record<string, string>;
declare const sessionStorage: Record<string, string>;

const WAIT = { timeout: 5000 };
// A browser test drives several pages through a real server: more than bun's 5 s default.
setDefaultTimeout(30_000);
// The pictures in docs/WEB.md: written there with CHAT_UPDATE_SCREENSHOTS=1 (they show the time
// of day, so every run would change them); otherwise to a temporary directory.
const SHOTS = process.env.CHAT_UPDATE_SCREENSHOTS === '1' ? join(import.meta.dir, '../../docs/web') : join(tempDir(), 'screenshots');

let browser: Browser;
let server: TestServer | undefined;
const contexts: BrowserContext[] = [];
const clients: RawClient[] = [];
const pageErrors: string[] = [];

describe.skipIf(skipReason !== undefined)('web client in chromium', () => {
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
  });
  afterEach(async () => {
    for (const c of contexts.splice(0)) await c.close();
    for (const c of clients.splice(0)) c.kill();
    await server?.stop();
    server = undefined;
    // Last, so that a failure here still leaves everything cleaned up.
    expect(pageErrors.splice(0)).toEqual([]);
  });

  async function start(options: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
    server = await startTestServer({ web: true, ...options });
    return server;
  }

  function base(): string {
    return `http://127.0.0.1:${server?.server.webPort}/`;
  }

  async function newPage(options: { width?: number; height?: number; dark?: boolean; storageState?: Awaited<ReturnType<BrowserContext['storageState']>> } = {}): Promise<Page> {
    const context = await browser.newContext({
      ...(options.storageState && { storageState: options.storageState }),
      viewport: { width: options.width ?? 1100, height: options.height ?? 700 },
      colorScheme: options.dark ? 'dark' : 'light',
      ...(options.width !== undefined && options.width < 500 && { isMobile: true, hasTouch: true, deviceScaleFactor: 2 }),
    });
    contexts.push(context);
    const page = await context.newPage();
    // An alert() would mean that some text ran as code.
    // An uncaught error in the page fails the test (checked after it).
    page.on('pageerror', (err) => pageErrors.push(err.message));
    page.on('dialog', (d) => {
      throw new Error(`the page opened a dialog: ${d.message()}`);
    });
    await page.goto(base());
    return page;
  }

  async function logIn(page: Page, user: string, password = PASSWORDS[user] as string): Promise<void> {
    await page.fill('#username', user);
    await page.fill('#password', password);
    await page.click('#login-button');
    await page.waitForSelector('#chat-screen:not([hidden])', WAIT);
  }

  async function tcp(name: string): Promise<RawClient> {
    const c = await as((server as TestServer).port, name);
    clients.push(c);
    return c;
  }

  async function open(page: Page, name: string): Promise<void> {
    await page.click(`#people button[data-name="${name}"]`);
    const heading = name === '* everyone' ? 'Everyone (broadcasts)' : name;
    await page.waitForFunction((n) => document.getElementById('conversation-title')?.textContent === n, heading, WAIT);
  }

  const bodies = (page: Page) => page.$$eval('#messages li .body', (items) => items.map((i) => i.textContent));

  async function waitBody(page: Page, text: string): Promise<void> {
    await page.waitForFunction((t) => [...document.querySelectorAll('#messages li .body')].some((b) => b.textContent === t), text, WAIT);
  }

  async function sendText(page: Page, text: string): Promise<void> {
    await page.fill('#text', text);
    await page.press('#text', 'Enter');
  }

  const fates = (page: Page) => page.$$eval('#messages li.mine .fate', (items) => items.map((i) => i.textContent));

  test('WEB-2 a web user and a terminal user exchange messages both ways; presence is live; fates are shown', async () => {
    await start();
    const yoda = await tcp('yoda');
    const page = await newPage();
    await logIn(page, 'hans');
    await yoda.presence('hans', true);
    await page.waitForSelector('#people button[data-name="yoda"][aria-label="yoda, online"]', WAIT);
    await open(page, 'yoda');
    await sendText(page, 'Hello from the browser');
    expect(await yoda.event('message')).toMatchObject({ from: 'hans', body: 'Hello from the browser' });
    await page.waitForSelector('#messages li.mine .fate-delivered', WAIT);
    yoda.send('message hans Hello from the terminal');
    await waitBody(page, 'Hello from the terminal');
    // Shift+Enter makes a new line; each line leaves as a message of its own.
    await page.fill('#text', 'line one');
    await page.press('#text', 'Shift+Enter');
    await page.type('#text', 'line two');
    await page.press('#text', 'Enter');
    expect(await yoda.event('message')).toMatchObject({ body: 'line one' });
    expect(await yoda.event('message')).toMatchObject({ body: 'line two' });
    // Presence, live: leia comes and goes.
    const leia = await tcp('leia');
    await page.waitForSelector('#people button[data-name="leia"][aria-label="leia, online"]', WAIT);
    // Unread counts, per conversation and in the title.
    leia.send('message hans are you there?');
    await page.waitForSelector('#people button[data-name="leia"][aria-label="leia, online, 1 unread"]', WAIT);
    expect(await page.title()).toBe('(1) chat — hans');
    leia.kill();
    await page.waitForSelector('#people button[data-name="leia"][aria-label="leia, offline, 1 unread"]', WAIT);
    await open(page, 'leia');
    expect(await page.title()).toBe('chat — hans');
    // A message to someone offline: stored for later. A refused one says why.
    await sendText(page, 'see you later');
    await page.waitForSelector('#messages li.mine .fate-stored', WAIT);
    await page.fill('#open-name', 'nobody');
    await page.press('#open-name', 'Enter');
    await sendText(page, 'hello?');
    await page.waitForSelector('#messages li.mine .fate-refused', WAIT);
    expect((await fates(page))[0]).toContain('There is no user called nobody');
    // Broadcasts both ways.
    await open(page, '* everyone');
    yoda.send('broadcast hi all');
    await waitBody(page, 'hi all');
    await sendText(page, 'hi from the web');
    expect(await yoda.event('broadcast')).toMatchObject({ from: 'hans', body: 'hi from the web' });
    await page.waitForSelector('#messages li.mine .fate-sent', WAIT);
  });

  test('WEB-2 keyboard only: log in, pick a conversation, send', async () => {
    await start();
    const yoda = await tcp('yoda');
    const page = await newPage();
    await page.keyboard.type('hans'); // the username field has the focus
    await page.keyboard.press('Tab');
    await page.keyboard.type(PASSWORDS.hans as string);
    await page.keyboard.press('Enter');
    await page.waitForSelector('#chat-screen:not([hidden])', WAIT);
    await page.waitForSelector('#people button[data-name="yoda"]', WAIT);
    for (let i = 0; i < 25 && (await page.evaluate(() => (document.activeElement as { dataset?: { name?: string } } | null)?.dataset?.name)) !== 'yoda'; i++) await page.keyboard.press('Tab');
    await page.keyboard.press('Enter');
    await page.keyboard.type('sent without a mouse');
    await page.keyboard.press('Enter');
    expect(await yoda.event('message')).toMatchObject({ from: 'hans', body: 'sent without a mouse' });
  });

  test("WEB-2 a pasted block of lines goes out in order, paced to the server's rate limit: none refused", async () => {
    await start({ config: { rateLimit: 4 } });
    const yoda = await tcp('yoda');
    const page = await newPage();
    await logIn(page, 'hans');
    await open(page, 'yoda');
    const lines = Array.from({ length: 30 }, (_, i) => `line ${i}`);
    await page.fill('#text', lines.join('\n'));
    await page.press('#text', 'Enter');
    for (const line of lines) expect(await yoda.event('message')).toMatchObject({ body: line });
    await page.waitForFunction(() => document.querySelectorAll('#messages li.mine .fate-delivered').length === 30, undefined, { timeout: 15_000 });
    expect(await page.$$('#messages .fate-refused')).toHaveLength(0);
  });

  test('WEB-2 while the tab is hidden a direct message notifies and counts as unread, even in the open conversation', async () => {
    await start();
    const yoda = await tcp('yoda');
    const page = await newPage();
    await page.context().grantPermissions(['notifications'], { origin: base() });
    // A hidden tab, and a Notification that records what it was asked to show.
    await page.addInitScript(() => {
      const w = globalThis as unknown as { hiddenTab: boolean; notes: string[]; Notification: unknown };
      w.hiddenTab = false;
      w.notes = [];
      Object.defineProperty(document, 'hidden', { get: () => w.hiddenTab });
      w.Notification = class {
        static permission = 'granted';
        static requestPermission = async () => 'granted';
        constructor(title: string, options: { body: string }) {
          w.notes.push(`${title}: ${options.body}`);
        }
      };
    });
    await page.reload();
    await logIn(page, 'hans');
    await open(page, 'yoda');
    await page.evaluate(() => {
      (globalThis as unknown as { hiddenTab: boolean }).hiddenTab = true;
    });
    yoda.send('message hans are you there?');
    await waitBody(page, 'are you there?');
    expect(await page.evaluate(() => (globalThis as unknown as { notes: string[] }).notes)).toEqual(['chat: yoda: are you there?']);
    expect(await page.title()).toBe('(1) chat — hans');
    await page.evaluate(() => {
      (globalThis as unknown as { hiddenTab: boolean }).hiddenTab = false;
      document.dispatchEvent(new Event('visibilitychange'));
    });
    await page.waitForFunction(() => document.title === 'chat — hans', undefined, WAIT);
  });

  test('WEB-4 a message with HTML shows literally; nothing runs', async () => {
    await start();
    const yoda = await tcp('yoda');
    const page = await newPage();
    await logIn(page, 'hans');
    await open(page, 'yoda');
    const evil = '<img src=x onerror=alert(1)>';
    yoda.send(`message hans ${evil}`);
    await waitBody(page, evil);
    expect(await page.$$('#messages img')).toHaveLength(0);
    await sendText(page, '<b>bold?</b>');
    await waitBody(page, '<b>bold?</b>');
    expect(await page.$$('#messages b')).toHaveLength(0);
  });

  test('WEB-2 offline messages are shown at login, marked; the password is in no storage', async () => {
    await start();
    const yoda = await tcp('yoda');
    expect(await yoda.request('message hans while you were out')).toMatchObject({ code: 'stored' });
    const page = await newPage();
    await logIn(page, 'hans');
    await page.waitForSelector('#people button[data-name="yoda"][aria-label="yoda, online, 1 unread"]', WAIT);
    await open(page, 'yoda');
    await waitBody(page, 'while you were out');
    expect(await page.textContent('#messages li .offline-tag')).toBe('sent while you were away');
    const stored = await page.evaluate(() => JSON.stringify({ local: { ...localStorage }, session: { ...sessionStorage }, cookie: document.cookie }));
    expect(stored).toContain('while you were out');
    expect(stored).not.toContain(PASSWORDS.hans as string);
    expect(await page.context().cookies()).toHaveLength(0);
  });

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
    server = await startTestServer({ dir: first.dir, port: first.port, web: true, config: { rateLimit: 1 } });
    const page = await newPage();
    await logIn(page, 'hans');
    await open(page, 'yoda');
    await waitBody(page, `backlog ${count - 1}`);
    expect(await bodies(page)).toEqual(Array.from({ length: count }, (_, i) => `backlog ${i}`));
    // Everything was acknowledged: nothing is left stored, and the page is still connected.
    const store = server.server.state.store;
    // (The last ack leaves at most 50 ms after the last message; the store has no hook to wait on.)
    for (let i = 0; i < 100 && (await store.countFor('hans')) > 0; i++) await Bun.sleep(20);
    expect(await store.countFor('hans')).toBe(0);
    expect(await page.isVisible('#connection')).toBe(false);
    expect(server.server.state.sessions.has('hans')).toBe(true);
  });

  test('WEB-2 block and unblock from the conversation', async () => {
    await start();
    const yoda = await tcp('yoda');
    const page = await newPage();
    await logIn(page, 'hans');
    await open(page, 'yoda');
    await page.click('#block-button');
    await page.waitForSelector('#block-button:text("Unblock")', WAIT);
    expect(await yoda.request('message hans let me in')).toMatchObject({ type: 'error', code: 'blocked' });
    await page.click('#block-button');
    await page.waitForSelector('#block-button:text("Block")', WAIT);
    expect(await yoda.request('message hans thanks')).toMatchObject({ code: 'delivered' });
    await waitBody(page, 'thanks');
    expect(await bodies(page)).toEqual(['thanks']);
  });

  test('WEB-2 registration asks the password twice; already online is said plainly; whoelsesince; logout', async () => {
    await start();
    const page = await newPage();
    await page.fill('#username', 'rey');
    await page.fill('#password', 'scavenger1');
    await page.click('#login-button');
    await page.waitForSelector('#repeat-row:not([hidden])', WAIT);
    await page.fill('#password-repeat', 'scavenger2');
    await page.click('#login-button');
    expect(await page.textContent('#login-message')).toContain('differ');
    await page.fill('#password-repeat', 'scavenger1');
    await page.click('#login-button');
    await page.waitForSelector('#chat-screen:not([hidden])', WAIT);
    expect(await page.isVisible('#private-note')).toBe(false); // broadcasts first: no private note there
    await page.fill('#open-name', 'yoda');
    await page.press('#open-name', 'Enter');
    expect(await page.textContent('#private-note')).toContain('not available in the browser');
    // A second tab for the same user is told plainly.
    const second = await newPage();
    await second.fill('#username', 'rey');
    await second.fill('#password', 'scavenger1');
    await second.click('#login-button');
    await second.waitForFunction(() => document.getElementById('login-message')?.textContent?.includes('already logged in'), undefined, WAIT);
    const hans = await tcp('hans');
    hans.end();
    await hans.closed;
    await page.click('#since-form button');
    await page.waitForFunction(() => document.getElementById('since-result')?.textContent?.includes('hans'), undefined, WAIT);
    await page.click('#logout-button');
    await page.waitForSelector('#login-screen:not([hidden])', WAIT);
    expect(await page.textContent('#login-message')).toBe('You logged out.');
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

  test('WEB-3 the page reconnects by itself after a server restart, keeping the conversation', async () => {
    const first = await start();
    const { port, dir } = first;
    const webPort = first.server.webPort as number;
    const yoda = await tcp('yoda');
    const page = await newPage();
    await logIn(page, 'hans');
    await open(page, 'yoda');
    yoda.send('message hans before the restart');
    await waitBody(page, 'before the restart');
    await first.stop();
    await page.waitForSelector('#connection:not([hidden])', WAIT);
    server = await startTestServer({ dir, port, web: webPort, credentials: undefined });
    await page.waitForSelector('#connection', { ...WAIT, state: 'hidden', timeout: 20_000 });
    const again = await tcp('yoda');
    again.send('message hans after the restart');
    await waitBody(page, 'after the restart');
    expect(await bodies(page)).toEqual(['before the restart', 'after the restart']);
    await sendText(page, 'welcome back');
    expect(await again.event('message')).toMatchObject({ body: 'welcome back' });
  });

  test('WEB-2 an inactivity timeout logs the page out, saying why, and it does not reconnect', async () => {
    const clock = new FakeClock();
    await start({ clock, timeoutSeconds: 30 });
    const page = await newPage();
    await logIn(page, 'hans');
    clock.advance(30_000);
    await page.waitForSelector('#login-screen:not([hidden])', WAIT);
    expect(await page.textContent('#login-message')).toContain('without activity');
    expect(await page.isVisible('#connection')).toBe(false); // no "reconnecting" banner
    expect(server?.server.state.sessions.has('hans')).toBe(false);
  });

  test("WEB-2 the server's reason is shown when it closes before the login (the login deadline)", async () => {
    const clock = new FakeClock();
    await start({ clock, config: { loginTimeoutMs: 60_000 } });
    const page = await newPage();
    await page.fill('#username', 'rey');
    await page.fill('#password', 'scavenger1');
    await page.click('#login-button');
    await page.waitForSelector('#repeat-row:not([hidden])', WAIT);
    clock.advance(60_000);
    await page.waitForFunction(() => document.getElementById('login-message')?.textContent?.includes('No login within 60 s'), undefined, WAIT);
  });

  test('WEB-1 over HTTPS and WSS with the TLS options', async () => {
    const dir = tempDir();
    const made = Bun.spawnSync(['bash', join(import.meta.dir, '../../scripts/make-cert.sh'), dir]);
    if (!made.success) throw new Error(`scripts/make-cert.sh failed (is openssl installed?): ${made.stderr.toString()}`);
    await Bun.write(join(dir, 'credentials.txt'), SAMPLE_CREDENTIALS);
    const running = await startServer({ port: 0, host: '127.0.0.1', blockDurationMs: 60_000, timeoutMs: 300_000, credentials: join(dir, 'credentials.txt'), db: ':memory:', tls: { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') }, web: { port: 0 } });
    try {
      const context = await browser.newContext({ ignoreHTTPSErrors: true });
      contexts.push(context);
      const page = await context.newPage();
      await page.goto(`https://127.0.0.1:${running.webPort}/`);
      await logIn(page, 'hans');
      expect(running.state.sessions.get('hans')?.conn.transport.kind).toBe('web');
    } finally {
      await running.stop();
    }
  });

  test('WEB-4 a page from another origin cannot open the WebSocket, nor frame the page', async () => {
    await start();
    const other = Bun.serve({ port: 0, hostname: '127.0.0.1', fetch: () => new Response('<!doctype html><title>elsewhere</title>', { headers: { 'content-type': 'text/html' } }) });
    try {
      const page = await newPage();
      await page.goto(`http://127.0.0.1:${other.port}/`);
      const outcome = await page.evaluate(
        (url) =>
          new Promise<string>((resolve) => {
            const ws = new WebSocket(url);
            ws.onopen = () => resolve('open');
            ws.onclose = (e) => resolve(`closed ${e.code}`);
          }),
        server?.wsUrl as string,
      );
      expect(outcome).toBe('closed 1006');
      // Nor frame the page (clickjacking): framed, it refuses to run.
      await page.setContent(`<iframe src="${base()}" width="600" height="400"></iframe>`);
      const frame = await (await page.waitForSelector('iframe', WAIT)).contentFrame();
      await frame?.waitForFunction(() => document.body?.textContent?.includes('does not work inside a frame'), undefined, WAIT);
      // The page itself connects from its own origin.
      await page.goto(base());
      await logIn(page, 'hans');
    } finally {
      other.stop(true);
    }
  });

  test('screenshots for docs/WEB.md: desktop and phone, light and dark', async () => {
    await start();
    mkdirSync(SHOTS, { recursive: true });
    const yoda = await tcp('yoda');
    await tcp('leia');
    expect(await yoda.request('message hans Are you coming to the briefing?')).toMatchObject({ code: 'stored' });
    // Each picture in a browser context of its own, with what the first one kept (WEB-3).
    let storageState: Awaited<ReturnType<BrowserContext['storageState']>> | undefined;
    for (const dark of [false, true]) {
      for (const phone of [false, true]) {
        const page = await newPage(phone ? { width: 390, height: 760, dark, storageState } : { width: 1100, height: 680, dark, storageState });
        if (phone && !dark) {
          // The registration form, as a new user sees it after giving a new name.
          await page.fill('#username', 'rey');
          await page.fill('#password', 'scavenger1');
          await page.click('#login-button');
          await page.waitForSelector('#repeat-row:not([hidden])', WAIT);
          await page.screenshot({ path: join(SHOTS, 'phone-register.png') });
          await page.click('#login-back');
        }
        await logIn(page, 'hans');
        if (!(await page.isVisible('#people button[data-name="yoda"]'))) await page.click('#back-button');
        await open(page, 'yoda');
        if (!dark && !phone) {
          await sendText(page, 'On my way. <b>Not bold</b>, just text.');
          await page.waitForSelector('#messages li.mine .fate-delivered', WAIT);
          yoda.send('message hans Good. Bring the plans.');
          await waitBody(page, 'Good. Bring the plans.');
        }
        await page.waitForFunction(() => document.querySelectorAll('#messages li').length >= 3, undefined, WAIT);
        await page.screenshot({ path: join(SHOTS, `${phone ? 'phone' : 'desktop'}-${dark ? 'dark' : 'light'}.png`) });
        storageState = await page.context().storageState();
        await page.click('#logout-button');
        await page.waitForSelector('#login-screen:not([hidden])', WAIT);
        await page.context().close();
      }
    }
  });
});
