import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnWorkerProcess, startTestStack, type TestStack } from './helpers/stack.js';
import { answer, receiverPool } from './helpers/receiver.js';
import { apiClient, createEventType, createTenant, type ApiCall } from './helpers/api.js';
import { createEndpoint, eventually, expectStatus, publish, waitForDeliveryStatus, type TenantFixture } from './helpers/deliveries.js';
import { attemptFailedHealthSignal, endpointHealthWorkflowId, healthQuery, workflowTypes, type AttemptReport, type EndpointHealth, type EndpointHealthWorkflow } from '../workflows/contracts.js';

describe('endpoint health', () => {
  let stack: TestStack;
  let call: ApiCall;
  const receivers = receiverPool();
  const receiver = receivers.start;
  const health = (endpointId: string) => stack.temporal.workflow.getHandle(endpointHealthWorkflowId(endpointId)).query(healthQuery);
  const endpointOf = (tenant: TenantFixture, id: string) => expectStatus(call('GET', `/v1/tenants/${tenant.id}/endpoints/${id}`, { key: tenant.apiKey }), 200);
  const waitForHealth = (endpointId: string, check: (h: EndpointHealth) => boolean, timeoutMs = 30_000) =>
    eventually(async () => {
      const current = await health(endpointId).catch(() => undefined);
      return current && check(current) ? current : undefined;
    }, timeoutMs, `health of ${endpointId}`);

  beforeAll(async () => {
    stack = await startTestStack({ healthReportsPerRun: 4 });
    call = apiClient(stack);
    await createEventType(call, 'v1.case.completed');
  });
  afterAll(async () => {
    await receivers.closeAll();
    await stack?.stop();
  });

  /** Publishes `count` events one after another, each failing its only attempt. */
  async function failEvents(tenant: TenantFixture, endpointId: string, count: number) {
    for (let index = 0; index < count; index++) {
      const published = await publish(call, tenant, 'v1.case.completed', { n: index });
      const deliveryId = published.deliveries.find((d: { endpoint_id: string }) => d.endpoint_id === endpointId).delivery_id;
      await waitForDeliveryStatus(call, tenant, deliveryId, ['failed']);
    }
  }

  it('disables the endpoint after 10 consecutive failures across 10 events, announces v1.endpoint.disabled, and records later events as failed unattempted', async () => {
    const tenant = await createTenant(call);
    const failing = await receiver(answer(500));
    const watcher = await receiver();
    const endpoint = await createEndpoint(call, tenant, { url: failing.url, event_types: ['v1.case.completed'], retry_schedule: [] });
    await createEndpoint(call, tenant, { url: watcher.url, event_types: ['v1.endpoint.disabled'] });
    await failEvents(tenant, endpoint.id, 10);
    await eventually(async () => ((await endpointOf(tenant, endpoint.id)).active === false ? true : undefined));
    expect(await endpointOf(tenant, endpoint.id)).toMatchObject({ active: false, disabled_reason: 'consecutive_failures' });
    const [notice] = await watcher.waitForRequests(1);
    expect(JSON.parse(notice!.body)).toMatchObject({ event_type: 'v1.endpoint.disabled', data: { endpoint_id: endpoint.id, reason: 'consecutive_failures', consecutive_failures: 10, last_error: 'HTTP 500' } });
    expect((await health(endpoint.id)).status).toBe('disabled');

    const later = await publish(call, tenant, 'v1.case.completed', { n: 'later' });
    const laterDelivery = later.deliveries.find((d: { endpoint_id: string }) => d.endpoint_id === endpoint.id);
    const recorded = await waitForDeliveryStatus(call, tenant, laterDelivery.delivery_id, ['failed']);
    expect(recorded).toMatchObject({ failure_reason: 'endpoint_disabled', attempts: 0 });
    expect(failing.requests).toHaveLength(10);

    // Re-enabling resets the count, and deliveries flow again.
    failing.respondWith(answer(200));
    await expectStatus(call('POST', `/v1/tenants/${tenant.id}/endpoints/${endpoint.id}/enable`, { key: tenant.apiKey }), 200);
    await waitForHealth(endpoint.id, (h) => h.consecutive_failures === 0 && h.status !== 'disabled');
    const after = await publish(call, tenant, 'v1.case.completed', { n: 'after' });
    await waitForDeliveryStatus(call, tenant, after.deliveries.find((d: { endpoint_id: string }) => d.endpoint_id === endpoint.id).delivery_id, ['delivered']);
  }, 120_000);

  it('does not disable after nine failures and a success', async () => {
    const tenant = await createTenant(call);
    const flaky = await receiver(answer(500));
    const endpoint = await createEndpoint(call, tenant, { url: flaky.url, event_types: ['v1.case.completed'], retry_schedule: [] });
    await failEvents(tenant, endpoint.id, 9);
    await waitForHealth(endpoint.id, (h) => h.consecutive_failures === 9);
    expect((await health(endpoint.id)).colour).toBe('red');
    flaky.respondWith(answer(200));
    const ok = await publish(call, tenant, 'v1.case.completed', { n: 'ok' });
    await waitForDeliveryStatus(call, tenant, ok.deliveries[0].delivery_id, ['delivered']);
    await waitForHealth(endpoint.id, (h) => h.consecutive_failures === 0);
    flaky.respondWith(answer(500));
    await failEvents(tenant, endpoint.id, 1);
    const current = await waitForHealth(endpoint.id, (h) => h.consecutive_failures === 1);
    expect(current).toMatchObject({ status: 'degraded', colour: 'yellow' });
    const shown = await endpointOf(tenant, endpoint.id);
    expect(shown.active).toBe(true);
    expect(shown.health).toMatchObject({ status: 'degraded', colour: 'yellow', consecutive_failures: 1, success_rate_24h: 0.0909 });
    expect(shown.health.last_success_at).not.toBeNull();
    const stats = await expectStatus(call('GET', `/v1/tenants/${tenant.id}/endpoints/${endpoint.id}/stats?window=1h`, { key: tenant.apiKey }), 200);
    expect(stats).toMatchObject({ window: '1h', attempts: 11, successes: 1, failures: 10, success_rate: 0.0909 });
    expect(stats.latency_ms.p50).toBeGreaterThanOrEqual(0);
    const list = await expectStatus(call('GET', `/v1/tenants/${tenant.id}/endpoints`, { key: tenant.apiKey }), 200);
    expect(list.data[0].health).toMatchObject({ colour: 'yellow', success_rate_24h: 0.0909 });
  }, 120_000);

  it('reproduces seed 004: backoff 1, 2, 4, 8, 16 s and a threshold of 5 leave the webhook inactive after 5 failed attempts', async () => {
    const tenant = await createTenant(call);
    const down = await receiver(answer(503));
    const endpoint = await createEndpoint(call, tenant, {
      url: down.url,
      event_types: ['v1.case.completed'],
      retry_schedule: { exponential: { initial: '1s', factor: 2, retries: 5 } },
      disable_after_failures: 5,
    });
    const published = await publish(call, tenant, 'v1.case.completed', { verificationId: 'ver_abc123' });
    const delivery = await waitForDeliveryStatus(call, tenant, published.deliveries[0].delivery_id, ['failed'], 60_000);
    expect(down.requests).toHaveLength(5);
    const gaps = down.requests.slice(1).map((request, index) => request.receivedAt - down.requests[index]!.receivedAt);
    // Never early; the upper bound leaves room for a loaded CI machine (the exact timers are
    // asserted on the time-skipping server in workflow-time-skipping.test.ts).
    [1000, 2000, 4000, 8000].forEach((scheduled, index) => {
      expect(gaps[index]).toBeGreaterThanOrEqual(scheduled - 50);
      expect(gaps[index]).toBeLessThan(scheduled + 3000);
    });
    expect(delivery).toMatchObject({ failure_reason: 'endpoint_disabled', attempts: 5 });
    expect(await endpointOf(tenant, endpoint.id)).toMatchObject({ active: false, disabled_reason: 'consecutive_failures' });
  }, 90_000);

  it('disables at once on 410 Gone', async () => {
    const tenant = await createTenant(call);
    const gone = await receiver(answer(410));
    const endpoint = await createEndpoint(call, tenant, { url: gone.url, event_types: ['v1.case.completed'] });
    await publish(call, tenant, 'v1.case.completed', {});
    await eventually(async () => ((await endpointOf(tenant, endpoint.id)).active === false ? true : undefined));
    expect(await endpointOf(tenant, endpoint.id)).toMatchObject({ disabled_reason: 'gone' });
  });

  it('counts a duplicated report once and keeps the count across continue-as-new', async () => {
    const endpointId = 'ep_01HEALTHDEDUP0000000000000';
    const report = (delivery: string, attempt: number) => ({ delivery_id: delivery, attempt, at: new Date().toISOString(), status_code: 500, error_class: 'http_status', disable_after_failures: 50 });
    const start = (delivery: string, attempt: number) =>
      stack.temporal.workflow.signalWithStart<EndpointHealthWorkflow, [AttemptReport]>(workflowTypes.endpointHealth, {
        workflowId: endpointHealthWorkflowId(endpointId),
        taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
        args: [{ endpointId, tenantId: 'ten_x', maxReportsPerRun: 4 }],
        signal: attemptFailedHealthSignal,
        signalArgs: [report(delivery, attempt)],
      });
    const first = await start('whd_a', 1);
    await start('whd_a', 1);
    await start('whd_a', 1);
    await waitForHealth(endpointId, (h) => h.window.attempts === 1);
    expect((await health(endpointId)).consecutive_failures).toBe(1);
    for (const delivery of ['whd_b', 'whd_c', 'whd_d', 'whd_e', 'whd_f']) await start(delivery, 1);
    const after = await waitForHealth(endpointId, (h) => h.consecutive_failures === 6);
    expect(after.window).toEqual({ attempts: 6, successes: 0 });
    const description = await stack.temporal.workflow.getHandle(endpointHealthWorkflowId(endpointId)).describe();
    expect(description.runId).not.toBe(first.signaledRunId);
  });

  it('loses no count when the worker is killed between failures', async () => {
    const tenant = await createTenant(call);
    const failing = await receiver(answer(500));
    const endpoint = await createEndpoint(call, tenant, { url: failing.url, event_types: ['v1.case.completed'], retry_schedule: [], disable_after_failures: 20 });
    await stack.stopWorker();
    const worker = spawnWorkerProcess(stack);
    try {
      await failEvents(tenant, endpoint.id, 3);
      await waitForHealth(endpoint.id, (h) => h.consecutive_failures === 3);
    } finally {
      worker.kill('SIGKILL');
      await new Promise((resolve) => worker.once('exit', resolve));
      await stack.startWorker();
    }
    await failEvents(tenant, endpoint.id, 2);
    expect((await waitForHealth(endpoint.id, (h) => h.consecutive_failures === 5)).consecutive_failures).toBe(5);
  }, 120_000);
});
