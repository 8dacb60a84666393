// The portal's security contract (issue 15, /tmp/portal-contract.md) against the real stack: magic links that work
// once and briefly, a tenant-scoped cookie session, CSRF, read-only sessions, security headers, and receiver-written
// text rendered as text. Browser cases drive Debian's Chromium (test/helpers/browser.ts); HTTP cases use fetch with
// the cookie that POST /portal/session set.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { apiClient, createTenant } from './helpers/api.js';
import { createEndpoint, expectStatus, useDeliveryStack, type TenantFixture } from './helpers/deliveries.js';
import { answer } from './helpers/receiver.js';
import { startTestStack } from './helpers/stack.js';
import { launchBrowser, newPortalPage, saveScreenshot, type PageProblems } from './helpers/browser.js';
import { buildPortal } from '../portal/build.js';
import { portalClient } from './helpers/portal.js';

const xssBody = '<img src=x onerror=alert(1)>';

describe('portal security', { timeout: 120_000 }, () => {
  // The portal built from the current source into a folder of this file's own (not dist/, which others may be building).
  const portalDir = mkdtempSync(join(tmpdir(), 'herald-portal-'));
  const suite = useDeliveryStack({ config: { HERALD_PORTAL_DIR: portalDir } });
  let browser: Browser;

  beforeAll(async () => {
    await buildPortal(portalDir);
    browser = await launchBrowser();
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(portalDir, { recursive: true, force: true });
  });

  /** A new magic link for the tenant (201), and the token from its fragment. */
  async function portalLink(tenant: TenantFixture, body: { expires_in?: string; read_only?: boolean } = {}) {
    const link = await expectStatus(suite.call('POST', `/v1/tenants/${tenant.id}/portal-sessions`, { key: tenant.apiKey, body }), 201);
    const token = new URLSearchParams(new URL(link.url).hash.slice(1)).get('token');
    if (!token) throw new Error(`no #token= in the portal link ${link.url}`);
    return { url: link.url as string, token };
  }

  /** Swaps a link's token for a session over HTTP: the raw Set-Cookie, the `name=value` pair to send back, the view. */
  async function openSession(tenant: TenantFixture, body: { read_only?: boolean } = {}) {
    const { token } = await portalLink(tenant, body);
    const response = await fetch(`${suite.stack.apiUrl}/portal/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ token }),
    });
    const view = await response.json();
    if (response.status !== 200) throw new Error(`POST /portal/session answered ${response.status}: ${JSON.stringify(view)}`);
    const setCookie = response.headers.getSetCookie().find((line) => line.startsWith('herald_portal='));
    if (!setCookie) throw new Error(`POST /portal/session set no herald_portal cookie: ${response.headers.getSetCookie().join(' | ')}`);
    return { setCookie, cookie: setCookie.split(';')[0]!, view: view as { tenant_id: string; read_only: boolean; csrf_token: string } };
  }

  /** A request as the portal page makes it: the cookie, and the CSRF token unless `csrf` is null. */
  function portalCall(method: string, path: string, session: { cookie: string; view: { csrf_token: string } }, options: { body?: unknown; csrf?: string | null } = {}) {
    return portalClient(suite.stack, { cookie: session.cookie, csrf: session.view.csrf_token })(method, path, options);
  }

  /** The page's visible text. */
  const pageText = (page: Page) => page.locator('body').innerText();

  /** Nothing that looks like a server error leaked onto the page: no stack frames, file paths or raw error names. */
  function expectNoStackTrace(text: string) {
    expect(text).not.toMatch(/\bat \S+ \(|\bat (file|node):|node_modules|\.(ts|js):\d+|\b(TypeError|ReferenceError|SyntaxError|Error):|Internal Server Error/);
  }

  /** A clean page: no console errors, CSP violations, dialogs or network failures; HTTP errors only as listed. */
  function expectCleanPage(problems: PageProblems, allowedHttpErrors: RegExp[] = []) {
    expect(problems.consoleErrors).toEqual([]);
    expect(problems.cspViolations).toEqual([]);
    expect(problems.dialogs).toEqual([]);
    expect(problems.failedRequests).toEqual([]);
    expect(problems.httpErrors.filter((line) => !allowedHttpErrors.some((allowed) => allowed.test(line)))).toEqual([]);
  }

  /** Opens a link in a fresh browser context and expects the bad-link page with the server's message. */
  async function expectBadLinkPage(url: string, message: RegExp, screenshot: string) {
    const { page, context, problems } = await newPortalPage(browser, { width: 1280 });
    await page.goto(url);
    await expect(page.getByRole('heading', { level: 1, name: 'This link cannot be used' }).waitFor()).resolves.toBeUndefined();
    const text = await pageText(page);
    expect(text).toMatch(message);
    expectNoStackTrace(text);
    // The token left the address bar (and history) even though it failed.
    expect(new URL(page.url()).hash).toBe('');
    // No session cookie was set.
    expect((await context.cookies()).filter((cookie) => cookie.name === 'herald_portal')).toEqual([]);
    await saveScreenshot(page, screenshot);
    expectCleanPage(problems, [/^401 POST .*\/portal\/session$/]);
    await context.close();
  }

  it('a reused link shows "This link cannot be used" with the server\'s message and no stack trace', async () => {
    const { url, token } = await portalLink(suite.tenant);
    // The first use opens the portal.
    const first = await newPortalPage(browser, { width: 1280 });
    await first.page.goto(url);
    await first.page.getByRole('heading', { level: 1, name: 'Webhooks' }).waitFor();
    await first.context.close();
    // The same link again: refused, on the page and in the API.
    await expectBadLinkPage(url, /already been used/, 'security-link-reused');
    const again = await suite.call('POST', '/portal/session', { key: null, body: { token } });
    expect(again.status).toBe(401);
    expect(again.body.error.code).toBe('link_used');
  });

  it('an expired link shows "This link cannot be used" with the server\'s message and no stack trace', async () => {
    const { url, token } = await portalLink(suite.tenant, { expires_in: '1s' });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await expectBadLinkPage(url, /expired/, 'security-link-expired');
    const answer = await suite.call('POST', '/portal/session', { key: null, body: { token } });
    expect(answer.status).toBe(401);
    expect(answer.body.error.code).toBe('link_expired');
  });

  it('a tampered link shows "This link cannot be used" with the server\'s message and no stack trace', async () => {
    const { url, token } = await portalLink(suite.tenant);
    const last = token.at(-1)!;
    const tampered = token.slice(0, -1) + (last === 'A' ? 'B' : 'A');
    await expectBadLinkPage(url.replace(token, tampered), /not valid/, 'security-link-tampered');
    const answer = await suite.call('POST', '/portal/session', { key: null, body: { token: tampered } });
    expect(answer.status).toBe(401);
    expect(answer.body.error.code).toBe('link_invalid');
    // The tampering attempt did not burn the real link: it still opens the portal once.
    expect((await suite.call('POST', '/portal/session', { key: null, body: { token } })).status).toBe(200);
  });

  it("another tenant's ids answer 404 to a portal session, and nothing of theirs changes", async () => {
    const other = await createTenant(suite.call, { name: 'Other Corp' });
    const theirs = await createEndpoint(suite.call, other, { url: 'http://127.0.0.1:9/theirs', description: 'theirs' });
    const session = await openSession(suite.tenant);
    expect(session.view.tenant_id).toBe(suite.tenant.id);

    for (const path of [
      `/v1/tenants/${other.id}/endpoints`,
      `/v1/tenants/${other.id}/endpoints/${theirs.id}`,
      `/v1/tenants/${other.id}/deliveries`,
      `/v1/tenants/${suite.tenant.id}/endpoints/${theirs.id}`,
    ]) {
      const answer = await portalCall('GET', path, session);
      expect(answer.status, `GET ${path}`).toBe(404);
      expect(answer.body?.error?.code, `GET ${path}`).toBe('not_found');
    }
    const patch = await portalCall('PATCH', `/v1/tenants/${other.id}/endpoints/${theirs.id}`, session, { body: { description: 'mine now' } });
    expect(patch.status).toBe(404);
    const remove = await portalCall('DELETE', `/v1/tenants/${suite.tenant.id}/endpoints/${theirs.id}`, session);
    expect(remove.status).toBe(404);
    const after = await expectStatus(suite.call('GET', `/v1/tenants/${other.id}/endpoints/${theirs.id}`, { key: other.apiKey }), 200);
    expect(after.description).toBe('theirs');
  });

  it('a read-only session is refused every change with 403 read_only, and its page shows no change buttons', async () => {
    const mine = await createEndpoint(suite.call, suite.tenant, { url: 'http://127.0.0.1:9/read-only', description: 'before' });
    const session = await openSession(suite.tenant, { read_only: true });
    expect(session.view.read_only).toBe(true);
    const base = `/v1/tenants/${suite.tenant.id}`;
    const attempts: [string, string, unknown][] = [
      ['POST', `${base}/endpoints`, { url: 'http://127.0.0.1:9/new', event_types: ['*'] }],
      ['PATCH', `${base}/endpoints/${mine.id}`, { description: 'after' }],
      ['POST', `${base}/endpoints/${mine.id}/disable`, {}],
      ['POST', `${base}/endpoints/${mine.id}/rotate-secret`, {}],
      ['DELETE', `${base}/endpoints/${mine.id}`, undefined],
    ];
    for (const [method, path, body] of attempts) {
      const answer = await portalCall(method, path, session, { body });
      expect(answer.status, `${method} ${path}`).toBe(403);
      expect(answer.body?.error?.code, `${method} ${path}`).toBe('read_only');
    }
    // Reading still works, and nothing changed.
    const after = await portalCall('GET', `${base}/endpoints/${mine.id}`, session);
    expect(after.status).toBe(200);
    expect(after.body).toMatchObject({ description: 'before', active: true });

    // The page offers no change at all: no create, edit, test, (de)activate or delete controls.
    const { url } = await portalLink(suite.tenant, { read_only: true });
    const { page, context, problems } = await newPortalPage(browser, { width: 1280 });
    await page.goto(url);
    await page.getByRole('heading', { level: 1, name: 'Webhooks' }).waitFor();
    await page.getByText('http://127.0.0.1:9/read-only').first().waitFor();
    for (const name of ['Create webhook', 'Edit', 'Send test event', 'Deactivate', 'Activate', 'Delete', 'Re-enable']) {
      await expect(page.getByRole('button', { name, exact: true }).count(), `button ${name}`).resolves.toBe(0);
      await expect(page.getByRole('link', { name, exact: true }).count(), `link ${name}`).resolves.toBe(0);
    }
    // Reading stays possible.
    await expect(page.getByRole('link', { name: 'View logs' }).count()).resolves.toBeGreaterThan(0);
    await saveScreenshot(page, 'security-read-only');
    expectCleanPage(problems);
    await context.close();
  });

  it('a state-changing request with the cookie but without, or with a wrong, x-csrf-token answers 403 csrf_failed and changes nothing', async () => {
    const mine = await createEndpoint(suite.call, suite.tenant, { url: 'http://127.0.0.1:9/csrf', description: 'before' });
    const session = await openSession(suite.tenant);
    const base = `/v1/tenants/${suite.tenant.id}`;
    const countEndpoints = async () => (await expectStatus(suite.call('GET', `${base}/endpoints?limit=100`, { key: suite.tenant.apiKey }), 200)).data.length;
    const before = await countEndpoints();
    const wrong = `${session.view.csrf_token.slice(0, -2)}xx`;
    for (const csrf of [null, '', wrong, 'undefined']) {
      for (const [method, path, body] of [
        ['POST', `${base}/endpoints`, { url: 'http://127.0.0.1:9/forged', event_types: ['*'] }],
        ['PATCH', `${base}/endpoints/${mine.id}`, { description: 'forged' }],
        ['POST', `${base}/endpoints/${mine.id}/disable`, {}],
        ['DELETE', `${base}/endpoints/${mine.id}`, undefined],
      ] as [string, string, unknown][]) {
        const answer = await portalCall(method, path, session, { body, csrf });
        expect(answer.status, `${method} ${path} with x-csrf-token ${JSON.stringify(csrf)}`).toBe(403);
        expect(answer.body?.error?.code, `${method} ${path} with x-csrf-token ${JSON.stringify(csrf)}`).toBe('csrf_failed');
      }
    }
    expect(await countEndpoints()).toBe(before);
    const after = await expectStatus(suite.call('GET', `${base}/endpoints/${mine.id}`, { key: suite.tenant.apiKey }), 200);
    expect(after).toMatchObject({ description: 'before', active: true });
    // The session still works, with the right token.
    expect((await portalCall('GET', '/portal/session', session)).status).toBe(200);
    const patched = await portalCall('PATCH', `${base}/endpoints/${mine.id}`, session, { body: { description: 'with the token' } });
    expect(patched.status).toBe(200);
  });

  it('the session cookie is HttpOnly, SameSite=Strict, Path=/, not Secure in dev mode and Secure outside it', async () => {
    const { setCookie } = await openSession(suite.tenant);
    const attributes = setCookie
      .split(';')
      .slice(1)
      .map((part) => part.trim().toLowerCase());
    expect(attributes).toContain('httponly');
    expect(attributes).toContain('samesite=strict');
    expect(attributes).toContain('path=/');
    expect(attributes).not.toContain('secure');
    expect(attributes.some((attribute) => attribute.startsWith('domain='))).toBe(false);

    // The browser agrees, and page scripts cannot read it.
    const { url } = await portalLink(suite.tenant);
    const { page, context } = await newPortalPage(browser);
    await page.goto(url);
    await page.getByRole('heading', { level: 1, name: 'Webhooks' }).waitFor();
    const [cookie] = (await context.cookies()).filter((c) => c.name === 'herald_portal');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/', secure: false });
    expect(await page.evaluate('document.cookie')).not.toContain('herald_portal');
    await context.close();

    // Outside dev mode the same cookie is Secure (an API-only stack of its own: no worker, no portal pages needed).
    const production = await startTestStack({ worker: false, config: { HERALD_DEV_MODE: 'false' } });
    try {
      const call = apiClient(production);
      const tenant = await createTenant(call);
      const link = await expectStatus(call('POST', `/v1/tenants/${tenant.id}/portal-sessions`, { key: tenant.apiKey, body: {} }), 201);
      const token = new URLSearchParams(new URL(link.url).hash.slice(1)).get('token');
      const opened = await fetch(`${production.apiUrl}/portal/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
      expect(opened.status).toBe(200);
      const line = opened.headers.getSetCookie().find((value) => value.startsWith('herald_portal='));
      expect(line?.split(';').map((part) => part.trim().toLowerCase())).toEqual(expect.arrayContaining(['secure', 'httponly', 'samesite=strict', 'path=/']));
    } finally {
      await production.stop();
    }
  });

  it("the portal's pages and assets carry a Content-Security-Policy without 'unsafe-inline' scripts, frame-ancestors 'none' and nosniff", async () => {
    // The page (index.html at /portal/ and at any deep link) and every asset it loads.
    const html = await (await fetch(`${suite.stack.apiUrl}/portal/`)).text();
    const assets = [...html.matchAll(/(?:src|href)="(\/portal\/[^"]+)"/g)].map((match) => match[1]!);
    expect(assets).toEqual(expect.arrayContaining(['/portal/main.js', '/portal/styles.css']));
    for (const path of ['/portal/', '/portal/webhooks/some/deep/link', ...assets]) {
      const response = await fetch(`${suite.stack.apiUrl}${path}`);
      await response.arrayBuffer();
      expect(response.status, path).toBe(200);
      expect(response.headers.get('x-content-type-options'), path).toBe('nosniff');
      const csp = response.headers.get('content-security-policy');
      expect(csp, `${path} has a Content-Security-Policy`).toBeTruthy();
      const directives = new Map(
        csp!
          .split(';')
          .map((part) => part.trim().split(/\s+/))
          .filter((words) => words[0])
          .map(([name, ...values]) => [name!.toLowerCase(), values]),
      );
      // Scripts fall back from script-src(-elem) to default-src; neither may allow inline script.
      for (const name of ['script-src', 'script-src-elem', 'script-src-attr', 'default-src']) {
        expect(directives.get(name) ?? [], `${path} ${name}`).not.toContain("'unsafe-inline'");
        expect(directives.get(name) ?? [], `${path} ${name}`).not.toContain("'unsafe-eval'");
      }
      expect(directives.get('script-src') ?? directives.get('default-src'), `${path} script-src or default-src`).toBeDefined();
      expect(directives.get('frame-ancestors'), `${path} frame-ancestors`).toEqual(["'none'"]);
    }
    // The page runs under that policy without a single violation.
    const { url } = await portalLink(suite.tenant);
    const { page, context, problems } = await newPortalPage(browser, { width: 390 });
    await page.goto(url);
    await page.getByRole('heading', { level: 1, name: 'Webhooks' }).waitFor();
    await saveScreenshot(page, 'security-webhooks-390');
    expectCleanPage(problems);
    await context.close();
  });

  it('a receiver body of <img src=x onerror=alert(1)> shown after a test send is text: no dialog, no img element', async () => {
    const receiver = await suite.receivers.start(answer(200, xssBody, { 'content-type': 'text/html' }));
    await createEndpoint(suite.call, suite.tenant, { url: receiver.url, description: 'xss receiver' });
    const { url } = await portalLink(suite.tenant);
    const { page, context, problems } = await newPortalPage(browser, { width: 1280 });
    let dialogs = 0;
    page.on('dialog', () => void dialogs++);
    await page.goto(url);
    await page.getByRole('heading', { level: 1, name: 'Webhooks' }).waitFor();
    const row = page.getByRole('row').filter({ hasText: receiver.url });
    await row.getByRole('button', { name: 'Send test event' }).click();
    const result = page.getByRole('region', { name: 'Test result' });
    await result.getByText('HTTP 200').waitFor();
    await expect(result.innerText()).resolves.toContain(xssBody);
    await expect(pageText(page)).resolves.toContain(xssBody);
    await expect(page.locator('img[src="x"]').count()).resolves.toBe(0);
    await saveScreenshot(page, 'security-xss-test-result');
    expect(receiver.requests.length).toBeGreaterThan(0);
    expect(dialogs).toBe(0);
    expectCleanPage(problems);
    await context.close();
  });
});
