import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, inject, it } from 'vitest';
import { WorkflowFailedError } from '@temporalio/client';
import { deliveryWorkflowId } from '../workflows/contracts.js';
import { startSweeper } from '../src/worker/sweeper.js';
import { createTenant } from './helpers/api.js';
import { createEndpoint, eventually, expectStatus, publish, useDeliveryStack, waitForDeliveryStatus } from './helpers/deliveries.js';
import { answer } from './helpers/receiver.js';
import { runNodeEntry } from './helpers/run-node.js';

/**
 * Ending a running delivery from outside its workflow: `POST …/deliveries/:id/cancel` and `herald deliveries cancel`
 * (the workflow finishes it as failed / cancelled), and the worker's sweeper, which ends deliveries whose workflows
 * were terminated (`temporal workflow terminate`: no cleanup runs) as failed / terminated.
 */
describe('cancelling and terminating deliveries', () => {
  const suite = useDeliveryStack();
  const { receivers } = suite;
  const path = (deliveryId: string) => `/v1/tenants/${suite.tenant.id}/deliveries/${deliveryId}`;

  /** A delivery of a new event waiting an hour for its second attempt (its receiver answers 500). */
  async function retryingDeliveryTo() {
    const dead = await receivers.start(answer(500));
    const endpoint = await createEndpoint(suite.call, suite.tenant, { url: dead.url, event_types: ['v1.case.completed'], retry_schedule: ['1h'] });
    const published = await publish(suite.call, suite.tenant, 'v1.case.completed', { case: 'operations' });
    const deliveryId = published.deliveries.find((delivery: { endpoint_id: string }) => delivery.endpoint_id === endpoint.id).delivery_id as string;
    await waitForDeliveryStatus(suite.call, suite.tenant, deliveryId, ['retrying']);
    return { deliveryId, receiver: dead };
  }
  const retryingDelivery = async () => (await retryingDeliveryTo()).deliveryId;

  it('POST …/cancel ends a retrying delivery failed (cancelled) through its workflow; 409 once ended, 404 for unknown or another tenant’s', async () => {
    const deliveryId = await retryingDelivery();
    const other = await createTenant(suite.call, { name: 'Other' });
    const foreign = await suite.call('POST', `/v1/tenants/${other.id}/deliveries/${deliveryId}/cancel`, { key: other.apiKey });
    expect(foreign.status).toBe(404);
    // Another tenant's key on this tenant's path is refused before anything is looked up.
    expect((await suite.call('POST', `${path(deliveryId)}/cancel`, { key: other.apiKey })).status).toBe(404);

    const cancelled = await expectStatus(suite.call('POST', `${path(deliveryId)}/cancel`, { key: suite.tenant.apiKey }), 200);
    expect(cancelled).toMatchObject({ id: deliveryId, status: 'failed', failure_reason: 'cancelled', attempts: 1, next_attempt_at: null });
    expect(cancelled.completed_at).toEqual(expect.any(String));
    // Its workflow did it, as with `temporal workflow cancel`: it has closed (how it closes is the workflow's business,
    // test/workflow-visibility.test.ts), and the cancellation request is in its history.
    const handle = suite.stack.temporal.workflow.getHandle(deliveryWorkflowId(deliveryId));
    expect(await handle.result().then(() => 'completed', (error: unknown) => error instanceof WorkflowFailedError)).toBe(true);
    expect((await handle.fetchHistory()).events?.some((event) => event.workflowExecutionCancelRequestedEventAttributes)).toBe(true);

    const again = await suite.call('POST', `${path(deliveryId)}/cancel`, { key: suite.tenant.apiKey });
    expect(again.status).toBe(409);
    expect(again.body.error).toMatchObject({ code: 'conflict', message: `Delivery ${deliveryId} has already ended (failed, cancelled); there is nothing to cancel` });
    const unknown = await suite.call('POST', `${path('whd_01J7W9S4TSQ0T4SH43JYB9W5R8')}/cancel`, { key: suite.tenant.apiKey });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('not_found');

    // Documented: the route is in the OpenAPI document with its answers.
    const document = (await (await fetch(`${suite.stack.apiUrl}/openapi.json`)).json()) as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
      components: { schemas: Record<string, { properties: Record<string, { enum?: (string | null)[] }> }> };
    };
    const operation = document.paths['/v1/tenants/{tenant_id}/deliveries/{delivery_id}/cancel']?.post;
    expect(Object.keys(operation?.responses ?? {})).toEqual(expect.arrayContaining(['200', '202', '404', '409']));
    expect(document.components.schemas.Delivery!.properties.failure_reason!.enum).toEqual(
      expect.arrayContaining(['retries_exhausted', 'endpoint_disabled', 'endpoint_gone', 'delivery_not_found', 'cancelled', 'terminated']),
    );
  }, 60_000);

  it('herald deliveries cancel <id> cancels, and says why not once the delivery has ended', async () => {
    const deliveryId = await retryingDelivery();
    const herald = (args: string[]) =>
      runNodeEntry('src/cli/main.ts', args, {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        HERALD_URL: suite.stack.apiUrl,
        HERALD_API_KEY: suite.tenant.apiKey,
        HERALD_TENANT: suite.tenant.id,
      });
    const run = await herald(['deliveries', 'cancel', deliveryId]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toBe(`delivery ${deliveryId} cancelled: failed (cancelled) after 1 attempt\n`);
    const again = await herald(['deliveries', 'cancel', deliveryId]);
    expect(again.status).toBe(2);
    expect(again.stderr).toBe(`herald: HTTP 409 conflict: Delivery ${deliveryId} has already ended (failed, cancelled); there is nothing to cancel\n`);
    expect((await herald(['deliveries', '--help'])).stdout).toMatch(/cancel \[options\] <delivery_id>/);
  }, 60_000);

  it('temporal workflow cancel ends a retrying delivery failed (cancelled), its workflow Failed as Cancelled, with no further attempt', async () => {
    const { deliveryId, receiver } = await retryingDeliveryTo();
    await promisify(execFile)(inject('temporalCli'), ['workflow', 'cancel', '--workflow-id', deliveryWorkflowId(deliveryId), '--address', suite.stack.config.TEMPORAL_ADDRESS]);
    const cancelled = await waitForDeliveryStatus(suite.call, suite.tenant, deliveryId, ['failed']);
    expect(cancelled).toMatchObject({ status: 'failed', failure_reason: 'cancelled', attempts: 1, next_attempt_at: null });
    const failure = await suite.stack.temporal.workflow.getHandle(deliveryWorkflowId(deliveryId)).result().then(
      () => undefined,
      (error: unknown) => (error instanceof WorkflowFailedError ? error.cause : error),
    );
    expect(failure).toMatchObject({ type: 'Cancelled' });
    expect(receiver.requests).toHaveLength(1);
  }, 60_000);

  it('the sweeper ends a delivery whose workflow was terminated (temporal workflow terminate) failed / terminated, and leaves running ones alone', async () => {
    const terminatedId = await retryingDelivery();
    const runningId = await retryingDelivery();
    // The test stack runs no sweeper: this one sweeps its database every 200 ms, checking rows unchanged for 1 s.
    const stopSweeper = startSweeper(
      { sql: suite.stack.sql, temporal: suite.stack.temporal, taskQueue: suite.stack.config.TEMPORAL_TASK_QUEUE, logger: suite.stack.logger },
      { everyMs: 200, terminated: { staleMs: 1000, limit: 1 } },
    );
    try {
      await promisify(execFile)(inject('temporalCli'), [
        'workflow', 'terminate', '--workflow-id', deliveryWorkflowId(terminatedId), '--reason', 'test', '--address', suite.stack.config.TEMPORAL_ADDRESS,
      ]);
      const ended = await eventually(
        async () => {
          const [row] = await suite.stack.sql<{ status: string; failure_reason: string | null; completed_at: Date | null }[]>`
            select status, failure_reason, completed_at from deliveries where id = ${terminatedId}`;
          return row?.status === 'failed' ? row : undefined;
        },
        15_000,
        'the terminated delivery ended by the sweeper',
      );
      expect(ended).toMatchObject({ status: 'failed', failure_reason: 'terminated', completed_at: expect.any(Date) });
      expect((await suite.stack.temporal.workflow.getHandle(deliveryWorkflowId(terminatedId)).describe()).status.name).toBe('TERMINATED');
      // A limit of 1 a sweep: by now the sweeper has been through the running one several times and left it.
      await new Promise((resolve) => setTimeout(resolve, 1000));
      expect((await suite.call('GET', path(runningId), { key: suite.tenant.apiKey })).body).toMatchObject({ status: 'retrying', live: true });
      expect((await suite.call('GET', path(terminatedId), { key: suite.tenant.apiKey })).body).toMatchObject({ status: 'failed', failure_reason: 'terminated', live: false });
    } finally {
      await stopSweeper();
    }
  }, 60_000);
});
