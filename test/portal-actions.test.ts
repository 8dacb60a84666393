// Two portal actions the whole-flow test does not take, in Debian's Chromium against the real stack: rotating the
// signing secret with a grace period (the new secret shown once, both secrets signing during the grace), and
// "Retry now" on a delivery waiting an hour for its next attempt.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { Webhook } from 'standardwebhooks';
import { createEndpoint, publish, useDeliveryStack, waitForDeliveryStatus } from './helpers/deliveries.js';
import { answer } from './helpers/receiver.js';
import { launchBrowser, newPortalPage, saveScreenshot, type PageProblems } from './helpers/browser.js';
import { portalLink } from './helpers/portal.js';

const uiTimeout = 30_000;

describe('portal actions: rotate secret, retry now', { timeout: 120_000 }, () => {
  const suite = useDeliveryStack();
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: PageProblems;

  beforeAll(async () => {
    browser = await launchBrowser();
    ({ page, context, problems } = await newPortalPage(browser, { width: 1280, height: 900 }));
    page.setDefaultTimeout(uiTimeout);
    await page.goto((await portalLink(suite.call, suite.tenant)).url);
    await page.getByRole('heading', { level: 1, name: 'Webhooks' }).waitFor();
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
  });

  it('rotates the secret with a 1h grace: the new one is shown once, and deliveries are signed with both until the grace ends', async () => {
    const receiver = await suite.receivers.start(answer(200));
    const endpoint = await createEndpoint(suite.call, suite.tenant, { url: receiver.url, event_types: ['v1.case.completed'] });
    await page.goto(new URL(`/portal/webhooks/${endpoint.id}/edit`, suite.stack.apiUrl).href);
    await page.getByRole('heading', { level: 1, name: 'Edit webhook' }).waitFor();
    await page.getByLabel('Grace period').fill('1h');
    await page.getByRole('button', { name: 'Rotate secret' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    const shown = page.getByRole('dialog').getByRole('textbox', { name: 'Signing secret' });
    const rotated = await shown.inputValue();
    expect(rotated).toMatch(/^whsec_/);
    expect(rotated).not.toBe(endpoint.secret);
    await saveScreenshot(page, 'actions-01-rotated-secret');
    await page.getByRole('dialog').getByRole('button', { name: 'Done' }).click();
    // Masked from then on.
    await page.getByText(`whsec_****${rotated.slice(-4)}`).waitFor();
    expect(await page.locator('body').innerText()).not.toContain(rotated);

    const published = await publish(suite.call, suite.tenant, 'v1.case.completed', { case: 'rotated' });
    await waitForDeliveryStatus(suite.call, suite.tenant, published.deliveries[0].delivery_id, ['delivered']);
    const [request] = await receiver.waitForRequests(1);
    const headers = request!.headers as Record<string, string>;
    // Both secrets verify it: receivers can switch at their own pace within the grace.
    for (const secret of [endpoint.secret, rotated]) expect(() => new Webhook(secret).verify(request!.body, headers)).not.toThrow();
    expect(problems.consoleErrors).toEqual([]);
  });

  it('"Retry now" sends a delivery waiting an hour for its retry at once, and the row turns Delivered', async () => {
    const receiver = await suite.receivers.start(answer(500, 'down'));
    const endpoint = await createEndpoint(suite.call, suite.tenant, { url: receiver.url, event_types: ['v1.case.completed'], retry_schedule: ['1h'] });
    const published = await publish(suite.call, suite.tenant, 'v1.case.completed', { case: 'retry now' });
    const deliveryId = published.deliveries.find((delivery: { endpoint_id: string }) => delivery.endpoint_id === endpoint.id).delivery_id as string;
    await waitForDeliveryStatus(suite.call, suite.tenant, deliveryId, ['retrying']);
    receiver.respondWith(answer(200, 'ok'));

    await page.goto(new URL(`/portal/webhooks/${endpoint.id}/logs`, suite.stack.apiUrl).href);
    await page.getByRole('heading', { level: 1, name: 'Logs' }).waitFor();
    const row = page.getByRole('row').filter({ has: page.getByText(deliveryId, { exact: true }) });
    await row.getByText('Retrying').waitFor();
    await row.getByRole('button', { name: 'Retry now' }).click();
    await row.getByText('Delivered').waitFor();
    await saveScreenshot(page, 'actions-02-retried-now');
    expect(await waitForDeliveryStatus(suite.call, suite.tenant, deliveryId, ['delivered'], 5_000)).toMatchObject({ attempts: 2 });
    expect(receiver.requests).toHaveLength(2);
    expect(problems.consoleErrors).toEqual([]);
  });
});
