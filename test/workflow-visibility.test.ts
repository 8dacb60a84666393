import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import { deliveryWorkflowId, endpointHealthWorkflowId, type DeliveryProgress } from '../workflows/contracts.js';
import { createEndpoint, eventually, expectStatus, publish, useDeliveryStack, waitForDeliveryStatus } from './helpers/deliveries.js';
import { answer } from './helpers/receiver.js';

/**
 * What an operator sees of Herald's workflows in Temporal (the Web UI, `temporal workflow describe`, list queries),
 * on the real dev server: a failed delivery's workflow is Failed with its failure type, every workflow has a one-line
 * summary, and a delivery waiting for a retry says so in its current details.
 */
describe('delivery workflows as the Temporal Web UI shows them', () => {
  const suite = useDeliveryStack();
  const { receivers } = suite;

  const deliveryTo = (published: { deliveries: { endpoint_id: string; delivery_id: string }[] }, endpointId: string) =>
    published.deliveries.find((delivery) => delivery.endpoint_id === endpointId)!.delivery_id;
  const temporalCli = async (...args: string[]) => (await promisify(execFile)(inject('temporalCli'), [...args, '--address', suite.stack.config.TEMPORAL_ADDRESS])).stdout;
  /** The workflow's current details, as the Web UI reads them (the built-in metadata query). */
  const currentDetails = async (handle: WorkflowHandle) => (await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails;
  const closedWith = (handle: WorkflowHandle) =>
    handle.result().then(
      () => undefined,
      (error: unknown) => error,
    );

  it('a delivery that exhausts its retries closes Failed (RetriesExhausted, naming the last error), is found by ExecutionStatus="Failed", and said why it waited', async () => {
    const dead = await receivers.start(answer(500));
    // The query string may hold a token: summaries leave it out.
    const endpoint = await createEndpoint(suite.call, suite.tenant, { url: `${dead.url}/hooks?token=not-for-the-ui`, event_types: ['v1.case.completed'], retry_schedule: ['4s', '1s'] });
    const deliveryId = deliveryTo(await publish(suite.call, suite.tenant, 'v1.case.completed', { n: 1 }), endpoint.id);
    const handle = suite.stack.temporal.workflow.getHandle(deliveryWorkflowId(deliveryId));
    // The receiver's URL as summaries show it: origin and path, no query.
    const shown = `${dead.url}/hooks`;

    // Publish answers before the workflow starts (the outbox): wait for it.
    const started = await eventually(() => handle.describe().catch(() => undefined), 10_000, 'the delivery workflow');
    expect(await started.staticSummary()).toBe(`v1.case.completed → ${shown} (Acme)`);
    // Waiting 4 s for attempt 2: the current details say which attempt failed, how, and when the next one is.
    const waiting = await eventually(async () => {
      const details = await currentDetails(handle);
      return details?.startsWith('attempt 1') ? details : undefined;
    }, 10_000, 'current details of the retry wait');
    expect(waiting).toMatch(/^attempt 1 of 3 failed \(HTTP 500\); next at \d\d:\d\d:\d\dZ$/);

    const failed = await waitForDeliveryStatus(suite.call, suite.tenant, deliveryId, ['failed']);
    expect(failed).toMatchObject({ attempts: 3, failure_reason: 'retries_exhausted', last_status_code: 500 });

    const closed = await closedWith(handle);
    expect(closed).toBeInstanceOf(WorkflowFailedError);
    const failure = (closed as WorkflowFailedError).cause as ApplicationFailure;
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'RetriesExhausted', nonRetryable: true, message: `delivery ${deliveryId} failed after 3 attempts: HTTP 500` });
    expect(failure.details?.[0]).toMatchObject<Partial<DeliveryProgress>>({ status: 'failed', attempt: 3, failure_reason: 'retries_exhausted' });
    const description = await handle.describe();
    expect(description.status.name).toBe('FAILED');
    expect(description.typedSearchAttributes.getAll().find(({ key }) => key.name === 'HeraldDeliveryStatus')?.value).toBe('failed');
    expect(await currentDetails(handle)).toBe(`delivery ${deliveryId} failed after 3 attempts: HTTP 500`);

    expect(await temporalCli('workflow', 'describe', '--workflow-id', handle.workflowId)).toMatch(/Status\s+FAILED/);
    // Visibility is eventually consistent.
    const listed = await eventually(async () => {
      const ids: string[] = [];
      for await (const workflow of suite.stack.temporal.workflow.list({ query: `ExecutionStatus="Failed" AND HeraldDeliveryStatus="failed" AND HeraldEndpointId="${endpoint.id}"` })) {
        ids.push(workflow.workflowId);
      }
      return ids.length > 0 ? ids : undefined;
    }, 20_000, 'the failed delivery in the Failed list');
    expect(listed).toEqual([handle.workflowId]);

    // The endpoint's health workflow (started by the first failed attempt's report) has its summary too.
    const health = await suite.stack.temporal.workflow.getHandle(endpointHealthWorkflowId(endpoint.id)).describe();
    expect(await health.staticSummary()).toBe(`health of ${shown} (Acme)`);

    // A recovery of it: a summary naming what it replays and where.
    const recovery = await expectStatus(
      suite.call('POST', `/v1/tenants/${suite.tenant.id}/endpoints/${endpoint.id}/recover`, { key: suite.tenant.apiKey, body: { since: new Date(Date.now() - 3_600_000).toISOString() } }),
      202,
    );
    const recoveryWorkflow = await suite.stack.temporal.workflow.getHandle(recovery.workflow_id).describe();
    expect(await recoveryWorkflow.staticSummary()).toBe(`recovery of failed deliveries → ${shown} (Acme)`);
  }, 60_000);

  it('a delivery whose endpoint is disabled while it waits closes Failed (EndpointDisabled); a delivered one completes', async () => {
    const flaky = await receivers.start(answer(503));
    const endpoint = await createEndpoint(suite.call, suite.tenant, { url: flaky.url, event_types: ['v1.case.completed'], retry_schedule: ['3s'] });
    const deliveryId = deliveryTo(await publish(suite.call, suite.tenant, 'v1.case.completed', { n: 2 }), endpoint.id);
    await waitForDeliveryStatus(suite.call, suite.tenant, deliveryId, ['retrying']);
    await expectStatus(suite.call('POST', `/v1/tenants/${suite.tenant.id}/endpoints/${endpoint.id}/disable`, { key: suite.tenant.apiKey, body: {} }), 200);
    await waitForDeliveryStatus(suite.call, suite.tenant, deliveryId, ['failed']);
    const closed = await closedWith(suite.stack.temporal.workflow.getHandle(deliveryWorkflowId(deliveryId)));
    expect(closed).toBeInstanceOf(WorkflowFailedError);
    expect((closed as WorkflowFailedError).cause).toMatchObject({
      type: 'EndpointDisabled',
      nonRetryable: true,
      message: `delivery ${deliveryId} failed after 1 attempt: endpoint ${endpoint.id} is disabled or deleted`,
    });

    const ok = await receivers.start();
    const healthy = await createEndpoint(suite.call, suite.tenant, { url: ok.url, event_types: ['v1.case.completed'] });
    const deliveredId = deliveryTo(await publish(suite.call, suite.tenant, 'v1.case.completed', { n: 3 }), healthy.id);
    await waitForDeliveryStatus(suite.call, suite.tenant, deliveredId, ['delivered']);
    const handle = suite.stack.temporal.workflow.getHandle(deliveryWorkflowId(deliveredId));
    expect(await handle.result()).toMatchObject({ status: 'delivered', attempt: 1 });
    expect((await handle.describe()).status.name).toBe('COMPLETED');
    expect(await currentDetails(handle)).toBe('delivered at attempt 1 of 8');
  }, 60_000);
});
