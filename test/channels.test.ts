import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEndpoint, eventually, expectStatus, publish, useDeliveryStack } from './helpers/deliveries.js';
import { answer } from './helpers/receiver.js';
import { slackContract } from './helpers/slack-receiver.js';
import { startSmtpServer, type TestSmtpServer } from './helpers/smtp.js';
import { runHeraldCli } from './helpers/run-node.js';
import { publishOperationalEvent } from '../src/core/publish.js';
import { sweepChannelWindows } from '../src/core/channels.js';
import { startSmtpCatcher } from '../src/stack/smtp-catcher.js';
import nodemailer from 'nodemailer';

/**
 * Notification channels (issue 16): email and Slack destinations for Herald's operational notices, each message sent by
 * its own Temporal workflow with retries and an attempt log, at most one per endpoint and kind per digest window.
 * On the real stack: a real SMTP server (smtp-server, parsed with mailparser) and a receiver enforcing Slack's contract.
 */

const windowMs = 4000;
const config: Record<string, string> = { HERALD_CHANNEL_DIGEST_WINDOW_MS: String(windowMs), HERALD_EMAIL_FROM: 'Herald Alerts <alerts@herald.test>', HERALD_PUBLIC_URL: 'https://herald.example.com' };
let smtp: TestSmtpServer;
beforeAll(async () => {
  smtp = await startSmtpServer();
  config.HERALD_SMTP_URL = smtp.url;
});
afterAll(async () => {
  await smtp?.close();
});

const suite = useDeliveryStack({ config });
const channelsPath = () => `/v1/tenants/${suite.tenant.id}/channels`;
const createChannel = (body: Record<string, unknown>) => expectStatus(suite.call('POST', channelsPath(), { key: suite.tenant.apiKey, body }), 201);
const messagesOf = async (channelId: string) => (await expectStatus(suite.call('GET', `${channelsPath()}/${channelId}/messages`, { key: suite.tenant.apiKey }), 200)).data as any[];
const mailsTo = (address: string) => smtp.mails.filter((mail) => mail.envelope.to.includes(address));

/** Waits until the start of a digest window (plus a margin), so what a test publishes next falls in one window. */
async function startOfWindow() {
  const into = Date.now() % windowMs;
  if (into > 200) await new Promise((resolve) => setTimeout(resolve, windowMs - into + 200));
}

describe('channels API', () => {
  it('creates, lists, gets, patches and deletes channels; Slack URLs are encrypted at rest and masked', async () => {
    const { call, tenant, stack } = suite;
    const slackUrl = 'https://hooks.slack.com/services/T000/B000/secretpart1234';
    const slack = await createChannel({ type: 'slack', webhook_url: slackUrl, description: 'ops room' });
    expect(slack).toMatchObject({ type: 'slack', description: 'ops room', active: true, to: null, webhook_url: 'https://hooks.slack.com/****1234' });
    expect(slack.events).toEqual(['v1.webhook.delivery_failed', 'v1.endpoint.disabled', 'v1.endpoint.enabled', 'v1.endpoint.recovery_finished']);
    const [stored] = await stack.sql<{ slack_webhook_url: Buffer }[]>`select slack_webhook_url from channels where id = ${slack.id}`;
    expect(stored!.slack_webhook_url.toString('latin1')).not.toContain('secretpart');

    const email = await createChannel({ type: 'email', to: ['oncall@example.com'], events: ['v1.endpoint.disabled', 'v1.case.completed'] });
    expect(email).toMatchObject({ type: 'email', to: ['oncall@example.com'], webhook_url: null, events: ['v1.endpoint.disabled', 'v1.case.completed'] });

    const listed = await expectStatus(call('GET', channelsPath(), { key: tenant.apiKey }), 200);
    expect(listed.data.map((channel: any) => channel.id)).toEqual(expect.arrayContaining([slack.id, email.id]));
    expect(JSON.stringify(listed)).not.toContain('secretpart');

    const patched = await expectStatus(call('PATCH', `${channelsPath()}/${slack.id}`, { key: tenant.apiKey, body: { events: ['v1.endpoint.enabled'], active: false } }), 200);
    expect(patched).toMatchObject({ events: ['v1.endpoint.enabled'], active: false, webhook_url: 'https://hooks.slack.com/****1234' });
    expect(await expectStatus(call('GET', `${channelsPath()}/${slack.id}`, { key: tenant.apiKey }), 200)).toMatchObject({ active: false });

    await expectStatus(call('DELETE', `${channelsPath()}/${slack.id}`, { key: tenant.apiKey }), 204);
    await expectStatus(call('DELETE', `${channelsPath()}/${email.id}`, { key: tenant.apiKey }), 204);
    await expectStatus(call('GET', `${channelsPath()}/${slack.id}`, { key: tenant.apiKey }), 404);
  });

  it('refuses what cannot work, naming the field', async () => {
    const { call, tenant } = suite;
    const refused = async (body: unknown) => (await expectStatus(call('POST', channelsPath(), { key: tenant.apiKey, body }), 422)).error;
    expect(JSON.stringify(await refused({ type: 'email', to: [] }))).toContain('to');
    expect(JSON.stringify(await refused({ type: 'email', to: ['not an address'] }))).toContain('to');
    expect(JSON.stringify(await refused({ type: 'slack', webhook_url: 'ftp://example.com/x' }))).toContain('webhook_url');
    expect(JSON.stringify(await refused({ type: 'slack', webhook_url: 'https://hooks.slack.com/x', events: ['v9.not.there'] }))).toContain('unknown_event_type');
    expect(JSON.stringify(await refused({ type: 'slack', webhook_url: 'https://hooks.slack.com/x', to: ['a@example.com'] }))).toContain('to');
    expect(JSON.stringify(await refused({ type: 'pigeon' }))).toContain('type');
  });

  it('is in the OpenAPI document', async () => {
    const document = await expectStatus(suite.call('GET', '/openapi.json', { key: null }), 200);
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining([
        '/v1/tenants/{tenant_id}/channels',
        '/v1/tenants/{tenant_id}/channels/{channel_id}',
        '/v1/tenants/{tenant_id}/channels/{channel_id}/test',
        '/v1/tenants/{tenant_id}/channels/{channel_id}/messages',
      ]),
    );
  });
});

