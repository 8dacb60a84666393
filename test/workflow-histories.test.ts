import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import { inject } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { Worker } from '@temporalio/worker';
import {
  deliveryWorkflowId,
  endpointHealthWorkflowId,
  fanoutWorkflowId,
  recoverWorkflowId,
  workflowTypes,
  type ChannelMessageWorkflow,
  type DeliveryWorkflow,
  type EndpointHealthWorkflow,
  type FanoutWorkflow,
  type PingWorkflow,
  type RecoverWorkflowAnyInput,
  type ReplayDeliveryWorkflow,
} from '../workflows/contracts.js';
import { createEndpoint, eventually, expectStatus, publish, startDeliveryStack, waitForDeliveryStatus, type TenantFixture } from './helpers/deliveries.js';
import { answer, receiverPool } from './helpers/receiver.js';
import type { ApiCall } from './helpers/api.js';
import type { TestStack } from './helpers/stack.js';

/**
 * Saved histories of every workflow type, replayed against today's workflow code: a change that would make a
 * running workflow non-deterministic fails here, before it reaches a cluster. The fixtures were recorded by the
 * code of their time (test/fixtures/histories/README.md); HERALD_CAPTURE_HISTORIES=<label> records a new set beside them.
 */
interface SavedHistory {
  events: { workflowExecutionStartedEventAttributes?: { workflowType?: { name?: string } } }[];
}

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'histories');

describe('workflow contracts', () => {
  it('workflows/index.ts exports the workflow functions only, named as workflows/contracts.ts starts them', async () => {
    const exported = Object.entries(await import('../workflows/index.js'));
    // Temporal registers every function the entry module exports as a workflow type: nothing else may be there.
    expect(exported.map(([name, value]) => [name, typeof value]).sort()).toEqual(
      ['channelMessageWorkflow', 'deliveryWorkflow', 'endpointHealthWorkflow', 'fanoutWorkflow', 'pingWorkflow', 'recoverWorkflow', 'replayDelivery'].map((name) => [name, 'function']),
    );
    expect(Object.values(workflowTypes).sort()).toEqual(exported.map(([name]) => name).sort());
    // The signatures callers start them with (checked by tsc).
    expectTypeOf<typeof import('../workflows/index.js')>().toEqualTypeOf<{
      channelMessageWorkflow: ChannelMessageWorkflow;
      deliveryWorkflow: DeliveryWorkflow;
      endpointHealthWorkflow: EndpointHealthWorkflow;
      fanoutWorkflow: FanoutWorkflow;
      pingWorkflow: PingWorkflow;
      recoverWorkflow: RecoverWorkflowAnyInput;
      replayDelivery: ReplayDeliveryWorkflow;
    }>();
  });
});

