// The web client in a real browser, logging in and messaging (WEB-2): messages both ways with TCP
// users, presence, fates, the keyboard, pasting, notifications, offline messages, blocking,
// registration and logout; and the pictures in docs/WEB.md.
// Debian's chromium, headless, against a real server with TCP users beside it (the fixture:
// tests/helpers/browser.ts). Skipped, saying why, when chromium is not installed.

import { describe, expect, setDefaultTimeout, test } from 'bun:test';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext } from 'playwright-core';
import { type PageDocument, type PageStorage, skipReason, WAIT, webFixture } from '../helpers/browser.ts';
import { PASSWORDS } from '../helpers/raw-client.ts';
import { tempDir } from '../helpers/test-server.ts';

declare const document: PageDocument;
declare const localStorage: PageStorage;
declare const sessionStorage: PageStorage;

// A browser test drives several pages through a real server: more than bun's 5 s default.
setDefaultTimeout(30_000);
// The pictures in docs/WEB.md: written there with CHAT_UPDATE_SCREENSHOTS=1 (they show the time
// of day, so every run would change them); otherwise to a temporary directory.
const SHOTS = process.env.CHAT_UPDATE_SCREENSHOTS === '1' ? join(import.meta.dir, '../../docs/web') : join(tempDir(), 'screenshots');

describe.skipIf(skipReason !== undefined)('web client in chromium', () => {
  const { start, base, newPage, logIn, tcp, open, bodies, waitBody, sendText, fates } = webFixture();

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

  // Four browser contexts one after another, each logging in and drawing a page: about 25 s on an
  // idle 2-core machine, so a budget of its own (nothing here measures time).
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
  }, 90_000);
});
