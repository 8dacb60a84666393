import { Webhook } from 'standardwebhooks';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import {
  isJsonContentType,
  renderTemplate,
  templateIssues,
  templateOutputLimitBytes,
  templateSchema,
  TemplateRenderError,
  type EndpointTemplate,
} from '../src/core/templates.js';
import type { EnvelopeInput } from '../src/core/envelope.js';
import { deliveryWorkflowId } from '../workflows/contracts.js';
import { createEndpoint, eventually, expectStatus, publish, useDeliveryStack, waitForDeliveryStatus } from './helpers/deliveries.js';
import { errorFields } from './helpers/api.js';
import type { Responder } from './helpers/receiver.js';
import { runHeraldCli } from './helpers/run-node.js';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import nodePath from 'node:path';

/**
 * Payload templates (issue 16): an endpoint's Liquid template replaces the envelope, rendered over its fields, signed
 * over the rendered bytes; a template that does not compile is refused at save time naming its line and column, one
 * that fails at delivery time fails the delivery at once (template_error), and a preview shows the request as sent.
 */

const slackTemplate = '{"text": "Verification {{ data.status }} for {{ data.id }}"}';

const input: EnvelopeInput = {
  eventId: 'evt_01',
  deliveryId: 'whd_01',
  eventType: 'v1.verification.completed',
  schemaVersion: 'v1',
  traceId: 'trc_01',
  createdAt: new Date('2026-03-28T12:00:00.123Z'),
  data: { id: 'ver_123', status: 'approved', note: 'say "hi"', items: [1, 2, 3] },
};

const liquid = (source: string, rest: Partial<EndpointTemplate> = {}): EndpointTemplate => templateSchema.parse({ engine: 'liquid', source, ...rest });