describe('saved workflow histories', () => {
  it('replay without non-determinism on the current workflow code', async () => {
    const files = (await readdir(fixtures)).filter((name) => name.endsWith('.json')).sort();
    expect(files.length).toBeGreaterThanOrEqual(7);
    const histories = await Promise.all(
      // As the CLI printed them: the worker converts JSON histories itself.
      files.map(async (name) => ({ workflowId: name.replace(/\.json$/, ''), history: JSON.parse(await readFile(path.join(fixtures, name), 'utf8')) as SavedHistory })),
    );
    const types = new Set(histories.map(({ history }) => history.events[0]?.workflowExecutionStartedEventAttributes?.workflowType?.name));
    expect([...types].sort()).toEqual(['deliveryWorkflow', 'endpointHealthWorkflow', 'fanoutWorkflow', 'pingWorkflow', 'recoverWorkflow', 'replayDelivery']);
    const failures: string[] = [];
    for await (const result of Worker.runReplayHistories({ workflowBundle: { codePath: inject('workflowBundlePath') } }, histories)) {
      if (result.error) failures.push(`${result.workflowId}: ${result.error.message}`);
    }
    expect(failures).toEqual([]);
  }, 120_000);

  it('keep failed deliveries of both kinds: closed Completed (before failed-closes-failed) and closed Failed (after it)', async () => {
    const failedDeliveries = (await readdir(fixtures)).filter((name) => name.endsWith('-delivery-failed-after-retries.json'));
    const closings = await Promise.all(
      failedDeliveries.map(async (name) => {
        const { events } = JSON.parse(await readFile(path.join(fixtures, name), 'utf8')) as { events: { eventType: string }[] };
        return events.at(-1)!.eventType;
      }),
    );
    // Both paths of the patch replay above: the old one (no marker, Completed) and the new one (Failed).
    expect(new Set(closings)).toEqual(new Set(['EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED', 'EVENT_TYPE_WORKFLOW_EXECUTION_FAILED']));
  });
  it('keep a delivery failed by its template: the template-error marker, closed Failed as TemplateError', async () => {
    const { events } = JSON.parse(await readFile(path.join(fixtures, 'template-error-delivery-failed-by-template.json'), 'utf8')) as {
      events: { eventType: string; markerRecordedEventAttributes?: { markerName?: string; details?: Record<string, { payloads?: { data?: string }[] }> }; workflowExecutionFailedEventAttributes?: { failure?: { applicationFailureInfo?: { type?: string } } } }[];
    };
    const patchIds = events
      .filter((event) => event.markerRecordedEventAttributes?.markerName === 'core_patch')
      .map((event) => JSON.parse(Buffer.from(event.markerRecordedEventAttributes!.details!['patch-data']!.payloads![0]!.data!, 'base64').toString()).id);
    expect(patchIds).toContain('template-error');
    expect(events.at(-1)!.workflowExecutionFailedEventAttributes?.failure?.applicationFailureInfo?.type).toBe('TemplateError');
  });
});

const captureLabel = process.env.HERALD_CAPTURE_HISTORIES;

