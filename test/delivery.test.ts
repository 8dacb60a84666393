import proto from '@temporalio/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { startTestStack, type TestStack } from './helpers/stack.js';
import { answer, receiverPool } from './helpers/receiver.js';
import { apiClient, createEventType, createTenant, type ApiCall } from './helpers/api.js';
import { createEndpoint, eventually, expectStatus, publish, waitForDeliveryStatus, type TenantFixture } from './helpers/deliveries.js';
import { deliveryWorkflowId } from '../workflows/contracts.js';
import { endpointDefaults } from '../src/core/endpoint-defaults.js';

describe('durable delivery', () => {
  let stack: TestStack;
  let call: ApiCall;
  let tenant: TenantFixture;
  const receivers = receiverPool();
  const receiver = receivers.start;

  beforeAll(async () => {
    stack = await startTestStack();
    call = apiClient(stack);
    tenant = await createTenant(call, { max_endpoints: 2000 });
    await createEventType(call, 'v1.case.completed', { type: 'object', required: ['case_status'], properties: { case_status: { type: 'string' } } });
  });
  afterAll(async () => {
    await receivers.closeAll();
    await stack?.stop();
  });

  it('delivers a signed envelope that the standardwebhooks library verifies', async () => {
    const target = await receiver();
    const endpoint = await createEndpoint(call, tenant, { url: target.url, event_types: ['v1.case.completed'] });
    const published = await publish(call, tenant, 'v1.case.completed', { case_status: 'completed' });
    expect(published.delivery_count).toBe(1);
    const [request] = await target.waitForRequests(1);
    const verified = new Webhook(endpoint.secret).verify(request!.body, request!.headers) as Record<string, unknown>;
    expect(verified).toMatchObject({
      event_id: published.event_id,
      delivery_id: published.deliveries[0].delivery_id,
      event_type: 'v1.case.completed',
      schema_version: 'v1',
      trace_id: published.trace_id,
      data: { case_status: 'completed' },
    });
    expect(request!.headers['webhook-id']).toBe(published.deliveries[0].delivery_id);
    expect(request!.headers['user-agent']).toMatch(/^Herald-Webhooks\//);
    expect(request!.headers['content-type']).toBe('application/json');
    const delivery = await waitForDeliveryStatus(call, tenant, published.deliveries[0].delivery_id, ['delivered']);
    expect(delivery.attempts_log).toHaveLength(1);
    expect(delivery.attempts_log[0]).toMatchObject({ attempt: 1, status_code: 200, success: true });
  });

  it('retries 1 s, 2 s, 3 s (the 1s/10s/60s shape), ends failed with 4 attempts, and announces v1.webhook.delivery_failed', async () => {
    const failing = await receiver(answer(500, 'boom'));
    const watcher = await receiver();
    const endpoint = await createEndpoint(call, tenant, { url: failing.url, event_types: ['v1.case.completed'], retry_schedule: ['1s', '2s', '3s'] });
    await createEndpoint(call, tenant, { url: watcher.url, event_types: ['v1.webhook.delivery_failed'] });
    const published = await publish(call, tenant, 'v1.case.completed', { case_status: 'completed' });
    const deliveryId = published.deliveries.find((d: { endpoint_id: string }) => d.endpoint_id === endpoint.id).delivery_id;
    const requests = await failing.waitForRequests(4, 20_000);
    const gaps = requests.slice(1).map((request, index) => request.receivedAt - requests[index]!.receivedAt);
    for (const [index, scheduled] of [1000, 2000, 3000].entries()) {
      expect(gaps[index]).toBeGreaterThanOrEqual(scheduled - 50);
      expect(gaps[index]).toBeLessThan(scheduled + 700);
    }
    expect(new Set(requests.map((r) => r.headers['webhook-id']))).toEqual(new Set([deliveryId]));
    const delivery = await waitForDeliveryStatus(call, tenant, deliveryId, ['failed']);
    expect(delivery).toMatchObject({ status: 'failed', attempts: 4, failure_reason: 'retries_exhausted', last_status_code: 500 });
    expect(delivery.attempts_log.map((a: { attempt: number }) => a.attempt)).toEqual([1, 2, 3, 4]);
    expect(delivery.attempts_log[3]).toMatchObject({ error_class: 'http_status', response_body: 'boom' });
    const [notice] = await watcher.waitForRequests(1);
    expect(JSON.parse(notice!.body)).toMatchObject({
      event_type: 'v1.webhook.delivery_failed',
      data: { delivery_id: deliveryId, event_id: published.event_id, endpoint_id: endpoint.id, attempts: 4, last_error: 'HTTP 500' },
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(failing.requests).toHaveLength(4);
  });

  it('waits the scheduled delay from the end of a slow first attempt, not from its start', async () => {
    let calls = 0;
    const slowThenOk = await receiver(async (_request, response) => {
      if (++calls === 1) {
        await new Promise((resolve) => setTimeout(resolve, 1500));
        response.statusCode = 500;
      }
      response.end();
    });
    await createEndpoint(call, tenant, { url: slowThenOk.url, event_types: ['v1.case.completed'], retry_schedule: ['1s'] });
    const published = await publish(call, tenant, 'v1.case.completed', { case_status: 'slow' });
    const [first, second] = await slowThenOk.waitForRequests(2, 20_000);
    // 1.5 s answering, then the 1 s delay: about 2.5 s between the two requests (4 s if the delay ran from the start).
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(2450);
    expect(second!.receivedAt - first!.receivedAt).toBeLessThan(3300);
    const delivery = await waitForDeliveryStatus(call, tenant, published.deliveries.at(-1).delivery_id, ['delivered']);
    expect(delivery.attempts_log.map((a: { attempt: number; success: boolean }) => [a.attempt, a.success])).toEqual([
      [1, false],
      [2, true],
    ]);
  });

  it('treats a 3xx as a failure and never follows it', async () => {
    const elsewhere = await receiver();
    const redirecting = await receiver(answer(302, '', { location: elsewhere.url }));
    await createEndpoint(call, tenant, { url: redirecting.url, event_types: ['v1.case.completed'], retry_schedule: [] });
    const published = await publish(call, tenant, 'v1.case.completed', { case_status: 'x' });
    const delivery = await waitForDeliveryStatus(call, tenant, published.deliveries.at(-1).delivery_id, ['failed']);
    expect(delivery).toMatchObject({ attempts: 1, last_status_code: 302 });
    expect(elsewhere.requests).toHaveLength(0);
  });

  it("counts a receiver slower than the endpoint's timeout as a timeout failure", async () => {
    const slow = await receiver(async (_request, response) => {
      await new Promise((resolve) => setTimeout(resolve, 3000));
      response.end('late');
    });
    await createEndpoint(call, tenant, { url: slow.url, event_types: ['v1.case.completed'], retry_schedule: [], timeout: '500ms' });
    const published = await publish(call, tenant, 'v1.case.completed', { case_status: 'x' });
    const delivery = await waitForDeliveryStatus(call, tenant, published.deliveries.at(-1).delivery_id, ['failed']);
    expect(delivery.attempts_log[0]).toMatchObject({ error_class: 'timeout', status_code: null });
    expect(delivery.attempts_log[0].duration_ms).toBeLessThan(1500);
  });

  it('honours Retry-After on 429, clamped to twice the scheduled delay', async () => {
    let calls = 0;
    const limited = await receiver((_request, response) => {
      calls++;
      response.writeHead(calls === 1 ? 429 : 200, calls === 1 ? { 'retry-after': '30' } : {});
      response.end();
    });
    await createEndpoint(call, tenant, { url: limited.url, event_types: ['v1.case.completed'], retry_schedule: ['1s'] });
    await publish(call, tenant, 'v1.case.completed', { case_status: 'x' });
    const requests = await limited.waitForRequests(2);
    const gap = requests[1]!.receivedAt - requests[0]!.receivedAt;
    // Retry-After asks for 30 s; the schedule says 1 s, so Herald waits 2 s (twice the schedule).
    expect(gap).toBeGreaterThanOrEqual(1950);
    expect(gap).toBeLessThan(3000);
  });

  it('stops retrying at a 410 Gone', async () => {
    const gone = await receiver(answer(410));
    await createEndpoint(call, tenant, { url: gone.url, event_types: ['v1.case.completed'], retry_schedule: ['1s', '1s'] });
    const published = await publish(call, tenant, 'v1.case.completed', { case_status: 'x' });
    const delivery = await waitForDeliveryStatus(call, tenant, published.deliveries.at(-1).delivery_id, ['failed']);
    expect(delivery).toMatchObject({ attempts: 1, failure_reason: 'endpoint_gone', last_status_code: 410 });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(gone.requests).toHaveLength(1);
  });

  it('answers a repeated Idempotency-Key with the original ids and a different body with 409', async () => {
    const other = await createTenant(call);
    const target = await receiver();
    await createEndpoint(call, other, { url: target.url, event_types: ['v1.case.completed'] });
    const headers = { 'idempotency-key': 'order-42' };
    const first = await publish(call, other, 'v1.case.completed', { case_status: 'a' }, headers);
    const again = await publish(call, other, 'v1.case.completed', { case_status: 'a' }, headers);
    expect(again).toEqual(first);
    const clash = await call('POST', `/v1/tenants/${other.id}/events`, { body: { event_type: 'v1.case.completed', data: { case_status: 'b' } }, key: other.apiKey, headers });
    expect(clash.status).toBe(409);
    expect(clash.body.error.code).toBe('conflict');
    await target.waitForRequests(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(target.requests).toHaveLength(1);
  });

  it('rejects data that breaks the schema, unknown types and per-request URLs with 422', async () => {
    const path = `/v1/tenants/${tenant.id}/events`;
    const badData = await call('POST', path, { body: { event_type: 'v1.case.completed', data: { case_status: 7 } }, key: tenant.apiKey });
    expect(badData.status).toBe(422);
    expect(badData.body.error.details[0].field).toBe('body.data.case_status');
    expect((await call('POST', path, { body: { event_type: 'v1.nope.never', data: {} }, key: tenant.apiKey })).status).toBe(422);
    const withUrl = await call('POST', path, { body: { event_type: 'v1.case.completed', data: { case_status: 'x' }, webhook_url: 'https://x.test' }, key: tenant.apiKey });
    expect(withUrl.status).toBe(422);
    expect(withUrl.body.error.message).toMatch(/register an endpoint instead/);
    expect((await call('POST', path, { body: { event_type: 'v1.webhook.test', data: {} }, key: tenant.apiKey })).status).toBe(422);
  });

  it('keeps secrets and payloads out of the workflow history', async () => {
    const target = await receiver();
    const endpoint = await createEndpoint(call, tenant, { url: target.url, event_types: ['v1.case.completed'], headers: { authorization: 'Bearer super-secret-static-token' } });
    const published = await publish(call, tenant, 'v1.case.completed', { case_status: 'confidential-payload-marker' });
    const deliveryId = published.deliveries.find((d: { endpoint_id: string }) => d.endpoint_id === endpoint.id).delivery_id;
    await waitForDeliveryStatus(call, tenant, deliveryId, ['delivered']);
    const history = await stack.temporal.workflow.getHandle(deliveryWorkflowId(deliveryId)).fetchHistory();
    const text = JSON.stringify(history, (_key, value) => (value instanceof Uint8Array ? Buffer.from(value).toString('utf8') : value));
    expect(text).toContain(deliveryId);
    expect(text).not.toContain(endpoint.secret.slice(6, 20));
    expect(text).not.toContain('super-secret-static-token');
    expect(text).not.toContain('confidential-payload-marker');
  });

  it('delivers at the first attempt within one workflow task: a local activity, no activity task', async () => {
    const target = await receiver();
    const endpoint = await createEndpoint(call, tenant, { url: target.url, event_types: ['v1.case.completed'] });
    const published = await publish(call, tenant, 'v1.case.completed', { case_status: 'first try' });
    const deliveryId = published.deliveries.find((d: { endpoint_id: string }) => d.endpoint_id === endpoint.id).delivery_id;
    await waitForDeliveryStatus(call, tenant, deliveryId, ['delivered']);
    const handle = stack.temporal.workflow.getHandle(deliveryWorkflowId(deliveryId));
    expect(await handle.result()).toMatchObject({ status: 'delivered', attempt: 1 });
    const { events } = await handle.fetchHistory();
    const { EventType } = proto.temporal.api.enums.v1;
    const types = events!.map((event) => event.eventType);
    expect(types.filter((type) => type === EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED)).toHaveLength(1);
    expect(types.filter((type) => type === EventType.EVENT_TYPE_MARKER_RECORDED).length).toBeGreaterThanOrEqual(1);
    expect(types).not.toContain(EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED);
  });

  it('starts deliveries that were stored while Temporal was unreachable (outbox sweep)', async () => {
    const { publishEvent } = await import('../src/core/publish.js');
    const { sweepUndispatched } = await import('../src/core/dispatch.js');
    const { Client, Connection } = await import('@temporalio/client');
    const target = await receiver();
    const other = await createTenant(call);
    await createEndpoint(call, other, { url: target.url, event_types: ['v1.case.completed'] });
    const deadConnection = Connection.lazy({ address: '127.0.0.1:1', connectTimeout: 200 });
    const deadTemporal = new Client({ connection: deadConnection });
    const result = await publishEvent({ sql: stack.sql, temporal: deadTemporal, taskQueue: stack.config.TEMPORAL_TASK_QUEUE }, { tenantId: other.id, eventType: 'v1.case.completed', data: { case_status: 'x' } });
    await deadConnection.close().catch(() => {});
    const [row] = await stack.sql`select status, dispatched_at from deliveries where id = ${result.deliveries[0]!.delivery_id}`;
    expect(row).toMatchObject({ status: 'pending', dispatched_at: null });
    expect(await sweepUndispatched({ sql: stack.sql, temporal: stack.temporal, taskQueue: stack.config.TEMPORAL_TASK_QUEUE }, 0)).toBeGreaterThanOrEqual(1);
    await target.waitForRequests(1);
    await waitForDeliveryStatus(call, other, result.deliveries[0]!.delivery_id, ['delivered']);
  });

  it('fans one event out to 1,000 endpoints and delivers exactly 1,000', async () => {
    const wide = await createTenant(call, { max_endpoints: 1500 });
    const target = await receiver();
    await stack.sql`
      insert into endpoints (id, tenant_id, url, event_types, retry_schedule, signature, envelope, timeout_ms, disable_after_failures)
      select 'ep_fanout' || lpad(n::text, 6, '0'), ${wide.id}, ${target.url}, array['v1.case.completed'], '["1s"]'::jsonb,
             ${stack.sql.json({ profile: endpointDefaults.signatureProfile })}, ${endpointDefaults.envelope}, ${endpointDefaults.timeoutMs},
             ${endpointDefaults.disableAfterFailures}
      from generate_series(1, 999) n`;
    await stack.sql`
      insert into endpoint_secrets (id, endpoint_id, ciphertext, last_four)
      select 'sec_fanout' || lpad(n::text, 6, '0'), 'ep_fanout' || lpad(n::text, 6, '0'), s.ciphertext, s.last_four
      from generate_series(1, 999) n, (select ciphertext, last_four from endpoint_secrets limit 1) s`;
    await createEndpoint(call, wide, { url: target.url, event_types: ['v1.case.completed'] });
    const published = await publish(call, wide, 'v1.case.completed', { case_status: 'wide' });
    expect(published.delivery_count).toBe(1000);
    expect(published.deliveries).toHaveLength(100);
    await target.waitForRequests(1000, 120_000);
    await eventually(async () => {
      const [counts] = await stack.sql`select count(*) filter (where status = 'delivered')::int as delivered, count(*)::int as total from deliveries where event_id = ${published.event_id}`;
      return counts!.delivered === 1000 ? counts : undefined;
    }, 60_000);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const ids = target.requests.map((r) => r.headers['webhook-id']);
    expect(ids).toHaveLength(1000);
    expect(new Set(ids).size).toBe(1000);
    const event = await expectStatus(call('GET', `/v1/tenants/${wide.id}/events/${published.event_id}`, { key: wide.apiKey }), 200);
    expect(event.deliveries).toHaveLength(1000);
  }, 180_000);
});
