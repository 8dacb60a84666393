import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeEndpointActivation } from '../src/core/endpoints.js';
import { endpointHealthWorkflowId, healthQuery } from '../workflows/contracts.js';
import { startTestStack, type TestStack } from './helpers/stack.js';
import { answer, receiverPool, type TestReceiver } from './helpers/receiver.js';
import { apiClient, createEventType, createTenant, type ApiCall } from './helpers/api.js';
import { createEndpoint, eventually, expectStatus, publish, waitForDeliveryStatus, type TenantFixture } from './helpers/deliveries.js';

/**
 * Issue 13's re-enable bug, by every path: an endpoint auto-disabled after 2 failures, re-enabled, must be disabled
 * again after 2 new failures, and the tenant hears of each change exactly once.
 */
describe('endpoint activation: one path for enable, disable, PATCH {active} and automatic deactivation', () => {
  let stack: TestStack;
  let call: ApiCall;
  let tenant: TenantFixture;
  let notices: TestReceiver;
  const receivers = receiverPool();

  beforeAll(async () => {
    stack = await startTestStack();
    call = apiClient(stack);
    tenant = await createTenant(call);
    await createEventType(call, 'v1.case.completed');
    notices = await receivers.start();
    await createEndpoint(call, tenant, { url: notices.url, event_types: ['v1.endpoint.disabled', 'v1.endpoint.enabled'] });
  });
  afterAll(async () => {
    await receivers.closeAll();
    await stack?.stop();
  });

  const endpointPath = (id: string) => `/v1/tenants/${tenant.id}/endpoints/${id}`;
  const getEndpoint = (id: string) => expectStatus(call('GET', endpointPath(id), { key: tenant.apiKey }), 200);
  const noticesFor = (endpointId: string) =>
    notices.requests.map((request) => JSON.parse(request.body)).filter((body) => body.data?.endpoint_id === endpointId).map((body) => `${body.event_type}:${body.data.reason ?? ''}`);

  async function failingEndpoint() {
    const dead = await receivers.start(answer(500));
    return createEndpoint(call, tenant, { url: dead.url, event_types: ['v1.case.completed'], retry_schedule: [], disable_after_failures: 2 });
  }

  async function failTwice(endpointId: string) {
    for (let n = 0; n < 2; n++) {
      const published = await publish(call, tenant, 'v1.case.completed', { n });
      const delivery = published.deliveries.find((d: { endpoint_id: string }) => d.endpoint_id === endpointId);
      await waitForDeliveryStatus(call, tenant, delivery.delivery_id, ['failed']);
    }
  }

  async function expectAutoDisabled(endpointId: string) {
    const endpoint = await eventually(async () => {
      const current = await getEndpoint(endpointId);
      return current.active === false ? current : undefined;
    }, 30_000, `${endpointId} disabled`);
    expect(endpoint).toMatchObject({ active: false, disabled_reason: 'consecutive_failures', health: { status: 'disabled' } });
    const live = await stack.temporal.workflow.getHandle(endpointHealthWorkflowId(endpointId)).query(healthQuery);
    expect(live).toMatchObject({ status: 'disabled', disabled_reason: 'consecutive_failures' });
  }

  const reEnablePaths: [string, (endpointId: string) => Promise<void>][] = [
    ['PATCH {active: true}', async (id) => void (await expectStatus(call('PATCH', endpointPath(id), { key: tenant.apiKey, body: { active: true } }), 200))],
    ['POST …/enable', async (id) => void (await expectStatus(call('POST', `${endpointPath(id)}/enable`, { key: tenant.apiKey, body: {} }), 200))],
  ];

  it.each(reEnablePaths)('re-enabled by %s, it is disabled again on the 2nd new failure, with one notice per change', async (_path, reEnable) => {
    const endpoint = await failingEndpoint();
    await failTwice(endpoint.id);
    await expectAutoDisabled(endpoint.id);

    await reEnable(endpoint.id);
    const enabled = await getEndpoint(endpoint.id);
    expect(enabled).toMatchObject({ active: true, disabled_reason: null });
    const live = await stack.temporal.workflow.getHandle(endpointHealthWorkflowId(endpoint.id)).query(healthQuery);
    expect(live).toMatchObject({ consecutive_failures: 0 });
    expect(live.status).not.toBe('disabled');

    await failTwice(endpoint.id);
    await expectAutoDisabled(endpoint.id);
    await eventually(async () => (noticesFor(endpoint.id).length >= 3 ? true : undefined), 30_000, 'three notices');
    expect(noticesFor(endpoint.id)).toEqual(['v1.endpoint.disabled:consecutive_failures', 'v1.endpoint.enabled:', 'v1.endpoint.disabled:consecutive_failures']);
  });

  it('POST …/enable repairs a health workflow that disagrees with the row (the endpoint already active)', async () => {
    const endpoint = await failingEndpoint();
    await failTwice(endpoint.id);
    await expectAutoDisabled(endpoint.id);
    // What the old PATCH did: the row only.
    await stack.sql`update endpoints set active = true, disabled_reason = null, disabled_at = null where id = ${endpoint.id}`;
    await expectStatus(call('POST', `${endpointPath(endpoint.id)}/enable`, { key: tenant.apiKey, body: {} }), 200);
    await failTwice(endpoint.id);
    await expectAutoDisabled(endpoint.id);
  });

  it('a health workflow that missed a re-enable corrects itself from the next report', async () => {
    const endpoint = await failingEndpoint();
    await failTwice(endpoint.id);
    await expectAutoDisabled(endpoint.id);
    // The row is enabled but the health workflow is never told (a signal lost for good).
    await writeEndpointActivation(stack.sql, tenant.id, endpoint.id, true);
    await failTwice(endpoint.id);
    await expectAutoDisabled(endpoint.id);
  });

  it('a disable that stopped after writing the row is completed by calling again, and announced once', async () => {
    const healthy = await receivers.start();
    const endpoint = await createEndpoint(call, tenant, { url: healthy.url, event_types: ['v1.case.completed'] });
    // The process died after the row was written: no signal, no notice.
    await writeEndpointActivation(stack.sql, tenant.id, endpoint.id, false, 'manual');
    await expectStatus(call('POST', `${endpointPath(endpoint.id)}/disable`, { key: tenant.apiKey, body: { reason: 'manual' } }), 200);
    await expectStatus(call('POST', `${endpointPath(endpoint.id)}/disable`, { key: tenant.apiKey, body: { reason: 'manual' } }), 200);
    await expectStatus(call('PATCH', endpointPath(endpoint.id), { key: tenant.apiKey, body: { active: false } }), 200);
    await eventually(async () => (noticesFor(endpoint.id).length >= 1 ? true : undefined), 30_000, 'the notice');
    const live = await eventually(async () => {
      const health = await stack.temporal.workflow.getHandle(endpointHealthWorkflowId(endpoint.id)).query(healthQuery).catch(() => undefined);
      return health?.status === 'disabled' ? health : undefined;
    });
    expect(live.disabled_reason).toBe('manual');
    // Time for a duplicate to arrive, if there were one.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(noticesFor(endpoint.id)).toEqual(['v1.endpoint.disabled:manual']);
    // Enabling it twice announces one enable.
    await expectStatus(call('POST', `${endpointPath(endpoint.id)}/enable`, { key: tenant.apiKey, body: {} }), 200);
    await expectStatus(call('PATCH', endpointPath(endpoint.id), { key: tenant.apiKey, body: { active: true } }), 200);
    await eventually(async () => (noticesFor(endpoint.id).length >= 2 ? true : undefined), 30_000, 'the enable notice');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(noticesFor(endpoint.id)).toEqual(['v1.endpoint.disabled:manual', 'v1.endpoint.enabled:']);
  });
});
