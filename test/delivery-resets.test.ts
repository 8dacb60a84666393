import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { WorkflowFailedError } from '@temporalio/client';
import { deliveryWorkflowId } from '../workflows/contracts.js';
import { createEndpoint, eventually, expectStatus, publish, useDeliveryStack, waitForDeliveryStatus } from './helpers/deliveries.js';
import { answer } from './helpers/receiver.js';
import { runHeraldCli } from './helpers/run-node.js';

/**
 * Issue 14: a reset of a delivery workflow (`temporal workflow reset`, the Web UI's Reset, the SDK) sends the delivery
 * again under the same id, and the `retryNow` update runs a waiting retry at once; with the real `temporal` CLI.
 */
describe('resets and retryNow of delivery workflows, with the temporal CLI', () => {
  const suite = useDeliveryStack();
  const { receivers } = suite;

  const temporalCli = async (...args: string[]) => (await promisify(execFile)(inject('temporalCli'), [...args, '--address', suite.stack.config.TEMPORAL_ADDRESS])).stdout;
  const deliveryTo = (published: { deliveries: { endpoint_id: string; delivery_id: string }[] }, endpointId: string) =>
    published.deliveries.find((delivery) => delivery.endpoint_id === endpointId)!.delivery_id;
  /** The herald CLI, as an operator runs it against this stack's API. */
  const herald = (...args: string[]) => runHeraldCli({ apiUrl: suite.stack.apiUrl, apiKey: suite.tenant.apiKey, tenantId: suite.tenant.id }, args);
  const getDelivery = async (deliveryId: string) =>
    expectStatus(suite.call('GET', `/v1/tenants/${suite.tenant.id}/deliveries/${deliveryId}`, { key: suite.tenant.apiKey }), 200);
  /** The delivery once its reset has run to the end (`resets` counts it, and it has ended). */
  const afterReset = (deliveryId: string, resets = 1) =>
    eventually(async () => {
      const delivery = await getDelivery(deliveryId);
      return delivery.resets === resets && ['delivered', 'failed'].includes(delivery.status) ? delivery : undefined;
    }, 20_000, `delivery ${deliveryId} ended after its reset`);
  /** A delivery to a receiver answering 500, once it has failed and its workflow has closed. */
  const failedDelivery = async (n: number, endpointSettings: Record<string, unknown>) => {
    const receiver = await receivers.start(answer(500));
    const endpoint = await createEndpoint(suite.call, suite.tenant, { url: receiver.url, event_types: ['v1.case.completed'], ...endpointSettings });
    const deliveryId = deliveryTo(await publish(suite.call, suite.tenant, 'v1.case.completed', { n }), endpoint.id);
    await waitForDeliveryStatus(suite.call, suite.tenant, deliveryId, ['failed']);
    const workflowId = deliveryWorkflowId(deliveryId);
    await suite.stack.temporal.workflow.getHandle(workflowId).result().catch(() => undefined);
    return { receiver, endpoint, deliveryId, workflowId };
  };

  it('a reset of a failed delivery after fixing the receiver delivers it: attempt 2, same webhook-id, the reset reason shown', async () => {
    const { receiver, endpoint, deliveryId, workflowId } = await failedDelivery(1, { retry_schedule: [] });

    receiver.respondWith(answer(200));
    await temporalCli('workflow', 'reset', '--workflow-id', workflowId, '--type', 'FirstWorkflowTask', '--reason', 'receiver fixed');
    const delivered = await afterReset(deliveryId);
    expect(delivered).toMatchObject({ status: 'delivered', attempts: 2, max_attempts: 2, failure_reason: null, reset_reason: expect.stringMatching(/(^|: )receiver fixed$/), resets: 1, last_status_code: 200 });
    expect(delivered.reset_at).toEqual(expect.any(String));
    expect(delivered.attempts_log.map((attempt: { attempt: number; success: boolean }) => [attempt.attempt, attempt.success])).toEqual([
      [1, false],
      [2, true],
    ]);
    // The same delivery, as Stripe's resend: one webhook-id for both requests.
    expect(receiver.requests.map((request) => request.headers['webhook-id'])).toEqual([deliveryId, deliveryId]);
    const result = await suite.stack.temporal.workflow.getHandle(workflowId).result();
    expect(result).toMatchObject({ status: 'delivered', attempt: 2 });
    // The herald CLI shows the reset.
    const shown = await herald('deliveries', 'show', deliveryId);
    expect(shown.status).toBe(0);
    expect(shown.stdout).toMatch(/reset:\s+1 time, latest \S+: (.*: )?receiver fixed/);
  }, 60_000);

  it('a reset of a delivered delivery (to its last workflow task) delivers it again as attempt 2', async () => {
    const receiver = await receivers.start();
    const endpoint = await createEndpoint(suite.call, suite.tenant, { url: receiver.url, event_types: ['v1.case.completed'], retry_schedule: ['1s'] });
    const deliveryId = deliveryTo(await publish(suite.call, suite.tenant, 'v1.case.completed', { n: 2 }), endpoint.id);
    await waitForDeliveryStatus(suite.call, suite.tenant, deliveryId, ['delivered']);
    const workflowId = deliveryWorkflowId(deliveryId);
    await suite.stack.temporal.workflow.getHandle(workflowId).result();

    await temporalCli('workflow', 'reset', '--workflow-id', workflowId, '--type', 'LastWorkflowTask', '--reason', 'resend please');
    const again = await afterReset(deliveryId);
    expect(again).toMatchObject({ status: 'delivered', attempts: 2, max_attempts: 3, reset_reason: expect.stringMatching(/(^|: )resend please$/), resets: 1 });
    expect(again.attempts_log.map((attempt: { attempt: number }) => attempt.attempt)).toEqual([1, 2]);
    expect(receiver.requests.map((request) => request.headers['webhook-id'])).toEqual([deliveryId, deliveryId]);
    expect(await suite.stack.temporal.workflow.getHandle(workflowId).result()).toMatchObject({ status: 'delivered', attempt: 2 });
  }, 60_000);

  it('a reset of a delivery whose endpoint is disabled ends at once, failed with that reason, and never calls the receiver', async () => {
    const { receiver, endpoint, deliveryId, workflowId } = await failedDelivery(3, { retry_schedule: [] });
    await expectStatus(suite.call('POST', `/v1/tenants/${suite.tenant.id}/endpoints/${endpoint.id}/disable`, { key: suite.tenant.apiKey, body: {} }), 200);

    await temporalCli('workflow', 'reset', '--workflow-id', workflowId, '--type', 'FirstWorkflowTask', '--reason', 'try again');
    const ended = await afterReset(deliveryId);
    expect(ended).toMatchObject({ status: 'failed', failure_reason: 'endpoint_disabled', attempts: 1, reset_reason: expect.stringMatching(/(^|: )try again$/), resets: 1 });
    const closed = await suite.stack.temporal.workflow.getHandle(workflowId).result().then(
      () => undefined,
      (error: unknown) => error,
    );
    expect(closed).toBeInstanceOf(WorkflowFailedError);
    expect((closed as WorkflowFailedError).cause).toMatchObject({
      type: 'EndpointDisabled',
      message: `delivery ${deliveryId} failed after 1 attempt: endpoint ${endpoint.id} is disabled or deleted`,
    });
    expect(receiver.requests).toHaveLength(1);
  }, 60_000);

  it('a reset to the last workflow task of a delivery failed after its retries sends again with a fresh budget (attempts 3 and 4), from the SDK too', async () => {
    const { receiver, endpoint, deliveryId, workflowId } = await failedDelivery(6, { retry_schedule: ['1s'], disable_after_failures: 20 });

    // Still failing: the reset's own series (attempts 3 and 4) fails again, under the schedule's budget of 2.
    await temporalCli('workflow', 'reset', '--workflow-id', workflowId, '--type', 'LastWorkflowTask', '--reason', 'one more time');
    const again = await afterReset(deliveryId);
    expect(again).toMatchObject({ status: 'failed', failure_reason: 'retries_exhausted', attempts: 4, max_attempts: 4, resets: 1 });
    expect(again.attempts_log.map((attempt: { attempt: number }) => attempt.attempt)).toEqual([1, 2, 3, 4]);
    // Each failed series is announced: the first failure and the reset's failure are two delivery_failed notices.
    const notices = await suite.stack.sql<{ count: number }[]>`
      select count(*)::int as count from events where event_type = 'v1.webhook.delivery_failed' and data->>'delivery_id' = ${deliveryId}`;
    expect(notices[0]!.count).toBe(2);

    // From the SDK (the Web UI's Reset sends the same request): to an event id, the first workflow task's completion.
    receiver.respondWith(answer(200));
    const handle = suite.stack.temporal.workflow.getHandle(workflowId);
    const { events } = await handle.fetchHistory();
    const firstTaskCompleted = events!.find((event) => event.workflowTaskCompletedEventAttributes)!.eventId!;
    const { runId } = await handle.describe();
    await suite.stack.temporal.workflowService.resetWorkflowExecution({
      namespace: suite.stack.temporal.options.namespace,
      workflowExecution: { workflowId, runId },
      workflowTaskFinishEventId: firstTaskCompleted,
      reason: 'receiver answers again',
      requestId: `reset-${deliveryId}`,
    });
    const delivered = await afterReset(deliveryId, 2);
    expect(delivered).toMatchObject({ status: 'delivered', attempts: 5, reset_reason: 'receiver answers again', resets: 2 });
    expect(new Set(receiver.requests.map((request) => request.headers['webhook-id']))).toEqual(new Set([deliveryId]));
  }, 60_000);

  it('a reset of a delivery still waiting for its retry sends it at once, with a fresh budget', async () => {
    const receiver = await receivers.start(answer(500));
    const endpoint = await createEndpoint(suite.call, suite.tenant, { url: receiver.url, event_types: ['v1.case.completed'], retry_schedule: ['1h'] });
    const deliveryId = deliveryTo(await publish(suite.call, suite.tenant, 'v1.case.completed', { n: 8 }), endpoint.id);
    await waitForDeliveryStatus(suite.call, suite.tenant, deliveryId, ['retrying']);
    receiver.respondWith(answer(200));
    await temporalCli('workflow', 'reset', '--workflow-id', deliveryWorkflowId(deliveryId), '--type', 'LastWorkflowTask', '--reason', 'do not wait an hour');
    const delivered = await afterReset(deliveryId);
    // Attempt 2 (the log goes on); the budget: the attempt made before the reset plus the schedule's two.
    expect(delivered).toMatchObject({ status: 'delivered', attempts: 2, max_attempts: 3, resets: 1 });
    expect(receiver.requests.map((request) => request.headers['webhook-id'])).toEqual([deliveryId, deliveryId]);
  }, 60_000);

  it('retryNow runs a retry scheduled in an hour at once: from the temporal CLI and from the API; 409 once delivered', async () => {
    let calls = 0;
    const receiver = await receivers.start((request, response) => answer(++calls % 2 === 1 ? 500 : 200)(request, response));
    const endpoint = await createEndpoint(suite.call, suite.tenant, { url: receiver.url, event_types: ['v1.case.completed'], retry_schedule: ['1h'] });

    const viaCli = deliveryTo(await publish(suite.call, suite.tenant, 'v1.case.completed', { n: 4 }), endpoint.id);
    await waitForDeliveryStatus(suite.call, suite.tenant, viaCli, ['retrying']);
    const started = Date.now();
    const printed = await temporalCli('workflow', 'update', 'execute', '--workflow-id', deliveryWorkflowId(viaCli), '--name', 'retryNow');
    expect(Date.now() - started).toBeLessThan(3000);
    expect(printed).toMatch(/delivered/);
    expect(await getDelivery(viaCli)).toMatchObject({ status: 'delivered', attempts: 2 });

    const viaApi = deliveryTo(await publish(suite.call, suite.tenant, 'v1.case.completed', { n: 5 }), endpoint.id);
    await waitForDeliveryStatus(suite.call, suite.tenant, viaApi, ['retrying']);
    const before = Date.now();
    const outcome = await expectStatus(suite.call('POST', `/v1/tenants/${suite.tenant.id}/deliveries/${viaApi}/retry`, { key: suite.tenant.apiKey }), 200);
    expect(Date.now() - before).toBeLessThan(1000);
    expect(outcome).toEqual({ attempt: 2, status_code: 200, status: 'delivered' });
    expect(await waitForDeliveryStatus(suite.call, suite.tenant, viaApi, ['delivered'])).toMatchObject({ attempts: 2 });

    // From the herald CLI: the attempt's outcome, exit 0 once delivered.
    const viaHerald = deliveryTo(await publish(suite.call, suite.tenant, 'v1.case.completed', { n: 7 }), endpoint.id);
    await waitForDeliveryStatus(suite.call, suite.tenant, viaHerald, ['retrying']);
    const retried = await herald('deliveries', 'retry', viaHerald);
    expect(retried).toMatchObject({ status: 0, stdout: 'attempt 2: delivered (HTTP 200)\n' });
    const notWaiting = await herald('deliveries', 'retry', viaHerald);
    expect(notWaiting.status).toBe(2);
    expect(notWaiting.stderr).toContain('409');

    const refused = await suite.call('POST', `/v1/tenants/${suite.tenant.id}/deliveries/${viaApi}/retry`, { key: suite.tenant.apiKey });
    expect(refused.status).toBe(409);
    expect(refused.body.error).toMatchObject({ code: 'conflict' });
    expect(JSON.stringify(refused.body)).toContain('not waiting for a retry: it is delivered');
    expect((await suite.call('POST', `/v1/tenants/${suite.tenant.id}/deliveries/whd_unknown/retry`, { key: suite.tenant.apiKey })).status).toBe(404);
  }, 60_000);
});
