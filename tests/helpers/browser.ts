// A real headless browser for the web client's tests: Debian's chromium driven by playwright-core
// (which downloads no browser). Without chromium the tests are skipped, saying why (CI installs it).
// Also the fixture the browser tests share (webFixture): a real server, pages, TCP users beside them.

import { afterAll, afterEach, beforeAll, expect } from 'bun:test';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { as, PASSWORDS, type RawClient } from './raw-client.ts';
import { startTestServer, type TestServer } from './test-server.ts';

/** Where chromium is, or undefined (then `skipReason` says why the browser tests are skipped). */
export const chromiumPath: string | undefined = Bun.which('chromium') ?? Bun.which('chromium-browser') ?? undefined;

export const skipReason = chromiumPath ? undefined : 'no chromium on PATH (apt-get install -y chromium); the browser tests of the web client are skipped';
if (skipReason) console.log(`skipped: ${skipReason}`);

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

// The callbacks given to page.evaluate and waitForFunction run in the page; these are the page's
// globals they use (the tests' own types have no DOM). A test file declares the ones it uses:
// `declare const document: PageDocument;`.
export interface PageNode {
  textContent: string | null;
}
export type PageDocument = { body: PageNode | null; title: string; activeElement: unknown; dispatchEvent(event: unknown): boolean; getElementById(id: string): PageNode | null; querySelectorAll(selector: string): ArrayLike<PageNode> & Iterable<PageNode>; cookie: string };
export type PageStorage = Record<string, string>;
declare const document: PageDocument;

type StorageState = Awaited<ReturnType<BrowserContext['storageState']>>;

export const WAIT = { timeout: 5000 };

/**
 * Called inside a describe block: launches chromium for it, and after each test closes the pages,
 * TCP users and server the test made, then fails it if a page had an uncaught error. `server`,
 * `browser` and `contexts` are fields, since a test may start a server again or make its own context.
 */
export function webFixture() {
  const web = {
    browser: undefined as unknown as Browser,
    server: undefined as TestServer | undefined,
    contexts: [] as BrowserContext[],
    start,
    base,
    newPage,
    logIn,
    tcp,
    open,
    bodies,
    waitBody,
    sendText,
    fates,
  };
  const clients: RawClient[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    web.browser = await launchBrowser();
  });
  afterAll(async () => {
    await web.browser?.close();
  });
  afterEach(async () => {
    for (const c of web.contexts.splice(0)) await c.close();
    for (const c of clients.splice(0)) c.kill();
    await web.server?.stop();
    web.server = undefined;
    // Last, so that a failure here still leaves everything cleaned up.
    expect(pageErrors.splice(0)).toEqual([]);
  });

  async function start(options: Parameters<typeof startTestServer>[0] = {}): Promise<TestServer> {
    web.server = await startTestServer({ web: true, ...options });
    return web.server;
  }

  function base(): string {
    return `http://127.0.0.1:${web.server?.server.webPort}/`;
  }

  async function newPage(options: { width?: number; height?: number; dark?: boolean; storageState?: StorageState } = {}): Promise<Page> {
    const context = await web.browser.newContext({
      ...(options.storageState && { storageState: options.storageState }),
      viewport: { width: options.width ?? 1100, height: options.height ?? 700 },
      colorScheme: options.dark ? 'dark' : 'light',
      ...(options.width !== undefined && options.width < 500 && { isMobile: true, hasTouch: true, deviceScaleFactor: 2 }),
    });
    web.contexts.push(context);
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
    const c = await as((web.server as TestServer).port, name);
    clients.push(c);
    return c;
  }

  async function open(page: Page, name: string): Promise<void> {
    await page.click(`#people button[data-name="${name}"]`);
    const heading = name === '* everyone' ? 'Everyone (broadcasts)' : name;
    await page.waitForFunction((n) => document.getElementById('conversation-title')?.textContent === n, heading, WAIT);
  }

  function bodies(page: Page) {
    return page.$$eval('#messages li .body', (items) => items.map((i) => i.textContent));
  }

  async function waitBody(page: Page, text: string): Promise<void> {
    await page.waitForFunction((t) => [...document.querySelectorAll('#messages li .body')].some((b) => b.textContent === t), text, WAIT);
  }

  async function sendText(page: Page, text: string): Promise<void> {
    await page.fill('#text', text);
    await page.press('#text', 'Enter');
  }

  function fates(page: Page) {
    return page.$$eval('#messages li.mine .fate', (items) => items.map((i) => i.textContent));
  }

  return web;
}