describe.runIf(captureLabel)('recording workflow histories (HERALD_CAPTURE_HISTORIES=<label>)', () => {
  let stack: TestStack;
  let call: ApiCall;
  let tenant: TenantFixture;
  const receivers = receiverPool();

  beforeAll(async () => {
    ({ stack, call, tenant } = await startDeliveryStack({ healthReportsPerRun: 3 }));
    await mkdir(fixtures, { recursive: true });
  });
  afterAll(async () => {
    await stack?.stop();
    await receivers.closeAll();
  });

  /** Saves the workflow's (latest run's) history once it closed, as `temporal workflow show --output json` prints it. */
  const save = async (name: string, workflowId: string, options: { closed?: boolean } = {}) => {
    const handle = stack.temporal.workflow.getHandle(workflowId);
    if (options.closed !== false) await eventually(async () => ((await handle.describe()).status.name === 'RUNNING' ? undefined : true), 30_000, `${workflowId} closed`);
    const { stdout } = await promisify(execFile)(inject('temporalCli'), ['workflow', 'show', '--workflow-id', workflowId, '--address', stack.config.TEMPORAL_ADDRESS, '--output', 'json'], {
      maxBuffer: 64 * 1024 * 1024,
    });
    await writeFile(path.join(fixtures, `${captureLabel}-${name}.json`), stdout);
  };

  it('records a delivery delivered at its first attempt', async () => {
    const receiver = await receivers.start();
    const endpoint = await createEndpoint(call, tenant, { url: receiver.url });
    const event = await publish(call, tenant, 'v1.case.completed', { n: 1 });
    const deliveryId = event.deliveries.find((d: { endpoint_id: string }) => d.endpoint_id === endpoint.id).delivery_id;
    await waitForDeliveryStatus(call, tenant, deliveryId, ['delivered']);
    await save('delivery-delivered-first-attempt', deliveryWorkflowId(deliveryId));
    await call('DELETE', `/v1/tenants/${tenant.id}/endpoints/${endpoint.id}`, { key: tenant.apiKey });
  });

  it('records a delivery retried then delivered, and one failed after its retries (with its notice)', async () => {
    let calls = 0;
    const flaky = await receivers.start((request, response) => answer(++calls === 1 ? 500 : 200)(request, response));
    const dead = await receivers.start(answer(500));
    const notices = await receivers.start();
    const flakyEndpoint = await createEndpoint(call, tenant, { url: flaky.url, event_types: ['v1.case.completed'], retry_schedule: ['1s'] });
    const deadEndpoint = await createEndpoint(call, tenant, { url: dead.url, event_types: ['v1.case.completed'], retry_schedule: ['1s'], disable_after_failures: 2 });
    await createEndpoint(call, tenant, { url: notices.url, event_types: ['v1.webhook.delivery_failed', 'v1.endpoint.disabled'] });
    const event = await publish(call, tenant, 'v1.case.completed', { n: 2 });
    const idOf2 = (published: { deliveries: { endpoint_id: string; delivery_id: string }[] }, endpointId: string) =>
      published.deliveries.find((d) => d.endpoint_id === endpointId)!.delivery_id;
    const idOf = (endpointId: string) => idOf2(event, endpointId);
    await waitForDeliveryStatus(call, tenant, idOf(flakyEndpoint.id), ['delivered']);
    await waitForDeliveryStatus(call, tenant, idOf(deadEndpoint.id), ['failed']);
    await save('delivery-retried-then-delivered', deliveryWorkflowId(idOf(flakyEndpoint.id)));
    await save('delivery-failed-after-retries', deliveryWorkflowId(idOf(deadEndpoint.id)));

    // Two failed attempts disable the endpoint; the health workflow continues as new every 3 reports.
    await eventually(async () => ((await call('GET', `/v1/tenants/${tenant.id}/endpoints/${deadEndpoint.id}`, { key: tenant.apiKey })).body.active === false ? true : undefined));
    await save('endpoint-health-deactivation', endpointHealthWorkflowId(deadEndpoint.id), { closed: false });

    // A recovery of the failed delivery (the endpoint re-enabled and answering).
    dead.respondWith(answer(200));
    await expectStatus(call('POST', `/v1/tenants/${tenant.id}/endpoints/${deadEndpoint.id}/enable`, { key: tenant.apiKey, body: {} }), 200);
    const recovery = await expectStatus(
      call('POST', `/v1/tenants/${tenant.id}/endpoints/${deadEndpoint.id}/recover`, { key: tenant.apiKey, body: { since: new Date(Date.now() - 3_600_000).toISOString() } }),
      202,
    );
    await save('recover-one-delivery', recoverWorkflowId(recovery.recovery_id));
    // Failing again after the re-enable: the health workflow counts afresh and deactivates once more.
    dead.respondWith(answer(500));
    const again = await publish(call, tenant, 'v1.case.completed', { n: 4 });
    await waitForDeliveryStatus(call, tenant, idOf2(again, deadEndpoint.id), ['failed']);
    await eventually(async () => ((await call('GET', `/v1/tenants/${tenant.id}/endpoints/${deadEndpoint.id}`, { key: tenant.apiKey })).body.active === false ? true : undefined));
    await save('endpoint-health-reenabled-and-deactivated-again', endpointHealthWorkflowId(deadEndpoint.id), { closed: false });
  });

  it('records a fan-out and a ping', async () => {
    const receiver = await receivers.start();
    const endpoint = await createEndpoint(call, tenant, { url: receiver.url, event_types: ['v1.case.completed'] });
    const event = await publish(call, tenant, 'v1.case.completed', { n: 3 });
    const handle = await stack.temporal.workflow.start<FanoutWorkflow>(workflowTypes.fanout, {
      workflowId: fanoutWorkflowId(event.event_id),
      taskQueue: stack.config.TEMPORAL_TASK_QUEUE,
      args: [{ eventId: event.event_id }],
    });
    await handle.result();
    await save('fanout-one-batch', handle.workflowId);
    expect(event.deliveries.map((delivery: { endpoint_id: string }) => delivery.endpoint_id)).toContain(endpoint.id);

    const ping = await stack.temporal.workflow.start<PingWorkflow>(workflowTypes.ping, { workflowId: `ping-${Date.now()}`, taskQueue: stack.config.TEMPORAL_TASK_QUEUE });
    await ping.result();
    await save('ping', ping.workflowId);
  });

  it('records replayDelivery and an operator-input recoverWorkflow, started with the temporal CLI', async () => {
    const target = await receivers.start(answer(500));
    const endpoint = await createEndpoint(call, tenant, { url: target.url, event_types: ['v1.case.completed'], retry_schedule: [] });
    const event = await publish(call, tenant, 'v1.case.completed', { n: 5 });
    const original = event.deliveries.find((d: { endpoint_id: string }) => d.endpoint_id === endpoint.id).delivery_id;
    await waitForDeliveryStatus(call, tenant, original, ['failed']);
    target.respondWith(answer(200));
    const start = (type: string, workflowId: string, input: unknown) =>
      promisify(execFile)(inject('temporalCli'), [
        ...['workflow', 'start', '--type', type, '--task-queue', stack.config.TEMPORAL_TASK_QUEUE, '--workflow-id', workflowId],
        ...['--input', JSON.stringify(input), '--address', stack.config.TEMPORAL_ADDRESS],
      ]);
    await start('replayDelivery', `replay-${original}`, { delivery_id: original });
    await save('replay-delivery', `replay-${original}`);
    await start('replayDelivery', `replay-invalid-${original}`, {});
    await save('replay-delivery-invalid-input', `replay-invalid-${original}`);
    await start('recoverWorkflow', `recover-cli-${endpoint.id}`, { tenant_id: tenant.id, endpoint_id: endpoint.id, since: '1h' });
    await save('recover-operator-input', `recover-cli-${endpoint.id}`);
  });

  it('records a delivery failed by its template (template-error patch)', async () => {
    const receiver = await receivers.start();
    const endpoint = await createEndpoint(call, tenant, {
      url: receiver.url,
      event_types: ['v1.case.completed'],
      retry_schedule: ['1s'],
      template: { engine: 'liquid', source: '{"text": "{{ data.status }}"}' },
    });
    const event = await publish(call, tenant, 'v1.case.completed', { n: 20 });
    const deliveryId = event.deliveries.find((d: { endpoint_id: string }) => d.endpoint_id === endpoint.id).delivery_id;
    await waitForDeliveryStatus(call, tenant, deliveryId, ['failed']);
    await save('delivery-failed-by-template', deliveryWorkflowId(deliveryId));
    await expectStatus(call('DELETE', `/v1/tenants/${tenant.id}/endpoints/${endpoint.id}`, { key: tenant.apiKey }), 204);
  });

  it('records the delivery loop: retried, retried now (retryNow), failed, and resets that send again', async () => {
    const temporal = (...args: string[]) => promisify(execFile)(inject('temporalCli'), [...args, '--address', stack.config.TEMPORAL_ADDRESS]);
    const deliveryOf = async (endpointId: string, n: number) =>
      (await publish(call, tenant, 'v1.case.completed', { n })).deliveries.find((d: { endpoint_id: string }) => d.endpoint_id === endpointId).delivery_id as string;
    const resetsOf = (deliveryId: string, resets: number, statuses: string[]) =>
      eventually(async () => {
        const { body } = await call('GET', `/v1/tenants/${tenant.id}/deliveries/${deliveryId}`, { key: tenant.apiKey });
        return body.resets === resets && statuses.includes(body.status) ? body : undefined;
      }, 30_000, `delivery ${deliveryId} after reset ${resets}`);

    // Delivered at once, then reset to its last workflow task: the reset run sends it again (attempt 2).
    const ok = await receivers.start();
    const okEndpoint = await createEndpoint(call, tenant, { url: ok.url, event_types: ['v1.case.completed'], retry_schedule: ['1s'] });
    const delivered = await deliveryOf(okEndpoint.id, 10);
    await waitForDeliveryStatus(call, tenant, delivered, ['delivered']);
    await save('delivery-delivered-first-attempt', deliveryWorkflowId(delivered));
    await temporal('workflow', 'reset', '--workflow-id', deliveryWorkflowId(delivered), '--type', 'LastWorkflowTask', '--reason', 'recording');
    await resetsOf(delivered, 1, ['delivered']);
    await save('delivery-reset-delivered', deliveryWorkflowId(delivered));

    // Each endpoint is deleted after its deliveries, so later events do not reach its receiver.
    const remove = (endpointId: string) => expectStatus(call('DELETE', `/v1/tenants/${tenant.id}/endpoints/${endpointId}`, { key: tenant.apiKey }), 204);
    await remove(okEndpoint.id);

    // Failing once then answering: retried by its timer, and one retried at once by retryNow while it waits an hour.
    const flakyReceiver = async () => {
      let calls = 0;
      return receivers.start((request, response) => answer(++calls === 1 ? 500 : 200)(request, response));
    };
    const flakyEndpoint = await createEndpoint(call, tenant, { url: (await flakyReceiver()).url, event_types: ['v1.case.completed'], retry_schedule: ['1s'] });
    const retried = await deliveryOf(flakyEndpoint.id, 11);
    await waitForDeliveryStatus(call, tenant, retried, ['delivered']);
    await save('delivery-retried-then-delivered', deliveryWorkflowId(retried));
    await remove(flakyEndpoint.id);
    const slowEndpoint = await createEndpoint(call, tenant, { url: (await flakyReceiver()).url, event_types: ['v1.case.completed'], retry_schedule: ['1h'] });
    const waiting = await deliveryOf(slowEndpoint.id, 12);
    await waitForDeliveryStatus(call, tenant, waiting, ['retrying']);
    await temporal('workflow', 'update', 'execute', '--workflow-id', deliveryWorkflowId(waiting), '--name', 'retryNow');
    await waitForDeliveryStatus(call, tenant, waiting, ['delivered']);
    await save('delivery-retry-now', deliveryWorkflowId(waiting));
    await remove(slowEndpoint.id);

    // Failed after its retries; reset to its last workflow task once the receiver answers: its closing step finds the
    // delivery ended by the run it was reset from and sends again, delivered at attempt 3.
    const dead = await receivers.start(answer(500));
    const deadEndpoint = await createEndpoint(call, tenant, { url: dead.url, event_types: ['v1.case.completed'], retry_schedule: ['1s'], disable_after_failures: 10 });
    const failed = await deliveryOf(deadEndpoint.id, 13);
    await waitForDeliveryStatus(call, tenant, failed, ['failed']);
    await save('delivery-failed-after-retries', deliveryWorkflowId(failed));
    dead.respondWith(answer(200));
    await temporal('workflow', 'reset', '--workflow-id', deliveryWorkflowId(failed), '--type', 'LastWorkflowTask', '--reason', 'recording');
    await resetsOf(failed, 1, ['delivered']);
    await save('delivery-reset-failed', deliveryWorkflowId(failed));
    // …and reset again, to its first workflow task, with the endpoint disabled: it ends at once, EndpointDisabled.
    await expectStatus(call('POST', `/v1/tenants/${tenant.id}/endpoints/${deadEndpoint.id}/disable`, { key: tenant.apiKey, body: {} }), 200);
    await temporal('workflow', 'reset', '--workflow-id', deliveryWorkflowId(failed), '--type', 'FirstWorkflowTask', '--reason', 'recording');
    await resetsOf(failed, 2, ['failed']);
    await save('delivery-reset-endpoint-disabled', deliveryWorkflowId(failed));
  });
});
