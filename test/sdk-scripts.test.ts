import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliveryWorkflowId } from '../workflows/contracts.js';
import { createEndpoint, publish, useDeliveryStack, waitForDeliveryStatus } from './helpers/deliveries.js';
import { answer } from './helpers/receiver.js';
import { runNodeEntry } from './helpers/run-node.js';

/**
 * The SDK scripts (README "The SDK scripts"), each run as an operator runs it: a separate process with the Temporal
 * settings in its environment only (no API, no PostgreSQL), against the test stack's Temporal and task queue.
 */
describe('the Temporal SDK scripts in scripts/', () => {
  const suite = useDeliveryStack();
  const { receivers } = suite;
  let home: string;

  beforeAll(async () => {
    // An empty HERALD_HOME: no .herald/dev.json to fall back to.
    home = await mkdtemp(path.join(os.tmpdir(), 'herald-scripts-'));
  });
  afterAll(async () => {
    if (home) await rm(home, { recursive: true, force: true });
  });

  const script = (name: string, args: string[]) =>
    runNodeEntry(`scripts/${name}.ts`, args, {
      PATH: process.env.PATH,
      HERALD_HOME: home,
      TEMPORAL_ADDRESS: suite.stack.config.TEMPORAL_ADDRESS,
      TEMPORAL_TASK_QUEUE: suite.stack.config.TEMPORAL_TASK_QUEUE,
    });

  /** An endpoint answering `status`, and one delivery of a new event to it in one of `statuses`. */
  async function deliveryTo(status: number, retrySchedule: string[], statuses: string[]) {
    const target = await receivers.start(answer(status));
    const endpoint = await createEndpoint(suite.call, suite.tenant, { url: target.url, event_types: ['v1.case.completed'], retry_schedule: retrySchedule, disable_after_failures: 1000 });
    const published = await publish(suite.call, suite.tenant, 'v1.case.completed', { case: 'scripts' });
    const deliveryId = published.deliveries.find((delivery: { endpoint_id: string }) => delivery.endpoint_id === endpoint.id).delivery_id as string;
    await waitForDeliveryStatus(suite.call, suite.tenant, deliveryId, statuses);
    return { target, endpoint, deliveryId };
  }

  it('query.ts prints the progress query of a retrying delivery as JSON', async () => {
    const { deliveryId } = await deliveryTo(503, ['1h'], ['retrying']);
    const run = await script('query', [deliveryId]);
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'retrying', attempt: 1, max_attempts: 2, next_attempt_at: expect.any(String), last_status_code: 503 });

    const usage = await script('query', []);
    expect(usage.status).toBe(2);
    expect(usage.stderr).toBe('usage: node --import tsx scripts/query.ts <delivery_id>\n');
    const unknown = await script('query', ['whd_01J7W9S4TSQ0T4SH43JYB9W5R8']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toMatch(/^query: .*not found/i);
  }, 60_000);

  it('cancel.ts cancels a retrying delivery: its workflow ends it failed (cancelled)', async () => {
    const { deliveryId } = await deliveryTo(500, ['1h'], ['retrying']);
    const run = await script('cancel', [deliveryId]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toBe(`delivery ${deliveryId} failed (cancelled) after 1 attempt\n`);
    expect((await suite.call('GET', `/v1/tenants/${suite.tenant.id}/deliveries/${deliveryId}`, { key: suite.tenant.apiKey })).body).toMatchObject({
      status: 'failed',
      failure_reason: 'cancelled',
    });
  }, 60_000);

  it('reset.ts resets a delivery workflow to its first workflow task with a reason: a new run of the same workflow', async () => {
    const { deliveryId } = await deliveryTo(500, [], ['failed']);
    const handle = suite.stack.temporal.workflow.getHandle(deliveryWorkflowId(deliveryId));
    const before = (await handle.describe()).runId;
    const run = await script('reset', [deliveryId, '--reason', 'receiver fixed']);
    expect(run.status, run.stderr).toBe(0);
    const [, eventId, newRunId] = /^delivery-whd_\w+ reset to event (\d+) \(first workflow task\): new run (\S+)\n$/.exec(run.stdout) ?? [];
    expect(newRunId, run.stdout).toBeDefined();
    expect(newRunId).not.toBe(before);
    expect((await handle.describe()).runId).toBe(newRunId);
    // The reset and its reason are in the new run's history, at the first workflow task.
    const history = await suite.stack.temporal.workflow.getHandle(deliveryWorkflowId(deliveryId), newRunId).fetchHistory();
    const failedTask = history.events?.find((event) => event.workflowTaskFailedEventAttributes)?.workflowTaskFailedEventAttributes;
    expect(failedTask).toMatchObject({ identity: expect.any(String), failure: { message: 'receiver fixed' } });
    expect(Number(history.events!.find((event) => event.workflowTaskFailedEventAttributes)!.eventId)).toBe(Number(eventId));
  }, 60_000);

  it('bulk-recover.ts starts recoverWorkflow with the operator input and follows it to the end; bad input fails with the reason', async () => {
    const { target, endpoint, deliveryId } = await deliveryTo(500, [], ['failed']);
    const second = (await publish(suite.call, suite.tenant, 'v1.case.completed', { case: 'scripts-2' })).deliveries.find(
      (delivery: { endpoint_id: string }) => delivery.endpoint_id === endpoint.id,
    ).delivery_id as string;
    await waitForDeliveryStatus(suite.call, suite.tenant, second, ['failed']);
    target.respondWith(answer(200));

    const run = await script('bulk-recover', [suite.tenant.id, endpoint.id, '--since', '1h', '--batch-size', '1']);
    expect(run.status, run.stderr).toBe(0);
    const [started, done] = run.stdout.trim().split('\n');
    expect(started).toMatch(new RegExp(`^recovery workflow recover-sdk-${endpoint.id}-\\d+ started$`));
    expect(done).toBe('recovery completed: 2 of 2 deliveries replayed');
    const workflowId = /workflow (\S+) started/.exec(started!)![1];
    const [recovery] = await suite.stack.sql<{ id: string; workflow_id: string; status: string; batch_size: number }[]>`
      select id, workflow_id, status, batch_size from recoveries where endpoint_id = ${endpoint.id}`;
    expect(recovery).toMatchObject({ workflow_id: workflowId, status: 'completed', batch_size: 1 });
    const replays = await suite.stack.sql<{ replay_of: string }[]>`select replay_of from deliveries where recovery_id = ${recovery!.id} order by replay_of`;
    expect(replays.map((replay) => replay.replay_of)).toEqual([deliveryId, second].sort());

    const noSince = await script('bulk-recover', [suite.tenant.id, endpoint.id]);
    expect(noSince.status, noSince.stderr).toBe(2);
    expect(noSince.stderr).toMatch(/^bulk-recover: since is required/);
  }, 60_000);

  it('retry-now.ts is refused, exit code 2, when the delivery is not waiting for a retry (its workflow has ended)', async () => {
    const { deliveryId } = await deliveryTo(200, ['1h'], ['delivered']);
    const run = await script('retry-now', [deliveryId]);
    expect(run.status).toBe(2);
    expect(run.stderr).toMatch(new RegExp(`^retry-now: delivery ${deliveryId} is not waiting for a retry`));
  }, 60_000);

  it('retry-now.ts runs the next attempt of a delivery waiting for a retry at once, and prints the outcome', async () => {
    const { target, deliveryId } = await deliveryTo(503, ['1h'], ['retrying']);
    target.respondWith(answer(200));
    const run = await script('retry-now', [deliveryId]);
    expect(run.status, run.stderr).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ attempt: 2, status_code: 200, status: 'delivered' });
    await waitForDeliveryStatus(suite.call, suite.tenant, deliveryId, ['delivered']);
  }, 60_000);
});