describe('template rules', () => {
  it('defaults to application/json and strict variables, and knows one engine', () => {
    expect(templateSchema.parse({ engine: 'liquid', source: 'x' })).toEqual({ engine: 'liquid', source: 'x', content_type: 'application/json', strict_variables: true });
    expect(templateSchema.safeParse({ engine: 'handlebars', source: 'x' }).success).toBe(false);
    expect(templateSchema.safeParse({ engine: 'liquid', source: 'x', content_type: 'text/plain\r\nX-Evil: 1' }).success).toBe(false);
    expect(templateSchema.safeParse({ engine: 'liquid', source: 'x', content_type: 'text/plain; charset=utf-8' }).success).toBe(true);
  });

  it.each([
    ['an unclosed tag', '{\n  "a": {% if data.x %}1\n}', 'line 2, column 8: tag {% if data.x %} not closed'],
    ['an unknown filter', '{{ data.id | shout }}', 'line 1, column 1: undefined filter: shout'],
    ['include (no files)', '{"a": 1}\n{% include "secrets" %}', 'line 2, column 1: tag "include" not found'],
    ['render (no files)', '{% render "x" %}', 'line 1, column 1: tag "render" not found'],
    ['layout (no files)', '{% layout "x" %}', 'line 1, column 1: tag "layout" not found'],
  ])('refuses %s at save time, naming the line and column', (_what, source, message) => {
    expect(templateIssues(liquid(source))).toEqual([{ field: 'body.template.source', message: `does not compile: ${message}`, code: 'template_syntax' }]);
  });

  it('accepts a template that compiles, and no template at all', () => {
    expect(templateIssues(liquid(slackTemplate))).toEqual([]);
    expect(templateIssues(null)).toEqual([]);
  });

  it.each([
    ['the Slack shape', slackTemplate, {}, '{"text": "Verification approved for ver_123"}'],
    ['the envelope fields', '{"id": "{{ event_id }}", "d": "{{ delivery_id }}", "t": "{{ event_type }}", "at": "{{ created_at }}", "tr": "{{ trace_id }}", "v": "{{ schema_version }}"}', {}, '{"id": "evt_01", "d": "whd_01", "t": "v1.verification.completed", "at": "2026-03-28T12:00:00.123Z", "tr": "trc_01", "v": "v1"}'],
    ['values written as JSON with | json', '{"note": {{ data.note | json }}, "items": {{ data.items | json }}}', {}, '{"note": "say \\"hi\\"", "items": [1,2,3]}'],
    ['a loop', '[{% for i in data.items %}{{ i }}{% unless forloop.last %},{% endunless %}{% endfor %}]', {}, '[1,2,3]'],
    ['plain text', 'Verification {{ data.status }}', { content_type: 'text/plain' }, 'Verification approved'],
    ['a missing variable, lenient', '{"x": "{{ data.missing }}"}', { strict_variables: false }, '{"x": ""}'],
  ])('renders %s', (_what, source, rest, expected) => {
    expect(renderTemplate(liquid(source, rest as Partial<EndpointTemplate>), input)).toBe(expected);
  });

  it.each([
    ['a missing variable in strict mode', '{"x": "{{ data.missing }}"}', {}, 'template: line 1, column 11: undefined variable: data.missing'],
    ['a prototype property (own properties only)', '{"x": "{{ data.constructor }}"}', {}, 'template: line 1, column 11: undefined variable: data.constructor'],
    ['JSON that does not parse, with a JSON content type', '{"text": "{{ data.note }}"}', {}, 'template: the rendered body is not valid JSON (application/json) at position 15'],
    ['JSON that does not parse, with a +json content type', 'nope', { content_type: 'application/vnd.acme+json' }, 'template: the rendered body is not valid JSON (application/vnd.acme+json)'],
    ['an output over 256 KiB', `{% for i in (1..${templateOutputLimitBytes / 512 + 1}) %}${'x'.repeat(512)}{% endfor %}`, { content_type: 'text/plain' }, `over the limit of ${templateOutputLimitBytes}`],
    ['a render over the time limit', '{% for i in (1..1000) %}{% for j in (1..1000) %}{% for k in (1..1000) %}{% endfor %}{% endfor %}{% endfor %}', { content_type: 'text/plain' }, 'template render limit exceeded'],
  ])('fails the render on %s', (_what, source, rest, message) => {
    const rendering = () => renderTemplate(liquid(source, rest as Partial<EndpointTemplate>), input);
    expect(rendering).toThrow(TemplateRenderError);
    expect(rendering).toThrow(message);
  });

  it('never quotes the rendered body (event data) in a JSON failure', () => {
    expect(() => renderTemplate(liquid('{"a": {{ data.status }}}'), input)).toThrow(/^template: the rendered body is not valid JSON \(application\/json\)$/);
  });

  it.each([
    ['application/json', true],
    ['application/json; charset=utf-8', true],
    ['Application/JSON', true],
    ['application/problem+json', true],
    ['text/json', true],
    ['text/plain', false],
    ['application/x-www-form-urlencoded', false],
    ['application/jsonl', false],
  ])('%s is a JSON content type: %s', (contentType, json) => {
    expect(isJsonContentType(contentType)).toBe(json);
  });
});

/**
 * Slack's incoming-webhook contract (api.slack.com/messaging/webhooks): a POST of a JSON body with `text`; answered
 * 200 `ok`, or 400 `invalid_payload` / `no_text`. Also checks Herald's Standard Webhooks signature over the bytes it
 * received, with the standardwebhooks library (what a receiver of a templated endpoint would do).
 */
function slackReceiver(secret: () => string): Responder {
  return (request, response) => {
    const refuse = (status: number, body: string) => {
      response.writeHead(status, { 'content-type': 'text/plain' });
      response.end(body);
    };
    if (request.method !== 'POST' || !request.headers['content-type']?.startsWith('application/json')) return refuse(400, 'invalid_payload');
    let payload: { text?: unknown };
    try {
      payload = JSON.parse(request.body);
    } catch {
      return refuse(400, 'invalid_payload');
    }
    if (typeof payload?.text !== 'string' || payload.text === '') return refuse(400, 'no_text');
    try {
      new Webhook(secret()).verify(request.body, request.headers);
    } catch {
      return refuse(401, 'invalid_signature');
    }
    response.writeHead(200, { 'content-type': 'text/plain' });
    response.end('ok');
  };
}

