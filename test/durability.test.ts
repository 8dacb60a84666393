import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnWorkerProcess, startTestStack, type TestStack } from './helpers/stack.js';
import { startReceiver, type TestReceiver } from './helpers/receiver.js';
import { apiClient, createEventType, createTenant, type ApiCall } from './helpers/api.js';
import { createEndpoint, publish, waitForDeliveryStatus, type TenantFixture } from './helpers/deliveries.js';

describe('durability across a worker crash', () => {
  let stack: TestStack;
  let call: ApiCall;
  let tenant: TenantFixture;
  let target: TestReceiver;

  beforeAll(async () => {
    stack = await startTestStack({ worker: false });
    call = apiClient(stack);
    tenant = await createTenant(call);
    await createEventType(call, 'v1.case.completed');
  });
  afterAll(async () => {
    await target?.close();
    await stack?.stop();
  });

  it('delivers exactly once more, with the same delivery_id, after the worker is killed mid-attempt', async () => {
    let hang = true;
    target = await startReceiver((_request, response) => {
      // The first attempt never gets an answer: its worker dies while waiting.
      if (hang) return;
      response.end('ok');
    });
    await createEndpoint(call, tenant, { url: target.url, event_types: ['v1.case.completed'], retry_schedule: ['1s', '1s'] });
    const doomed = spawnWorkerProcess(stack);
    const published = await publish(call, tenant, 'v1.case.completed', { n: 1 });
    const deliveryId = published.deliveries[0].delivery_id;
    await target.waitForRequests(1, 60_000);
    doomed.kill('SIGKILL');
    await new Promise((resolve) => doomed.once('exit', resolve));
    hang = false;
    await stack.startWorker();
    const delivery = await waitForDeliveryStatus(call, tenant, deliveryId, ['delivered'], 60_000);
    expect(target.requests.map((request) => request.headers['webhook-id'])).toEqual([deliveryId, deliveryId]);
    expect(delivery.attempts_log.map((attempt: { error_class: string | null; success: boolean }) => [attempt.error_class, attempt.success])).toEqual([
      ['interrupted', false],
      [null, true],
    ]);
  }, 90_000);
});
