// The webhook portal's whole flow (issue 15, /tmp/portal-contract.md) in Debian's Chromium against the real stack:
// a magic link, an endpoint created on a local receiver with its secret shown once, a test send, a published event
// delivered in Logs, a failing receiver watched live until Herald deactivates the endpoint, then Re-enable, Replay and
// Recover. Every page is saved as a screenshot in test-results/portal/ (gitignored).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { expectStatus, publish, useDeliveryStack, waitForDeliveryStatus } from './helpers/deliveries.js';
import { answer, type TestReceiver } from './helpers/receiver.js';
import { launchBrowser, newPortalPage, saveScreenshot, screenshotDir, type PageProblems } from './helpers/browser.js';

/** How long the UI may take to show what the server already knows: a poll (2-3 s) and a render, with slack. */
// Generous: the suite runs these next to other heavy tests on two cores.
const uiTimeout = 30_000;

describe('portal: the whole flow in a real browser', { timeout: 180_000 }, () => {
  const suite = useDeliveryStack();
  let browser: Browser;
  let page: Page;
  let context: BrowserContext;
  let problems: PageProblems;
  let receiver: TestReceiver;
  let secret = '';
  let deliveredId = '';
  let failedId = '';

  beforeAll(async () => {
    browser = await launchBrowser();
    ({ page, context, problems } = await newPortalPage(browser, { width: 1280, height: 900 }));
    page.setDefaultTimeout(uiTimeout);
    receiver = await suite.receivers.start(answer(200, 'ok', { 'content-type': 'text/plain', 'x-request-id': 'req-flow-test' }));
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
  });

  /** The endpoints table's row of the receiver. */
  const endpointRow = () => page.getByRole('row').filter({ hasText: receiver.url });
  /** The deliveries table's row of a delivery. */
  const deliveryRow = (id: string) => page.getByRole('row').filter({ has: page.getByText(id, { exact: true }) });
  /** A link of the portal's navigation (the Logs page also has a "Webhooks" breadcrumb). */
  const navLink = (name: string) => page.getByRole('navigation', { name: 'Portal' }).getByRole('link', { name, exact: true });
  const heading = (name: string) => page.getByRole('heading', { level: 1, name, exact: true });
  /** The text of the elements a control's aria-describedby names. */
  const description = async (control: Locator) => {
    const ids = ((await control.getAttribute('aria-describedby')) ?? '').split(/\s+/).filter(Boolean);
    const texts = await Promise.all(ids.map((id) => page.locator(`[id="${id}"]`).innerText()));
    return texts.join(' ');
  };
  /** A viewport-only screenshot (a modal dialog over the page). */
  const viewportScreenshot = async (name: string) => {
    mkdirSync(screenshotDir, { recursive: true });
    await page.screenshot({ path: join(screenshotDir, `${name}.png`) });
  };

  it('opens the magic link from POST /portal-sessions, drops the token from the address bar and shows "Webhooks"', async () => {
    const link = await expectStatus(suite.call('POST', `/v1/tenants/${suite.tenant.id}/portal-sessions`, { key: suite.tenant.apiKey, body: { expires_in: '15m' } }), 201);
    expect(link.url).toMatch(/\/portal\/#token=/);
    await page.goto(link.url);
    await heading('Webhooks').waitFor();
    expect(new URL(page.url()).hash).toBe('');
    await page.getByText('No webhooks yet.').waitFor();
    await expect(navLink('Webhooks').count()).resolves.toBe(1);
    await expect(navLink('Event catalog').count()).resolves.toBe(1);
    await expect(page.getByRole('button', { name: 'Sign out' }).count()).resolves.toBe(1);
    await saveScreenshot(page, 'flow-01-webhooks-empty');
  });

  it("creates an endpoint on a local receiver: the API's 422 shows next to its field, then the secret is shown once in a dialog and masked afterwards", async () => {
    await page.getByRole('button', { name: 'Create webhook' }).click();
    await heading('Create webhook').waitFor();
    // A URL the API refuses: its message appears next to the field, the field is marked invalid.
    const url = page.getByLabel('URL', { exact: true });
    await url.fill('ftp://example.com/hooks');
    await page.getByLabel('v1.case.completed').check();
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => url.getAttribute('aria-invalid'), { timeout: uiTimeout }).toBe('true');
    expect(await description(url)).toMatch(/http/i);
    await saveScreenshot(page, 'flow-02-create-webhook-422');

    await url.fill(receiver.url);
    await page.getByLabel('Description').fill('Case updates for the flow test');
    await page.getByLabel('Authentication header name').fill('Authorization');
    await page.getByLabel('Authentication header value').fill('Bearer flow-receiver-token');
    // Short retries and a low threshold, so the failing part below takes seconds.
    await page.getByLabel('Retry schedule').fill('3s, 3s, 3s');
    await page.getByLabel('Timeout (seconds)').fill('5');
    await page.getByLabel('Deactivate after failed attempts').fill('3');
    await expect(page.getByLabel('Signature profile').inputValue()).resolves.toBe('standard-webhooks');
    await expect(page.getByLabel('Envelope').inputValue()).resolves.toBe('herald');
    await saveScreenshot(page, 'flow-03-create-webhook');
    await page.getByRole('button', { name: 'Save' }).click();

    const dialog = page.getByRole('dialog', { name: 'Signing secret' });
    await dialog.waitFor({ timeout: uiTimeout });
    secret = await dialog.getByRole('textbox', { name: 'Signing secret' }).inputValue();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]{20,}$/);
    await expect(dialog.getByRole('button', { name: 'Copy' }).count()).resolves.toBe(1);
    await viewportScreenshot('flow-04-signing-secret');
    await dialog.getByRole('button', { name: 'Done' }).click();

    await heading('Webhooks').waitFor();
    const row = endpointRow();
    await row.waitFor({ timeout: uiTimeout });
    await expect(row.innerText()).resolves.toMatch(/Healthy/);
    await expect(row.innerText()).resolves.toMatch(/Active/);
    // Shown once: the full secret is nowhere on the page any more; the edit page shows it masked.
    await expect(page.locator('body').innerText()).resolves.not.toContain(secret);
    await row.getByRole('link', { name: 'Edit' }).click();
    await heading('Edit webhook').waitFor();
    await page.getByText(`whsec_****${secret.slice(-4)}`).waitFor({ timeout: uiTimeout });
    await expect(page.locator('body').innerText()).resolves.not.toContain(secret);
    // The authentication header is masked too: its value is never sent back to the page.
    await expect(page.getByLabel('Authentication header value').inputValue()).resolves.toBe('');
    await expect(page.locator('body').innerText()).resolves.not.toContain('flow-receiver-token');
    await saveScreenshot(page, 'flow-05-edit-webhook');
    await navLink('Webhooks').click();
    await heading('Webhooks').waitFor();
  });

  it('sends a test event and shows "HTTP 200", the duration, the response headers and the body in "Test result"', async () => {
    const before = receiver.requests.length;
    await endpointRow().getByRole('button', { name: 'Send test event' }).click();
    const result = page.getByRole('region', { name: 'Test result' });
    await result.getByText('HTTP 200').waitFor({ timeout: uiTimeout });
    const text = await result.innerText();
    expect(text).toMatch(/\d+ ms/);
    expect(text).toMatch(/x-request-id\s+req-flow-test/);
    expect(text).toContain('ok');
    expect(receiver.requests.length).toBe(before + 1);
    expect(receiver.requests.at(-1)!.body).toContain('v1.webhook.test');
    expect(receiver.requests.at(-1)!.headers.authorization).toBe('Bearer flow-receiver-token');
    await saveScreenshot(page, 'flow-06-test-result');
  });

  it('shows an event published through the API as delivered in Logs, with its attempts and the request as sent', async () => {
    const published = await publish(suite.call, suite.tenant, 'v1.case.completed', { case_id: 'case_flow_1', status: 'completed' });
    deliveredId = published.deliveries[0].delivery_id;
    await endpointRow().getByRole('link', { name: 'View logs' }).click();
    await heading('Logs').waitFor();
    const row = deliveryRow(deliveredId);
    await row.getByText('Delivered').waitFor({ timeout: uiTimeout });
    await row.getByRole('button', { name: 'Details' }).click();
    const details = page.getByRole('row').filter({ hasText: `Delivery ${deliveredId}` });
    await details.getByRole('cell', { name: '200', exact: true }).waitFor({ timeout: uiTimeout });
    await details.getByRole('heading', { name: 'Request as sent' }).waitFor();
    // The request as sent: the signature headers and the body with the event.
    await details.getByText('webhook-signature').first().waitFor({ timeout: uiTimeout });
    await details.getByText(published.event_id).first().waitFor();
    await expect(details.innerText()).resolves.toContain('case_flow_1');
    await saveScreenshot(page, 'flow-07-logs-delivered');
  });

  it('watches a delivery retry live while the receiver fails, then the health turns red and Herald deactivates the endpoint with a banner and a notice', async () => {
    receiver.respondWith(answer(500, 'receiver is down'));
    const published = await publish(suite.call, suite.tenant, 'v1.case.completed', { case_id: 'case_flow_2', status: 'completed' });
    failedId = published.deliveries[0].delivery_id;

    // Live, without a reload: the new delivery appears, retrying, and its details count the attempts up.
    const row = deliveryRow(failedId);
    await row.getByText('Retrying').waitFor({ timeout: uiTimeout });
    await row.getByRole('button', { name: 'Details' }).click();
    const details = page.getByRole('row').filter({ hasText: `Delivery ${failedId}` });
    await details.getByText('Next retry').waitFor({ timeout: uiTimeout });
    await details.getByText('HTTP 500').first().waitFor({ timeout: uiTimeout });
    await expect.poll(async () => details.getByRole('row').count(), { timeout: uiTimeout }).toBeGreaterThanOrEqual(3); // header + 2 attempts
    await saveScreenshot(page, 'flow-08-logs-retrying');

    // The notice arrives on whatever page is open; then the Webhooks page shows the endpoint disabled.
    const notices = page.getByRole('status').filter({ hasText: 'was deactivated' });
    await notices.first().waitFor({ timeout: 45_000 });
    await navLink('Webhooks').click();
    await heading('Webhooks').waitFor();
    const endpoint = endpointRow();
    await expect.poll(() => endpoint.innerText(), { timeout: uiTimeout }).toMatch(/Disabled/);
    await expect(endpoint.innerText()).resolves.toMatch(/Inactive/);
    await expect(endpoint.locator('.health-disabled').count()).resolves.toBe(1);
    const banner = page.getByRole('alert').filter({ hasText: receiver.url });
    await banner.waitFor({ timeout: uiTimeout });
    const bannerText = await banner.innerText();
    expect(bannerText).toContain('was deactivated');
    expect(bannerText).toMatch(/consecutive failed attempts/);
    expect(bannerText).toMatch(/\d{1,2}:\d{2}/);
    await saveScreenshot(page, 'flow-09-webhooks-deactivated');
  });

  it('re-enables the endpoint from the banner, replays the failed delivery and shows the replay delivered; Recover failed since… shows its progress bar', async () => {
    // The delivery stops at its next attempt, failed (endpoint disabled); the page says so without a reload.
    await waitForDeliveryStatus(suite.call, suite.tenant, failedId, ['failed'], 20_000);
    await page.getByRole('status').filter({ hasText: `Delivery ${failedId} failed` }).waitFor();
    receiver.respondWith(answer(200, 'ok'));
    await page.getByRole('alert').filter({ hasText: receiver.url }).getByRole('button', { name: 'Re-enable' }).click();
    await page.getByRole('alert').filter({ hasText: receiver.url }).waitFor({ state: 'detached', timeout: uiTimeout });
    await expect.poll(() => endpointRow().innerText(), { timeout: uiTimeout }).toMatch(/Active/);

    await endpointRow().getByRole('link', { name: 'View logs' }).click();
    await heading('Logs').waitFor();
    const failed = deliveryRow(failedId);
    await failed.getByText('Failed').waitFor({ timeout: 45_000 });
    await failed.getByRole('button', { name: 'Replay' }).click();
    const started = page.getByText(new RegExp(`Replay of ${failedId} started as delivery (whd_\\w+)`));
    await started.waitFor({ timeout: uiTimeout });
    const replayId = /as delivery (whd_\w+)/.exec(await started.innerText())![1]!;
    await deliveryRow(replayId).getByText('Delivered').waitFor({ timeout: uiTimeout });
    await saveScreenshot(page, 'flow-10-logs-replayed');

    // Recover failed since…: a form, then a progress bar fed by the recovery's progress.
    await page.getByRole('button', { name: 'Recover failed since…' }).click();
    await page.getByLabel('Since').waitFor();
    await page.getByRole('button', { name: 'Start recovery' }).click();
    const progress = page.getByRole('progressbar');
    await progress.waitFor({ timeout: uiTimeout });
    await page.getByText('Recovery finished').waitFor({ timeout: 45_000 });
    await expect(progress.getAttribute('value')).resolves.toBe(await progress.getAttribute('max'));
    await saveScreenshot(page, 'flow-11-logs-recovered');
  });

  it('deactivates, activates and deletes through confirmation dialogs (focus trapped, Escape cancels), shows the event catalog, and fits a 390 px screen', async () => {
    await navLink('Webhooks').click();
    await heading('Webhooks').waitFor();
    // Deactivate, cancelled with Escape: nothing changes and focus comes back.
    await endpointRow().getByRole('button', { name: 'Deactivate' }).click();
    const confirm = page.getByRole('dialog');
    await confirm.getByRole('button', { name: 'Confirm' }).waitFor();
    await expect(confirm.getByRole('button', { name: 'Cancel' }).count()).resolves.toBe(1);
    await viewportScreenshot('flow-12-confirm-deactivate');
    // Focus starts in the dialog and Tab keeps it there.
    for (let press = 0; press < 4; press++) {
      await expect(page.evaluate("document.querySelector('dialog[open]').contains(document.activeElement)")).resolves.toBe(true);
      await page.keyboard.press('Tab');
    }
    await page.keyboard.press('Escape');
    await confirm.waitFor({ state: 'detached' });
    await expect(page.evaluate('document.activeElement.textContent')).resolves.toBe('Deactivate');
    await expect(endpointRow().innerText()).resolves.toMatch(/Active/);
    // Deactivate, confirmed: Inactive, and no banner (a person did it, not Herald).
    await endpointRow().getByRole('button', { name: 'Deactivate' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(() => endpointRow().innerText(), { timeout: uiTimeout }).toMatch(/Inactive/);
    await expect(page.getByRole('alert').filter({ hasText: receiver.url }).count()).resolves.toBe(0);
    await endpointRow().getByRole('button', { name: 'Activate' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await expect.poll(() => endpointRow().innerText(), { timeout: uiTimeout }).toMatch(/\bActive/);

    // The event catalog: the type, its description, its JSON schema and an example payload.
    await navLink('Event catalog').click();
    await heading('Event catalog').waitFor();
    const card = page.getByRole('article', { name: 'v1.case.completed' });
    await card.waitFor({ timeout: uiTimeout });
    await card.getByText('JSON schema').waitFor();
    await card.getByText('Example payload').waitFor();
    await saveScreenshot(page, 'flow-13-event-catalog');

    // A phone's width (390 px): the same pages, nothing wider than the screen.
    await page.setViewportSize({ width: 390, height: 844 });
    await navLink('Webhooks').click();
    await heading('Webhooks').waitFor();
    await endpointRow().waitFor();
    await expect(page.evaluate('document.documentElement.scrollWidth')).resolves.toBeLessThanOrEqual(390);
    await saveScreenshot(page, 'flow-14-webhooks-390');
    await endpointRow().getByRole('link', { name: 'View logs' }).click();
    await heading('Logs').waitFor();
    await deliveryRow(deliveredId).getByRole('button', { name: 'Details' }).click();
    await page.getByRole('heading', { name: 'Request as sent' }).waitFor();
    await expect(page.evaluate('document.documentElement.scrollWidth')).resolves.toBeLessThanOrEqual(390);
    await saveScreenshot(page, 'flow-15-logs-390');
    await page.setViewportSize({ width: 1280, height: 900 });

    // Delete, confirmed: the row is gone.
    await navLink('Webhooks').click();
    await heading('Webhooks').waitFor();
    await endpointRow().getByRole('button', { name: 'Delete' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await endpointRow().waitFor({ state: 'detached', timeout: uiTimeout });

    // Nothing went wrong on the page along the way: the 422 was the only error answer.
    expect(problems.consoleErrors).toEqual([]);
    expect(problems.cspViolations).toEqual([]);
    expect(problems.dialogs).toEqual([]);
    expect(problems.failedRequests).toEqual([]);
    expect(problems.httpErrors.filter((line) => !/^422 POST .*\/endpoints$/.test(line))).toEqual([]);
  });
});
