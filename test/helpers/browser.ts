// Real-browser testing: Debian's Chromium driven by playwright-core. Playwright never downloads a browser here;
// scripts/ensure-chromium.sh installs Chromium (apt-get, as root) and scripts/test.sh runs it before vitest.
import { accessSync, constants, mkdirSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/** Where screenshots go (gitignored); CI can keep it as an artifact. */
export const screenshotDir = fileURLToPath(new URL('../../test-results/portal/', import.meta.url));

const isExecutable = (path: string) => {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
};

/** The Chromium executable, looked up like scripts/ensure-chromium.sh: $CHROMIUM_PATH, then PATH, then /usr/bin/chromium. */
export function chromiumPath(): string {
  const fromEnv = process.env.CHROMIUM_PATH;
  if (fromEnv) {
    if (isExecutable(fromEnv)) return fromEnv;
    throw new Error(`CHROMIUM_PATH=${fromEnv} is not an executable file; fix it or unset it and run scripts/ensure-chromium.sh`);
  }
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    const found = dirs.map((dir) => join(dir, name)).find(isExecutable);
    if (found) return found;
  }
  if (isExecutable('/usr/bin/chromium')) return '/usr/bin/chromium';
  throw new Error(
    'No Chromium found for the browser tests (looked at $CHROMIUM_PATH, chromium, chromium-browser, google-chrome, /usr/bin/chromium). ' +
      'Run `bash scripts/ensure-chromium.sh` (installs it with apt-get as root, or tells you what to run), or set CHROMIUM_PATH.',
  );
}

/** A headless Chromium. --no-sandbox because CI runs as root, where Chromium's sandbox refuses to start. */
export function launchBrowser(): Promise<Browser> {
  return chromium.launch({ executablePath: chromiumPath(), headless: true, args: ['--no-sandbox'] });
}

/** What went wrong on a page while a test drove it; a clean page has every list empty. */
export interface PageProblems {
  /** console.error() calls and uncaught exceptions ("pageerror: …"). */
  consoleErrors: string[];
  /** Requests that never got an answer (DNS, refused, blocked by CSP, aborted): "GET url: net::ERR_…". */
  failedRequests: string[];
  /** Answers with status >= 400: "401 GET url". Some are expected (a bad link's 401), so tests filter these. */
  httpErrors: string[];
  /** Content-Security-Policy violations reported by the page ("script-src-elem blocked inline", …). */
  cspViolations: string[];
  /** alert/confirm/prompt dialogs that opened (each is dismissed): the portal should never open one. */
  dialogs: string[];
}

export interface PortalPage {
  page: Page;
  context: BrowserContext;
  problems: PageProblems;
}

/**
 * A page in its own context (own cookies) at the given width, recording its problems. Close it with
 * `context.close()`, or let browser.close() do it.
 */
export async function newPortalPage(browser: Browser, { width = 1280, height = 900 }: { width?: number; height?: number } = {}): Promise<PortalPage> {
  const context = await browser.newContext({ viewport: { width, height } });
  const problems: PageProblems = { consoleErrors: [], failedRequests: [], httpErrors: [], cspViolations: [], dialogs: [] };

  // CSP violations fire `securitypolicyviolation` in the page; an init script forwards them to the test.
  await context.exposeBinding('__reportCspViolation', (_source, text: string) => void problems.cspViolations.push(text));
  // (A string, not a function: tsconfig has no DOM types. Init scripts run before the page's own, and CSP does not
  // apply to them.)
  await context.addInitScript({
    content: `document.addEventListener('securitypolicyviolation', (e) =>
      window.__reportCspViolation(e.effectiveDirective + ' blocked ' + (e.blockedURI || 'inline') + ' (' + e.sourceFile + ':' + e.lineNumber + ')'));`,
  });

  const page = await context.newPage();
  page.on('console', (message) => {
    if (message.type() !== 'error') return;
    // Chromium logs every 4xx/5xx answer as "Failed to load resource"; those are in httpErrors already.
    if (message.text().startsWith('Failed to load resource: the server responded with a status of')) return;
    problems.consoleErrors.push(message.text());
  });
  page.on('pageerror', (error) => problems.consoleErrors.push(`pageerror: ${error.message}`));
  page.on('requestfailed', (request) => problems.failedRequests.push(`${request.method()} ${request.url()}: ${request.failure()?.errorText}`));
  page.on('response', (response) => {
    if (response.status() >= 400) problems.httpErrors.push(`${response.status()} ${response.request().method()} ${response.url()}`);
  });
  page.on('dialog', (dialog) => {
    problems.dialogs.push(`${dialog.type()}: ${dialog.message()}`);
    void dialog.dismiss().catch(() => {});
  });
  return { page, context, problems };
}

/** A full-page PNG in test-results/portal/<name>.png; returns its path. */
export async function saveScreenshot(page: Page, name: string): Promise<string> {
  mkdirSync(screenshotDir, { recursive: true });
  const path = join(screenshotDir, `${name.replace(/[^\w.-]+/g, '-')}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
