// Payload templates in the portal (issue 16, "The portal shows it") in Debian's Chromium against the real stack: the
// Edit webhook form's "Payload template" section previews a draft over a sample of the subscribed event type (its
// example payload from the catalog), shows the API's 422 for a template that does not compile next to the field, and
// saves a template the receiver then gets rendered. Screenshots in test-results/portal/ (gitignored).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core';
import { createEventType } from './helpers/api.js';
import { createEndpoint, expectStatus, publish, useDeliveryStack, waitForDeliveryStatus } from './helpers/deliveries.js';
import { launchBrowser, newPortalPage, saveScreenshot, type PageProblems } from './helpers/browser.js';
import { portalLink } from './helpers/portal.js';
import type { TestReceiver } from './helpers/receiver.js';

const uiTimeout = 15_000;
const eventType = 'v1.case.status_changed';
const goodTemplate = '{"text": "Case {{ data.case_id }} is {{ data.status }}"}';

describe('portal: payload templates in the Edit webhook form', { timeout: 120_000 }, () => {
  const suite = useDeliveryStack();
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let problems: PageProblems;
  let receiver: TestReceiver;
  let endpointId = '';

  beforeAll(async () => {
    // A type whose schema gives the catalog's example payload {case_id: "case_42", status: "open"}: the preview's sample.
    await createEventType(suite.call, eventType, {
      type: 'object',
      properties: { case_id: { type: 'string', examples: ['case_42'] }, status: { type: 'string', enum: ['open', 'closed'] } },
      required: ['case_id', 'status'],
    });
    receiver = await suite.receivers.start();
    const endpoint = await createEndpoint(suite.call, suite.tenant, { url: receiver.url, event_types: [eventType], retry_schedule: [] });
    endpointId = endpoint.id;
    browser = await launchBrowser();
    ({ page, context, problems } = await newPortalPage(browser, { width: 1280, height: 900 }));
    page.setDefaultTimeout(uiTimeout);
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
  });

  const heading = (name: string) => page.getByRole('heading', { level: 1, name, exact: true });
  const templateField = () => page.getByLabel('Template (Liquid)', { exact: true });
  const previewRegion = () => page.getByRole('region', { name: 'Template preview' });
  /** The text of the elements a control's aria-describedby names. */
  const description = async (control: Locator) => {
    const ids = ((await control.getAttribute('aria-describedby')) ?? '').split(/\s+/).filter(Boolean);
    const texts = await Promise.all(ids.map((id) => page.locator(`[id="${id}"]`).innerText()));
    return texts.join(' ');
  };
  const openEdit = async () => {
    await page.getByRole('row').filter({ hasText: receiver.url }).getByRole('link', { name: 'Edit' }).click();
    await heading('Edit webhook').waitFor();
  };

  it('enables a template on Edit and previews it over the catalog example of the subscribed type: headers and the rendered JSON as text', async () => {
    const link = await portalLink(suite.call, suite.tenant, { expires_in: '15m' });
    await page.goto(link.url);
    await heading('Webhooks').waitFor();
    await openEdit();

    const use = page.getByLabel('Use a payload template', { exact: true });
    await expect(use.isChecked()).resolves.toBe(false);
    await expect(templateField().count()).resolves.toBe(0);
    await use.check();
    await expect(page.getByLabel('Content type', { exact: true }).inputValue()).resolves.toBe('application/json');
    await expect(page.getByLabel('Fail on missing variables', { exact: true }).isChecked()).resolves.toBe(true);
    await templateField().fill(goodTemplate);

    await page.getByRole('button', { name: 'Preview', exact: true }).click();
    const region = previewRegion();
    const rendered = '{"text": "Case case_42 is open"}';
    // The body is a <pre> of text: the JSON shows verbatim, nothing of it is markup.
    await region.locator('pre', { hasText: rendered }).waitFor({ timeout: uiTimeout });
    await expect(region.locator('pre', { hasText: rendered }).innerText()).resolves.toBe(rendered);
    const text = await region.innerText();
    expect(text).toContain(`A sample ${eventType} event`);
    expect(text).toMatch(/content-type\s+application\/json/);
    expect(text).toMatch(/webhook-signature\s+v1,/);
    expect(receiver.requests).toHaveLength(0);
    await saveScreenshot(page, 'template-01-preview');
  });

  it("refuses a template that does not compile: the API's 422 shows next to the template field, and in the preview", async () => {
    const field = templateField();
    await field.fill('{{ data.case_id ');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => field.getAttribute('aria-invalid'), { timeout: uiTimeout }).toBe('true');
    const message = await description(field);
    expect(message).toMatch(/does not compile: line 1, column 1: output "\{\{ data\.case_id ?" not closed/);
    await heading('Edit webhook').waitFor();
    await page.getByRole('button', { name: 'Preview', exact: true }).click();
    await previewRegion().getByText(/Template \(Liquid\): does not compile: line 1, column 1/).waitFor({ timeout: uiTimeout });
    await saveScreenshot(page, 'template-02-422');
    // Nothing was saved.
    const stored = await expectStatus(suite.call('GET', `/v1/tenants/${suite.tenant.id}/endpoints/${endpointId}`, { key: suite.tenant.apiKey }), 200);
    expect(stored.template).toBeNull();
  });

  it('saves a good template, and an event published through the API reaches the receiver rendered', async () => {
    await templateField().fill(goodTemplate);
    await page.getByRole('button', { name: 'Save' }).click();
    await heading('Webhooks').waitFor();
    const stored = await expectStatus(suite.call('GET', `/v1/tenants/${suite.tenant.id}/endpoints/${endpointId}`, { key: suite.tenant.apiKey }), 200);
    expect(stored.template).toEqual({ engine: 'liquid', source: goodTemplate, content_type: 'application/json', strict_variables: true });

    const published = await publish(suite.call, suite.tenant, eventType, { case_id: 'case_7', status: 'closed' });
    const [received] = await receiver.waitForRequests(1, 20_000);
    expect(received!.body).toBe('{"text": "Case case_7 is closed"}');
    expect(received!.headers['content-type']).toBe('application/json');
    await waitForDeliveryStatus(suite.call, suite.tenant, published.deliveries[0].delivery_id, ['delivered'], 20_000);

    // Edit shows it saved, and the event previews by its id as it was sent.
    await openEdit();
    await expect(page.getByLabel('Use a payload template', { exact: true }).isChecked()).resolves.toBe(true);
    await expect(templateField().inputValue()).resolves.toBe(goodTemplate);
    await page.getByLabel('Event id (optional)').fill(published.event_id);
    await page.getByRole('button', { name: 'Preview', exact: true }).click();
    await previewRegion().locator('pre', { hasText: received!.body }).waitFor({ timeout: uiTimeout });
    await expect(previewRegion().innerText()).resolves.toContain(`Event ${published.event_id}`);
    await saveScreenshot(page, 'template-03-saved');

    expect(problems.consoleErrors).toEqual([]);
    expect(problems.cspViolations).toEqual([]);
    expect(problems.dialogs).toEqual([]);
    expect(problems.failedRequests).toEqual([]);
    // The two 422s were the only error answers.
    expect(problems.httpErrors.filter((line) => !/^422 (PATCH .*\/endpoints\/ep_\w+|POST .*\/template\/preview)$/.test(line))).toEqual([]);
  });
});