describe('payload templates on the real stack', () => {
  const suite = useDeliveryStack({ healthReportsPerRun: 50 });
  const path = (rest: string) => `/v1/tenants/${suite.tenant.id}${rest}`;
  const key = () => suite.tenant.apiKey;

  it('refuses a template that does not compile with 422 naming its line and column, on create and on PATCH', async () => {
    const receiver = await suite.receivers.start();
    const broken = { engine: 'liquid', source: '{\n  "text": "{{ data.id "\n}' };
    const created = await suite.call('POST', path('/endpoints'), { key: key(), body: { url: receiver.url, event_types: ['*'], template: broken } });
    expect(created.status).toBe(422);
    expect(errorFields(created)).toEqual(['body.template.source']);
    expect(created.body.error.message).toMatch(/^body\.template\.source: does not compile: line 2, column 12: output "\{\{ data\.id .*" not closed$/s);

    const endpoint = await createEndpoint(suite.call, suite.tenant, { url: receiver.url, event_types: ['v1.case.completed'] });
    expect(endpoint.template).toBeNull();
    const patched = await suite.call('PATCH', path(`/endpoints/${endpoint.id}`), { key: key(), body: { template: { engine: 'liquid', source: '{% include "x" %}' } } });
    expect(patched.status).toBe(422);
    expect(patched.body.error.details).toEqual([{ field: 'body.template.source', message: 'does not compile: line 1, column 1: tag "include" not found', code: 'template_syntax' }]);

    const saved = await expectStatus(suite.call('PATCH', path(`/endpoints/${endpoint.id}`), { key: key(), body: { template: { engine: 'liquid', source: slackTemplate } } }), 200);
    expect(saved.template).toEqual({ engine: 'liquid', source: slackTemplate, content_type: 'application/json', strict_variables: true });
    expect((await expectStatus(suite.call('GET', path(`/endpoints/${endpoint.id}`), { key: key() }), 200)).template).toEqual(saved.template);
    const removed = await expectStatus(suite.call('PATCH', path(`/endpoints/${endpoint.id}`), { key: key(), body: { template: null } }), 200);
    expect(removed.template).toBeNull();
  });

  it('delivers a Slack-shaped template to a receiver that enforces Slack’s contract, signed over the bytes it received; the preview shows those bytes', async () => {
    let secret = '';
    const slack = await suite.receivers.start(slackReceiver(() => secret));
    const endpoint = await createEndpoint(suite.call, suite.tenant, {
      url: slack.url,
      event_types: ['v1.case.completed'],
      retry_schedule: [],
      template: { engine: 'liquid', source: slackTemplate },
    });
    secret = endpoint.secret;

    const event = await publish(suite.call, suite.tenant, 'v1.case.completed', { id: 'ver_123', status: 'approved' });
    const deliveryId = event.deliveries.find((d: { endpoint_id: string }) => d.endpoint_id === endpoint.id).delivery_id;
    const delivery = await waitForDeliveryStatus(suite.call, suite.tenant, deliveryId, ['delivered', 'failed']);
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 1, last_status_code: 200 });
    const [received] = slack.requests;
    expect(received!.body).toBe('{"text": "Verification approved for ver_123"}');
    expect(received!.headers['content-type']).toBe('application/json');
    expect(received!.headers['webhook-id']).toBe(deliveryId);
    const log = await expectStatus(suite.call('GET', path(`/deliveries/${deliveryId}`), { key: key() }), 200);
    expect(log.attempts_log.map((attempt: { response_body: string }) => attempt.response_body)).toEqual(['ok']);

    // The preview of the stored event: the same bytes, the same delivery id, a signature that verifies over its body.
    const preview = await expectStatus(suite.call('POST', path(`/endpoints/${endpoint.id}/template/preview`), { key: key(), body: { event_id: event.event_id } }), 200);
    expect(preview).toMatchObject({ event_id: event.event_id, delivery_id: deliveryId, url: slack.url, body: received!.body });
    expect(Object.keys(preview.headers).sort()).toEqual(Object.keys(received!.headers).filter((name) => !['host', 'connection', 'content-length'].includes(name)).sort());
    expect(preview.headers['content-type']).toBe('application/json');
    expect(() => new Webhook(secret).verify(preview.body, preview.headers)).not.toThrow();
  });

  it('previews a sample event, a draft template and an endpoint without one, signed, sending nothing', async () => {
    const receiver = await suite.receivers.start();
    const endpoint = await createEndpoint(suite.call, suite.tenant, {
      url: receiver.url,
      event_types: ['v1.case.completed'],
      headers: { Authorization: 'Bearer receiver-token-1234' },
      signature: { profile: 'timestamped' },
      template: { engine: 'liquid', source: 'status={{ data.status }}', content_type: 'text/plain; charset=utf-8' },
    });
    const preview = (body: unknown) => suite.call('POST', path(`/endpoints/${endpoint.id}/template/preview`), { key: key(), body });

    const sample = await expectStatus(preview({ event_type: 'v1.case.completed', data: { status: 'approved' } }), 200);
    expect(sample.body).toBe('status=approved');
    expect(sample.delivery_id).toMatch(/^whd_/);
    // Custom header values are masked, as in every answer.
    expect(sample.headers).toMatchObject({ 'content-type': 'text/plain; charset=utf-8', Authorization: '****1234' });
    const [, timestamp, signature] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(sample.headers['X-Herald-Signature'])!;
    const { createHmac } = await import('node:crypto');
    expect(signature).toBe(createHmac('sha256', endpoint.secret).update(`${timestamp}.${sample.body}`).digest('hex'));

    const draft = await expectStatus(preview({ event_type: 'v1.case.completed', data: { n: 1 }, template: { engine: 'liquid', source: '{"n": {{ data.n }}}' } }), 200);
    expect(draft).toMatchObject({ body: '{"n": 1}', headers: { 'content-type': 'application/json' } });
    const envelope = await expectStatus(preview({ event_type: 'v1.case.completed', data: { n: 1 }, template: null }), 200);
    expect(JSON.parse(envelope.body)).toMatchObject({ event_id: envelope.event_id, delivery_id: envelope.delivery_id, event_type: 'v1.case.completed', data: { n: 1 } });

    const broken = await preview({ event_type: 'v1.case.completed', data: {}, template: { engine: 'liquid', source: '{{ x | nope }}' } });
    expect(broken.status).toBe(422);
    expect(broken.body.error.details).toEqual([{ field: 'body.template.source', message: 'does not compile: line 1, column 1: undefined filter: nope', code: 'template_syntax' }]);
    const failing = await preview({ event_type: 'v1.case.completed', data: {} });
    expect(failing.status).toBe(422);
    expect(failing.body.error.details).toEqual([{ field: 'body', message: 'template: line 1, column 11: undefined variable: data.status', code: 'template_render_failed' }]);
    expect((await preview({ event_id: 'evt_01J7W9S4TSQ0T4SH43JYB9W5R8' })).status).toBe(404);
    expect((await preview({ event_id: 'evt_x', event_type: 'v1.case.completed', data: {} })).status).toBe(422);
    expect((await suite.call('POST', path('/endpoints/ep_01J7W9S4TSQ0T4SH43JYB9W5R8/template/preview'), { key: key(), body: { event_type: 'v1.case.completed', data: {} } })).status).toBe(404);
    expect(receiver.requests).toHaveLength(0);
  });

  it('fails a delivery whose template fails at once: one attempt of error_class template, failure_reason template_error, no retry, no request', async () => {
    const receiver = await suite.receivers.start();
    const endpoint = await createEndpoint(suite.call, suite.tenant, {
      url: receiver.url,
      event_types: ['v1.case.completed'],
      retry_schedule: ['1s', '1s'],
      template: { engine: 'liquid', source: '{"text": "{{ data.status }} for {{ data.id }}"}' },
    });
    const event = await publish(suite.call, suite.tenant, 'v1.case.completed', { id: 'ver_9' });
    const deliveryId = event.deliveries.find((d: { endpoint_id: string }) => d.endpoint_id === endpoint.id).delivery_id;
    const failed = await waitForDeliveryStatus(suite.call, suite.tenant, deliveryId, ['failed', 'delivered']);
    expect(failed).toMatchObject({ status: 'failed', failure_reason: 'template_error', attempts: 1, last_status_code: null });
    expect(failed.last_error).toBe('template: line 1, column 14: undefined variable: data.status');
    const log = await expectStatus(suite.call('GET', path(`/deliveries/${deliveryId}`), { key: key() }), 200);
    expect(log.attempts_log).toMatchObject([
      { attempt: 1, success: false, status_code: null, error_class: 'template', error_message: 'template: line 1, column 14: undefined variable: data.status' },
    ]);
    // There was no request to show as sent: 409 saying why.
    const asSent = await suite.call('GET', path(`/deliveries/${deliveryId}/request`), { key: key() });
    expect(asSent.status).toBe(409);
    expect(asSent.body.error.message).toMatch(/template does not render for this delivery, so nothing was sent: .*undefined variable: data\.status/);

    // Its workflow closed Failed as TemplateError; the receiver was never called and the endpoint's health is untouched.
    const closing = await suite.stack.temporal.workflow.getHandle(deliveryWorkflowId(deliveryId)).result().catch((error: unknown) => error);
    expect(closing).toBeInstanceOf(WorkflowFailedError);
    expect(((closing as WorkflowFailedError).cause as ApplicationFailure).type).toBe('TemplateError');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(receiver.requests).toHaveLength(0);
    const after = await expectStatus(suite.call('GET', path(`/endpoints/${endpoint.id}`), { key: key() }), 200);
    expect(after).toMatchObject({ active: true, health: { consecutive_failures: 0 } });

    // The same template with the field present delivers.
    const ok = await publish(suite.call, suite.tenant, 'v1.case.completed', { id: 'ver_10', status: 'approved' });
    await waitForDeliveryStatus(suite.call, suite.tenant, ok.deliveries.find((d: { endpoint_id: string }) => d.endpoint_id === endpoint.id).delivery_id, ['delivered']);
    await eventually(async () => (receiver.requests.length === 1 ? true : undefined));
    expect(receiver.requests[0]!.body).toBe('{"text": "approved for ver_10"}');
  });

  it('renders the template for test sends too, and reports a render failure as error_class template', async () => {
    const receiver = await suite.receivers.start();
    const endpoint = await createEndpoint(suite.call, suite.tenant, {
      url: receiver.url,
      event_types: ['v1.case.completed'],
      template: { engine: 'liquid', source: '{"text": {{ data.message | json }}}' },
    });
    const sent = await expectStatus(suite.call('POST', path(`/endpoints/${endpoint.id}/test`), { key: key() }), 200);
    expect(sent).toMatchObject({ success: true, status_code: 200 });
    expect(receiver.requests[0]!.body).toBe('{"text": "This is a test webhook from Herald"}');

    await expectStatus(suite.call('PATCH', path(`/endpoints/${endpoint.id}`), { key: key(), body: { template: { engine: 'liquid', source: '{"text": "{{ data.status }}"}' } } }), 200);
    const failed = await expectStatus(suite.call('POST', path(`/endpoints/${endpoint.id}/test`), { key: key() }), 200);
    expect(failed).toMatchObject({ success: false, status_code: null, error_class: 'template', error_message: 'template: line 1, column 14: undefined variable: data.status' });
    expect(receiver.requests).toHaveLength(1);
  });

  it('sets, shows and previews a template from the herald CLI', { timeout: 60_000 }, async () => {
    const receiver = await suite.receivers.start();
    const endpoint = await createEndpoint(suite.call, suite.tenant, { url: receiver.url, event_types: ['v1.case.completed'] });
    const herald = (args: string[]) => runHeraldCli({ apiUrl: suite.stack.apiUrl, apiKey: key(), tenantId: suite.tenant.id }, args);

    const broken = await herald(['endpoints', 'set-template', endpoint.id, '--source', '{{ data.id']);
    expect(broken.status).toBe(2);
    expect(broken.stderr).toMatch(/^herald: HTTP 422 .*body\.template\.source: does not compile: line 1, column 1: /);

    const folder = await mkdtemp(nodePath.join(os.tmpdir(), 'herald-template-'));
    await writeFile(nodePath.join(folder, 'slack.liquid'), slackTemplate);
    const set = await herald(['endpoints', 'set-template', endpoint.id, '--source', `@${nodePath.join(folder, 'slack.liquid')}`]);
    expect(set).toMatchObject({ status: 0, stdout: `endpoint ${endpoint.id} sends its template (application/json)\n` });
    const shown = await herald(['endpoints', 'show', endpoint.id]);
    expect(shown.stdout).toContain(slackTemplate);

    const preview = await herald(['endpoints', 'preview', endpoint.id, '--event-type', 'v1.case.completed', '--data', '{"id": "ver_1", "status": "approved"}']);
    expect(preview.status).toBe(0);
    expect(preview.stdout).toContain(`POST ${receiver.url}\ncontent-type: application/json\n`);
    expect(preview.stdout).toMatch(/\nwebhook-signature: v1,\S+\n/);
    expect(preview.stdout.endsWith('\n{"text": "Verification approved for ver_1"}\n')).toBe(true);
    expect(receiver.requests).toHaveLength(0);
  });
});
