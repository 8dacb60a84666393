// The browser harness itself: Debian's Chromium starts under playwright-core, renders a local page, reports the
// page's problems (console errors, CSP violations, dialogs) and saves a screenshot. Fast: no Herald stack.
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import { statSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { launchBrowser, newPortalPage, saveScreenshot } from './helpers/browser.js';

// One page with a strict CSP, and one inline script the CSP must block (so the violation is recorded).
const html = `<!doctype html><html><head><title>Harness check</title></head>
<body><h1>Hello from the harness</h1><script>alert('inline ran')</script></body></html>`;

describe('browser harness', () => {
  let browser: Browser;
  let server: Server;
  let url: string;

  beforeAll(async () => {
    server = createServer((request, response) => {
      if (request.url === '/missing') return void response.writeHead(404).end();
      response.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-security-policy': "default-src 'self'" });
      response.end(html);
    }).listen(0, '127.0.0.1');
    await once(server, 'listening');
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    server?.closeAllConnections();
    await new Promise((resolve) => server?.close(resolve));
  });

  it('opens a local page in Chromium, reads it, records its problems and saves a screenshot', async () => {
    const { page, context, problems } = await newPortalPage(browser, { width: 390 });
    await page.goto(url);
    expect(await page.title()).toBe('Harness check');
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Hello from the harness');

    // The inline script is blocked by the CSP: recorded as a violation, and no dialog opened.
    await expect.poll(() => problems.cspViolations.length).toBeGreaterThan(0);
    expect(problems.cspViolations[0]).toMatch(/^script-src/);
    expect(problems.dialogs).toEqual([]);

    await page.evaluate(() => fetch('/missing'));
    expect(problems.httpErrors).toEqual([`404 GET ${url}missing`]);

    const path = await saveScreenshot(page, 'harness');
    expect(statSync(path).size).toBeGreaterThan(1000);
    await context.close();
  });
});