describe('email channels', () => {
  it('an endpoint disabled after failures is one email with a text and an HTML part: the endpoint, the reason, the last errors and the portal link', async () => {
    const { call, tenant, receivers } = suite;
    const failing = await receivers.start(answer(500, 'receiver down'));
    const endpoint = await createEndpoint(call, tenant, { url: failing.url, event_types: ['v1.case.completed'], retry_schedule: [], disable_after_failures: 1, description: 'billing' });
    const channel = await createChannel({ type: 'email', to: ['oncall@example.com', 'lead@example.com'], events: ['v1.endpoint.disabled'] });
    await publish(call, tenant, 'v1.case.completed', { case_id: 'c1' });

    const [mail] = await eventually(async () => (mailsTo('oncall@example.com').length > 0 ? mailsTo('oncall@example.com') : undefined), 30_000, 'the email');
    expect(mail!.envelope).toEqual({ from: 'alerts@herald.test', to: ['oncall@example.com', 'lead@example.com'] });
    const parsed = mail!.parsed;
    expect(parsed.from?.value).toEqual([{ name: 'Herald Alerts', address: 'alerts@herald.test' }]);
    expect(parsed.to && !Array.isArray(parsed.to) ? parsed.to.value.map((to) => to.address) : []).toEqual(['oncall@example.com', 'lead@example.com']);
    expect(parsed.subject).toBe(`[Herald] Endpoint disabled: ${failing.url} (billing)`);
    expect(parsed.headers.get('x-herald-channel')).toBe(channel.id);
    const portal = `https://herald.example.com/portal/webhooks/${endpoint.id}/logs`;
    for (const part of [parsed.text!, parsed.html as string]) {
      expect(part).toContain(failing.url);
      expect(part).toContain(endpoint.id);
      expect(part).toContain('consecutive_failures');
      expect(part).toContain('HTTP 500');
      expect(part).toContain(portal);
    }
    expect(parsed.text).toContain('Last errors:');
    expect(parsed.html).toContain(`<a href="${portal}">`);

    // The attempt log: one message, sent at the first attempt, by its own workflow.
    const [message] = await eventually(async () => {
      const messages = await messagesOf(channel.id);
      return messages[0]?.status === 'sent' ? messages : undefined;
    });
    expect(message).toMatchObject({ kind: 'v1.endpoint.disabled', endpoint_id: endpoint.id, occurrences: 1, attempts: 1, subject: parsed.subject, workflow_id: expect.stringMatching(/^channel-chn_/) });
    expect(message.attempt_log).toEqual([expect.objectContaining({ attempt: 1, success: true, error: null })]);
    // The row says sent once the send activity recorded it; the workflow completes just after.
    const handle = suite.stack.temporal.workflow.getHandle(message.workflow_id);
    await handle.result();
    const described = await handle.describe();
    expect(described.status.name).toBe('COMPLETED');
    expect(await described.staticSummary()).toBe(`email notice of v1.endpoint.disabled for ${endpoint.id} (Acme)`);
  });

  it('a storm of failed deliveries of one endpoint is one email with a count, not one per delivery', async () => {
    const { call, tenant, receivers } = suite;
    const failing = await receivers.start(answer(503));
    const endpoint = await createEndpoint(call, tenant, { url: failing.url, event_types: ['v1.case.completed'], retry_schedule: [], disable_after_failures: 1000 });
    const channel = await createChannel({ type: 'email', to: ['storm@example.com'], events: ['v1.webhook.delivery_failed'] });
    await startOfWindow();
    await Promise.all(Array.from({ length: 8 }, (_, index) => publish(call, tenant, 'v1.case.completed', { case_id: `storm-${index}` })));
    await failing.waitForRequests(8);

    const messages = await eventually(async () => {
      const listed = await messagesOf(channel.id);
      const sum = listed.reduce((total, message) => total + (message.status === 'sent' ? message.occurrences : 0), 0);
      return sum === 8 ? listed : undefined;
    }, 30_000, 'eight failures announced');
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ endpoint_id: endpoint.id, occurrences: 8, subject: `[Herald] 8 deliveries failed after their retries: ${failing.url}` });
    const mails = mailsTo('storm@example.com');
    expect(mails).toHaveLength(1);
    expect(mails[0]!.parsed.text).toContain('8 occurrences between');
    expect(mails[0]!.parsed.text?.match(/failed after 1 attempts/g)).toHaveLength(8);
  });

  it('an SMTP server that says "try later" gets the message again; each try is in the attempt log', async () => {
    const { call, tenant } = suite;
    const channel = await createChannel({ type: 'email', to: ['retry@example.com'], events: ['v1.endpoint.enabled'] });
    const endpoint = await createEndpoint(call, tenant, { url: 'http://127.0.0.1:9/never', event_types: ['v1.case.completed'] });
    await expectStatus(call('POST', `/v1/tenants/${tenant.id}/endpoints/${endpoint.id}/disable`, { key: tenant.apiKey, body: {} }), 200);
    smtp.failNext('retry@example.com', 1, 451);
    await expectStatus(call('POST', `/v1/tenants/${tenant.id}/endpoints/${endpoint.id}/enable`, { key: tenant.apiKey }), 200);

    const [message] = await eventually(async () => {
      const messages = await messagesOf(channel.id);
      return messages[0]?.status === 'sent' ? messages : undefined;
    }, 40_000, 'the message sent on its second try');
    expect(message.attempt_log).toEqual([
      expect.objectContaining({ attempt: 1, success: false, status_code: 451 }),
      expect.objectContaining({ attempt: 2, success: true }),
    ]);
    expect(mailsTo('retry@example.com')).toHaveLength(1);
    expect(mailsTo('retry@example.com')[0]!.parsed.subject).toContain('Endpoint re-enabled');
  });

  it('POST …/test sends a test email now', async () => {
    const channel = await createChannel({ type: 'email', to: ['test@example.com'] });
    const result = await expectStatus(suite.call('POST', `${channelsPath()}/${channel.id}/test`, { key: suite.tenant.apiKey }), 200);
    expect(result).toMatchObject({ success: true, error: null });
    expect(mailsTo('test@example.com').map((mail) => mail.parsed.subject)).toEqual(['[Herald] Test notification']);
  });
});

