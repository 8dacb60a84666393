import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { answer, receiverPool } from './helpers/receiver.js';
import type { ApiCall } from './helpers/api.js';
import type { TestStack } from './helpers/stack.js';
import { createEndpoint, expectStatus, publish, startDeliveryStack, waitForDeliveryStatus, type TenantFixture } from './helpers/deliveries.js';
import { MockActivityEnvironment } from '@temporalio/testing';
import { deliveryWorkflowId } from '../workflows/contracts.js';
import { createActivities } from '../activities/index.js';

/**
 * Replay and recover with the real `temporal` CLI only (README "With the `temporal` CLI only"): the workflows
 * replayDelivery and recoverWorkflow (operator input) do what the API's routes do, and bad input fails them at once.
 */
describe('operators with only the temporal CLI', () => {
  let stack: TestStack;
  let call: ApiCall;
  let tenant: TenantFixture;
  const receivers = receiverPool();
  let run = 0;

  beforeAll(async () => {
    ({ stack, call, tenant } = await startDeliveryStack());
  });
  afterAll(async () => {
    await stack?.stop();
    await receivers.closeAll();
  });

  /** The CLI against the test stack; resolves with its exit code and output whatever the code. */
  const temporal = (args: string[]) =>
    promisify(execFile)(inject('temporalCli'), [...args, '--address', stack.config.TEMPORAL_ADDRESS]).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: error.code ?? 1, stdout: error.stdout ?? '', stderr: error.stderr ?? '' }),
    );

  /** `temporal workflow start --type <type> --task-queue <queue> --input <json>`, then its result as JSON (code 0) or its failure. */
  async function startAndWait(type: string, input: unknown) {
    const workflowId = `cli-${type}-${Date.now()}-${++run}`;
    const started = await temporal(['workflow', 'start', '--type', type, '--task-queue', stack.config.TEMPORAL_TASK_QUEUE, '--workflow-id', workflowId, '--input', JSON.stringify(input)]);
    expect(started.code, started.stderr).toBe(0);
    const result = await temporal(['workflow', 'result', '--workflow-id', workflowId, '--output', 'json']);
    const description = JSON.parse((await temporal(['workflow', 'describe', '--workflow-id', workflowId, '--output', 'json'])).stdout);
    return { workflowId, result, status: description.workflowExecutionInfo.status as string };
  }

  /** A delivery of a new event to the endpoint that failed (no retries), its receiver then answering 200. */
  async function failedDelivery(options: { deliveries?: number } = {}) {
    const target = await receivers.start(answer(500));
    const endpoint = await createEndpoint(call, tenant, { url: target.url, event_types: ['v1.case.completed'], retry_schedule: [] });
    const deliveryIds: string[] = [];
    for (let n = 0; n < (options.deliveries ?? 1); n++) {
      const published = await publish(call, tenant, 'v1.case.completed', { n, case: 'cli' });
      const deliveryId = published.deliveries.find((delivery: { endpoint_id: string }) => delivery.endpoint_id === endpoint.id).delivery_id as string;
      await waitForDeliveryStatus(call, tenant, deliveryId, ['failed']);
      deliveryIds.push(deliveryId);
    }
    target.respondWith(answer(200));
    return { target, endpoint, deliveryIds };
  }

  it('replayDelivery {delivery_id} replays a failed delivery as the API does: a new linked row, delivered with the same payload', async () => {
    const { target, endpoint, deliveryIds } = await failedDelivery();
    const original = deliveryIds[0]!;
    const { result, status } = await startAndWait('replayDelivery', { delivery_id: original });
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(status).toBe('WORKFLOW_EXECUTION_STATUS_COMPLETED');
    const replay = JSON.parse(result.stdout).result as { replay_delivery_id: string; workflow_id: string };
    expect(replay).toEqual({ replay_delivery_id: expect.stringMatching(/^whd_/), workflow_id: deliveryWorkflowId(replay.replay_delivery_id) });
    expect(replay.replay_delivery_id).not.toBe(original);

    const delivered = await waitForDeliveryStatus(call, tenant, replay.replay_delivery_id, ['delivered']);
    expect(delivered).toMatchObject({ replay_of: original, endpoint_id: endpoint.id, attempts: 1 });
    const [first, second] = await target.waitForRequests(2);
    expect(second!.headers['webhook-id']).toBe(replay.replay_delivery_id);
    const verify = (body: string, headers: Record<string, string>) => new Webhook(endpoint.secret).verify(body, headers) as { event_id: string; data: unknown };
    const [sent, resent] = [verify(first!.body, first!.headers as Record<string, string>), verify(second!.body, second!.headers as Record<string, string>)];
    expect(resent.event_id).toBe(sent.event_id);
    expect(resent.data).toEqual(sent.data);
    expect((await stack.temporal.workflow.getHandle(replay.workflow_id).describe()).status.name).toBe('COMPLETED');
  });

  it('recoverWorkflow {tenant_id, endpoint_id, since} creates its recovery row (with its workflow id) and replays the failed deliveries', async () => {
    const { endpoint, deliveryIds } = await failedDelivery({ deliveries: 3 });
    const { workflowId, result, status } = await startAndWait('recoverWorkflow', { tenant_id: tenant.id, endpoint_id: endpoint.id, since: '1h', batch_size: 2 });
    expect(result.code, result.stderr + result.stdout).toBe(0);
    expect(status).toBe('WORKFLOW_EXECUTION_STATUS_COMPLETED');
    expect(JSON.parse(result.stdout).result).toEqual({ total: 3, replayed: 3, remaining: 0 });

    const [recovery] = await stack.sql<{ id: string; workflow_id: string; status: string; total: number; replayed: number; batch_size: number }[]>`
      select id, workflow_id, status, total, replayed, batch_size from recoveries where endpoint_id = ${endpoint.id}`;
    expect(recovery).toMatchObject({ workflow_id: workflowId, status: 'completed', total: 3, replayed: 3, batch_size: 2 });
    const replays = await stack.sql<{ id: string; replay_of: string }[]>`select id, replay_of from deliveries where recovery_id = ${recovery!.id} order by replay_of`;
    expect(replays.map((replay) => replay.replay_of)).toEqual([...deliveryIds].sort());
    for (const replay of replays) await waitForDeliveryStatus(call, tenant, replay.id, ['delivered']);
    // The API shows it like its own recoveries, under the operator's workflow id.
    const shown = await expectStatus(call('GET', `/v1/tenants/${tenant.id}/endpoints/${endpoint.id}/recoveries/${recovery!.id}`, { key: tenant.apiKey }), 200);
    expect(shown).toMatchObject({ workflow_id: workflowId, status: 'completed', total: 3, replayed: 3 });
  });

  it('fails at once, with the reason, on bad input: no delivery id, an unknown delivery, a disabled endpoint without force, a bad window', async () => {
    const { endpoint, deliveryIds } = await failedDelivery();
    await expectStatus(call('POST', `/v1/tenants/${tenant.id}/endpoints/${endpoint.id}/disable`, { key: tenant.apiKey, body: {} }), 200);
    const cases: [type: string, input: unknown, message: string][] = [
      ['replayDelivery', {}, 'delivery_id is required (a non-empty string)'],
      ['replayDelivery', { delivery_id: 'whd_01J7W9S4TSQ0T4SH43JYB9W5R8' }, 'Delivery whd_01J7W9S4TSQ0T4SH43JYB9W5R8 not found'],
      ['replayDelivery', { delivery_id: deliveryIds[0] }, `Endpoint ${endpoint.id} is disabled; enable it first, or replay with force: true`],
      ['recoverWorkflow', { tenant_id: tenant.id, endpoint_id: endpoint.id }, 'since is required (a non-empty string)'],
      ['recoverWorkflow', { tenant_id: tenant.id, endpoint_id: endpoint.id, since: 'yesterday', force: true }, 'since: must be an ISO 8601 date'],
      ['recoverWorkflow', { tenant_id: tenant.id, endpoint_id: endpoint.id, since: '1h' }, `Endpoint ${endpoint.id} is disabled; enable it first, or recover with force: true`],
    ];
    for (const [type, input, message] of cases) {
      const started = Date.now();
      const { result, status } = await startAndWait(type, input);
      expect(Date.now() - started, `${type} ${JSON.stringify(input)} took too long`).toBeLessThan(15_000);
      expect(result.code, `${type} ${JSON.stringify(input)}`).not.toBe(0);
      // The workflow's own failure carries the reason (not "Activity task failed"), non-retryable.
      const failure = JSON.parse(result.stdout).closeEvent.workflowExecutionFailedEventAttributes.failure;
      expect(failure.message.startsWith(message), failure.message).toBe(true);
      expect(failure.applicationFailureInfo.nonRetryable).toBe(true);
      expect(status).toBe('WORKFLOW_EXECUTION_STATUS_FAILED');
    }
    // With force the disabled endpoint's delivery is replayed (and fails as endpoint_disabled), as with the API.
    const forced = await startAndWait('replayDelivery', { delivery_id: deliveryIds[0], force: true });
    expect(forced.result.code, forced.result.stderr).toBe(0);
    await waitForDeliveryStatus(call, tenant, JSON.parse(forced.result.stdout).result.replay_delivery_id, ['failed']);
  });

  it('an activity retried after its insert committed (the worker died before reporting) finds its replay and recovery: no second row', async () => {
    const { endpoint, deliveryIds } = await failedDelivery();
    const activities = createActivities({ sql: stack.sql, config: stack.config, temporal: stack.temporal, logger: stack.logger });
    // Two attempts of one scheduled activity of one workflow run: the same workflow execution, activity id and schedule time.
    const attempt = (attemptNumber: number) =>
      new MockActivityEnvironment({
        workflowExecution: { workflowId: `cli-retried-${endpoint.id}`, runId: '7a1f3c2e-0000-4000-8000-000000000001' },
        activityId: '1',
        scheduledTimestampMs: 1_764_000_000_000,
        attempt: attemptNumber,
      });
    const replays: Awaited<ReturnType<typeof activities.replayDeliveryById>>[] = [
      await attempt(1).run(activities.replayDeliveryById, { deliveryId: deliveryIds[0]! }),
      await attempt(2).run(activities.replayDeliveryById, { deliveryId: deliveryIds[0]! }),
    ];
    expect(replays[1]).toEqual(replays[0]);
    const rows = await stack.sql<{ id: string }[]>`select id from deliveries where replay_of = ${deliveryIds[0]!}`;
    expect(rows.map((row) => row.id)).toEqual([replays[0]!.replay_delivery_id]);

    const input = { tenant_id: tenant.id, endpoint_id: endpoint.id, since: '1h', status: 'failed' as const, batch_size: 10, force: false };
    const recoveries: Awaited<ReturnType<typeof activities.createOperatorRecovery>>[] = [await attempt(1).run(activities.createOperatorRecovery, input), await attempt(2).run(activities.createOperatorRecovery, input)];
    expect(recoveries[1]).toEqual(recoveries[0]);
    expect((await stack.sql`select id from recoveries where endpoint_id = ${endpoint.id}`).map((row) => row.id)).toEqual([recoveries[0]!.recoveryId]);
  });
});
