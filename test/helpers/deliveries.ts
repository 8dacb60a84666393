import { afterAll, beforeAll } from 'vitest';
import { apiClient, createEventType, createTenant, type ApiAnswer, type ApiCall } from './api.js';
import { receiverPool } from './receiver.js';
import { startTestStack, type TestStack } from './stack.js';

export interface TenantFixture {
  id: string;
  apiKey: string;
}

/** Asserts the status and returns the body, with the error body in the failure message. */
export async function expectStatus<T = any>(answer: Promise<ApiAnswer<T>>, status: number): Promise<T> {
  const response = await answer;
  if (response.status !== status) throw new Error(`expected HTTP ${status}, got ${response.status}: ${JSON.stringify(response.body)}`);
  return response.body;
}

export async function createEndpoint(call: ApiCall, tenant: TenantFixture, input: Record<string, unknown>) {
  return expectStatus(call('POST', `/v1/tenants/${tenant.id}/endpoints`, { key: tenant.apiKey, body: { event_types: ['*'], ...input } }), 201);
}

export async function publish(call: ApiCall, tenant: TenantFixture, eventType: string, data: unknown, headers: Record<string, string> = {}) {
  return expectStatus(call('POST', `/v1/tenants/${tenant.id}/events`, { key: tenant.apiKey, headers, body: { event_type: eventType, data } }), 202);
}

/** Polls until `check` returns a value (not undefined), or fails after `timeoutMs`. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 30_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what} not reached within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export async function waitForDeliveryStatus(call: ApiCall, tenant: TenantFixture, deliveryId: string, statuses: string[], timeoutMs = 30_000) {
  return eventually(
    async () => {
      const response = await call('GET', `/v1/tenants/${tenant.id}/deliveries/${deliveryId}`, { key: tenant.apiKey });
      return statuses.includes(response.body?.status) ? response.body : undefined;
    },
    timeoutMs,
    `delivery ${deliveryId} in ${statuses.join('|')}`,
  );
}

/** A test stack with one tenant and the event type v1.case.completed: where most delivery tests start. */
export async function startDeliveryStack(options: Parameters<typeof startTestStack>[0] = {}): Promise<{ stack: TestStack; call: ApiCall; tenant: TenantFixture }> {
  const stack = await startTestStack(options);
  const call = apiClient(stack);
  const tenant = await createTenant(call);
  await createEventType(call, 'v1.case.completed');
  return { stack, call, tenant };
}

/**
 * A delivery stack and a receiver pool for the describe block it is called in (started before its tests, stopped
 * after them): read `stack`, `call` and `tenant` from the returned object inside tests.
 */
export function useDeliveryStack(options: Parameters<typeof startTestStack>[0] = {}) {
  const suite = { receivers: receiverPool() } as { stack: TestStack; call: ApiCall; tenant: TenantFixture; receivers: ReturnType<typeof receiverPool> };
  beforeAll(async () => {
    Object.assign(suite, await startDeliveryStack(options));
  });
  afterAll(async () => {
    await suite.stack?.stop();
    await suite.receivers.closeAll();
  });
  return suite;
}