describe('Slack channels', () => {
  it("posts Block Kit messages Slack's contract accepts: disabled, then re-enabled", async () => {
    const { call, tenant, receivers } = suite;
    const slack = await receivers.start(slackContract());
    const channel = await createChannel({ type: 'slack', webhook_url: slack.url, events: ['v1.endpoint.disabled', 'v1.endpoint.enabled'] });
    const endpoint = await createEndpoint(call, tenant, { url: 'http://127.0.0.1:9/never', event_types: ['v1.case.completed'] });
    await expectStatus(call('POST', `/v1/tenants/${tenant.id}/endpoints/${endpoint.id}/disable`, { key: tenant.apiKey, body: { reason: 'maintenance' } }), 200);
    await expectStatus(call('POST', `/v1/tenants/${tenant.id}/endpoints/${endpoint.id}/enable`, { key: tenant.apiKey }), 200);

    const requests = await slack.waitForRequests(2, 30_000);
    const bodies = requests.map((request) => JSON.parse(request.body));
    const disabled = bodies.find((body) => body.text.includes('Endpoint disabled'))!;
    expect(disabled.text).toBe('Herald: Endpoint disabled: http://127.0.0.1:9/never');
    expect(disabled.blocks[0]).toEqual({ type: 'header', text: { type: 'plain_text', text: 'Endpoint disabled' } });
    expect(JSON.stringify(disabled.blocks)).toContain('maintenance');
    expect(disabled.blocks.at(-1)).toMatchObject({ type: 'actions', elements: [{ type: 'button', url: `https://herald.example.com/portal/webhooks/${endpoint.id}/logs` }] });
    expect(bodies.some((body) => body.text.includes('Endpoint re-enabled'))).toBe(true);

    const messages = await eventually(async () => {
      const listed = await messagesOf(channel.id);
      return listed.length === 2 && listed.every((message) => message.status === 'sent') ? listed : undefined;
    });
    expect(messages.map((message) => message.attempt_log)).toEqual([
      [expect.objectContaining({ attempt: 1, success: true, status_code: 200, response: 'ok' })],
      [expect.objectContaining({ attempt: 1, success: true, status_code: 200, response: 'ok' })],
    ]);
  });

  it('a Slack webhook that is gone (404 channel_not_found) is not retried: the message fails, its workflow closes Failed', async () => {
    const { call, tenant, receivers } = suite;
    const gone = await receivers.start(answer(404, 'channel_not_found'));
    const channel = await createChannel({ type: 'slack', webhook_url: gone.url, events: ['v1.endpoint.disabled'] });
    const endpoint = await createEndpoint(call, tenant, { url: 'http://127.0.0.1:9/never', event_types: ['v1.case.completed'] });
    await expectStatus(call('POST', `/v1/tenants/${tenant.id}/endpoints/${endpoint.id}/disable`, { key: tenant.apiKey, body: {} }), 200);
    const [message] = await eventually(async () => {
      const listed = await messagesOf(channel.id);
      return listed[0]?.status === 'failed' ? listed : undefined;
    });
    expect(message).toMatchObject({ attempts: 1, last_error: 'Slack answered 404: channel_not_found' });
    const described = await eventually(async () => {
      const description = await suite.stack.temporal.workflow.getHandle(message.workflow_id).describe();
      return description.status.name === 'RUNNING' ? undefined : description;
    });
    expect(described.status.name).toBe('FAILED');
  });

  it("carries the tenant's own event types when asked, and POST …/test posts a test message", async () => {
    const { call, tenant, receivers } = suite;
    const slack = await receivers.start(slackContract());
    const channel = await createChannel({ type: 'slack', webhook_url: slack.url, events: ['v1.case.completed'] });
    expect(await expectStatus(call('POST', `${channelsPath()}/${channel.id}/test`, { key: tenant.apiKey }), 200)).toMatchObject({ success: true, status_code: 200, response: 'ok' });
    await publish(call, tenant, 'v1.case.completed', { case_id: 'tenant-event' });
    const requests = await slack.waitForRequests(2, 30_000);
    expect(JSON.parse(requests[0]!.body).text).toBe('Herald: test notification');
    expect(requests[1]!.body).toContain('tenant-event');
    expect(JSON.parse(requests[1]!.body).text).toBe('Herald: v1.case.completed');
  });
});

