// A real headless browser for the web client's tests: Debian's chromium driven by playwright-core
// (which downloads no browser). Without chromium the tests are skipped, saying why (CI installs it).

import { chromium, type Browser } from 'playwright-core';

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