describe('when Temporal was down', () => {
  it("a notice's window whose workflow never started is started by the sweeper, and sends what was recorded", async () => {
    const { stack, tenant, receivers } = suite;
    const slack = await receivers.start(slackContract());
    const channel = await createChannel({ type: 'slack', webhook_url: slack.url, events: ['v1.endpoint.enabled'] });
    const down = { sql: stack.sql, temporal: { workflow: { start: () => Promise.reject(new Error('14 UNAVAILABLE: Temporal is down')) } } as never, taskQueue: stack.config.TEMPORAL_TASK_QUEUE, channelDigestWindowMs: windowMs };
    const notice = { tenantId: tenant.id, type: 'v1.endpoint.enabled' as const, data: { endpoint_id: 'ep_while_down' }, occurrence: 'ep_while_down:2026-01-01T00:00:00.000Z' };
    await expect(publishOperationalEvent(down, notice)).rejects.toThrow('UNAVAILABLE');
    // Recorded with the event; its window closed a while ago and nothing started its workflow.
    await stack.sql`update channel_occurrences set window_start = window_start - interval '5 minutes', window_end = window_end - interval '5 minutes' where channel_id = ${channel.id}`;
    const deps = { sql: stack.sql, temporal: stack.temporal, taskQueue: stack.config.TEMPORAL_TASK_QUEUE };
    expect(await sweepChannelWindows(deps)).toBeGreaterThanOrEqual(1);
    const [request] = await slack.waitForRequests(1, 20_000);
    expect(request!.body).toContain('Endpoint re-enabled');
    const [message] = await eventually(async () => {
      const listed = await messagesOf(channel.id);
      return listed[0]?.status === 'sent' ? listed : undefined;
    });
    expect(message.workflow_id).toMatch(/-late$/);
    expect(await sweepChannelWindows(deps)).toBe(0);
  });
});

describe('recovery finished', () => {
  it('is an operational event, announced to channels when a recovery completes', async () => {
    const { call, tenant, receivers } = suite;
    const slack = await receivers.start(slackContract());
    const channel = await createChannel({ type: 'slack', webhook_url: slack.url, events: ['v1.endpoint.recovery_finished'] });
    const target = await receivers.start(answer(500));
    const endpoint = await createEndpoint(call, tenant, { url: target.url, event_types: ['v1.case.completed'], retry_schedule: [], disable_after_failures: 1000 });
    const published = await publish(call, tenant, 'v1.case.completed', { case_id: 'to-recover' });
    // Ended in the table (what a recovery selects), not only in its workflow.
    await eventually(async () => {
      const [row] = await suite.stack.sql`select 1 from deliveries where event_id = ${published.event_id} and endpoint_id = ${endpoint.id} and status = 'failed' and completed_at is not null`;
      return row ? true : undefined;
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    target.respondWith(answer(200));
    await expectStatus(call('POST', `/v1/tenants/${tenant.id}/endpoints/${endpoint.id}/recover`, { key: tenant.apiKey, body: { since: '1h' } }), 202);
    const [request] = await slack.waitForRequests(1, 30_000);
    expect(request!.body).toContain('Recovery finished');
    expect(request!.body).toContain('1 of 1 deliveries replayed');
    const [message] = await messagesOf(channel.id);
    expect(message).toMatchObject({ kind: 'v1.endpoint.recovery_finished', endpoint_id: endpoint.id });
  });
});

describe('herald channels (CLI)', { timeout: 120_000 }, () => {
  it('creates, lists and tests a channel', async () => {
    const { stack, tenant, receivers } = suite;
    const slack = await receivers.start(slackContract());
    const cli = (args: string[]) => runHeraldCli({ apiUrl: stack.apiUrl, apiKey: tenant.apiKey, tenantId: tenant.id }, ['channels', ...args]);

    const created = await cli(['create', '--slack', slack.url, '--events', 'v1.endpoint.disabled', '--json']);
    expect(created.status, created.stderr).toBe(0);
    const channel = JSON.parse(created.stdout);
    expect(channel).toMatchObject({ type: 'slack', events: ['v1.endpoint.disabled'] });

    const [listed, tested] = await Promise.all([cli(['list']), cli(['test', channel.id])]);
    expect(listed.stdout).toContain(channel.id);
    expect(listed.stdout).not.toContain(slack.url);
    expect(tested.status, tested.stderr).toBe(0);
    expect(tested.stdout).toMatch(/^ok in \d+ ms: ok/);

    const [shown, refused] = await Promise.all([cli(['show', channel.id]), cli(['create', '--json'])]);
    expect(shown.stdout).toContain('v1.endpoint.disabled');
    expect(refused.status).toBe(2);
    expect(refused.stderr).toBe('herald: pass either --email <address...> or --slack <webhook_url>\n');
  });
});

describe("herald dev's SMTP catcher", () => {
  it('prints each message it receives: envelope, subject and the plain-text part', async () => {
    const printed: string[] = [];
    const catcher = await startSmtpCatcher({ port: 0, print: (text) => printed.push(text) });
    try {
      await nodemailer.createTransport(catcher.url).sendMail({
        from: 'Herald <herald@localhost>',
        to: 'dev@example.com',
        subject: '[Herald] Endpoint disabled',
        text: 'Reason: consecutive_failures\nOpen the portal: http://127.0.0.1:8080/portal/',
        html: '<p>Reason: consecutive_failures</p>',
      });
      await eventually(async () => (printed.length > 0 ? true : undefined), 10_000);
      expect(printed[0]).toContain('mail from herald@localhost to dev@example.com');
      expect(printed[0]).toContain('Subject: [Herald] Endpoint disabled');
      expect(printed[0]).toContain('  │ Reason: consecutive_failures');
    } finally {
      await catcher.close();
    }
  });
});
