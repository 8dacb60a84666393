import { ApplicationFailure } from '@temporalio/activity';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOpenApiDocument, documentedRoutes } from '../src/api/openapi.js';
import { Conflict, Invalid, NotFound } from '../src/core/errors.js';
import { jsonNestingDepth } from '../src/core/json-depth.js';
import { operationalEventTypes, type OperationalEventData, type PublishedOperationalType } from '../src/core/operational-events.js';
import { validateEventData } from '../src/core/event-catalog.js';
import { publishOperationalEvent } from '../src/core/publish.js';
import { domainErrorsAreFinal } from '../src/worker/domain-errors.js';
import { deliveryWorkflowId } from '../workflows/contracts.js';
import { createEndpoint, eventually, expectStatus, publish, startDeliveryStack, waitForDeliveryStatus, type TenantFixture } from './helpers/deliveries.js';
import { answer, receiverPool } from './helpers/receiver.js';
import type { ApiCall } from './helpers/api.js';
import type { TestStack } from './helpers/stack.js';

const nestedArrays = (depth: number) => '['.repeat(depth) + ']'.repeat(depth);
/** A publish body whose `data` nests `depth` levels of objects (the body itself is one more). */
const publishBody = (dataDepth: number) => `{"event_type":"v1.case.completed","data":${'{"a":'.repeat(dataDepth)}1${'}'.repeat(dataDepth)}}`;
/** The adversarial test's request: `data` nested 100,000 levels deep, about 200 KB. */
const deepPublishBody = `{"event_type":"v1.case.completed","data":${nestedArrays(100_000)}}`;

describe('JSON nesting depth, read from the bytes', () => {
  it.each([
    ['a scalar', '42', 0],
    ['an empty object', '{}', 1],
    ['nested arrays', nestedArrays(5), 5],
    ['siblings do not add up', '[[1],[2],{"a":[3]}]', 3],
    ['brackets inside strings do not count', '{"a":"[[[[{{{{"}', 1],
    ['an escaped quote does not end a string', '{"a":"\\"[[[["}', 1],
    ['an escaped backslash before the closing quote', '{"a":"\\\\","b":[[1]]}', 3],
    ['multi-byte characters', '{"é😀":["ü"]}', 2],
  ])('%s: depth %#', (_what, json, depth) => {
    expect(jsonNestingDepth(json)).toBe(depth);
  });

  it('stops counting as soon as the limit is passed', () => {
    expect(jsonNestingDepth(nestedArrays(100_000), 64)).toBe(65);
  });
});

describe('domain errors in activities', () => {
  const run = async (error: Error) => {
    const interceptor = domainErrorsAreFinal().inbound!;
    return interceptor.execute!({ args: [], headers: {} }, async () => {
      throw error;
    }).catch((caught: unknown) => caught);
  };

  it.each([
    ['Conflict', new Conflict('already there')],
    ['Invalid', Invalid.field('body.x', 'is wrong', 'invalid')],
    ['NotFound', new NotFound('Endpoint')],
  ])('a %s ends the activity at once: non-retryable, typed by the error', async (type, error) => {
    const failure = await run(error);
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type, nonRetryable: true, message: error.message });
  });

  it('any other error is left to the retry policy', async () => {
    const error = new Error('connection refused');
    expect(await run(error)).toBe(error);
  });
});

describe('hardened API', () => {
  let stack: TestStack;
  let call: ApiCall;
  let tenant: TenantFixture;
  const receivers = receiverPool();

  beforeAll(async () => {
    ({ stack, call, tenant } = await startDeliveryStack());
  });
  afterAll(async () => {
    await stack?.stop();
    await receivers.closeAll();
  });

  describe('deeply nested bodies', () => {
    it('answers a 200 KB body nested 100,000 levels deep with 422 too_deep', async () => {
      expect(deepPublishBody.length).toBeGreaterThan(200_000);
      const answer = await call('POST', `/v1/tenants/${tenant.id}/events`, { key: tenant.apiKey, rawBody: deepPublishBody });
      expect(answer.status).toBe(422);
      expect(answer.body).toEqual({ error: { code: 'too_deep', message: expect.stringContaining('64 levels'), details: { max_depth: 64 } } });
      const objects = await call('POST', `/v1/tenants/${tenant.id}/events`, { key: tenant.apiKey, rawBody: publishBody(30_000) });
      expect(objects.body.error.code).toBe('too_deep');
    });

    it('accepts a body nested exactly HERALD_MAX_JSON_DEPTH (64) levels, and refuses one level more', async () => {
      // The body is one level; data adds the rest.
      expect((await call('POST', `/v1/tenants/${tenant.id}/events`, { key: tenant.apiKey, rawBody: publishBody(63) })).status).toBe(202);
      const deeper = await call('POST', `/v1/tenants/${tenant.id}/events`, { key: tenant.apiKey, rawBody: publishBody(64) });
      expect(deeper.status).toBe(422);
      expect(deeper.body.error.code).toBe('too_deep');
    });

    it('keeps /healthz answering while 20 such requests run at once', async () => {
      const floods = Array.from({ length: 20 }, () => call('POST', `/v1/tenants/${tenant.id}/events`, { key: tenant.apiKey, rawBody: deepPublishBody }));
      const health = await fetch(`${stack.apiUrl}/healthz`);
      expect(health.status).toBe(200);
      const answers = await Promise.all(floods);
      expect(answers.map((answer) => answer.body.error.code)).toEqual(Array(20).fill('too_deep'));
    });

    it('answers too_deep on every route that takes a body, and never reads a body on routes that take none', async () => {
      buildOpenApiDocument();
      const ids: Record<string, string> = { tenant_id: tenant.id, endpoint_id: 'ep_missing', event_id: 'evt_missing', delivery_id: 'dlv_missing', key_id: 'key_missing', recovery_id: 'rcv_missing', name: 'v1.case.completed' };
      const deep = nestedArrays(10_000);
      const seen: string[] = [];
      for (const route of documentedRoutes().filter((route) => route.access !== 'public')) {
        const path = route.path.replace(/:([a-z_]+)/g, (_match, name: string) => ids[name] ?? 'x');
        // undici sends a body with any method (fetch refuses one on GET).
        const sent = await request(`${stack.apiUrl}${path}`, {
          method: route.method.toUpperCase() as 'GET',
          headers: { authorization: `Bearer ${stack.adminKey}`, 'content-type': 'application/json' },
          body: deep,
        });
        const text = await sent.body.text();
        const code = text ? (JSON.parse(text) as { error?: { code?: string } }).error?.code : undefined;
        if (route.hasBody) expect(code, `${route.method} ${route.path}`).toBe('too_deep');
        else expect(code, `${route.method} ${route.path}`).not.toBe('too_deep');
        expect(sent.statusCode, `${route.method} ${route.path}`).toBeLessThan(500);
        seen.push(`${route.method} ${route.path}`);
      }
      expect(seen.length).toBeGreaterThanOrEqual(30);
    });
  });

  describe("Herald's idempotency namespace and operational events", () => {
    it('refuses tenant Idempotency-Keys in the reserved herald: prefix with 422', async () => {
      const answer = await call('POST', `/v1/tenants/${tenant.id}/events`, {
        key: tenant.apiKey,
        headers: { 'idempotency-key': 'herald:delivery_failed:dlv_x' },
        body: { event_type: 'v1.case.completed', data: {} },
      });
      expect(answer.status).toBe(422);
      expect(answer.body.error.details).toEqual([{ field: 'headers.idempotency-key', message: expect.any(String), code: 'reserved_idempotency_key' }]);
    });

    it.each(Object.values(operationalEventTypes))('refuses to let a tenant publish %s', async (eventType) => {
      const answer = await call('POST', `/v1/tenants/${tenant.id}/events`, { key: tenant.apiKey, body: { event_type: eventType, data: { endpoint_id: 'ep_fake', reason: 'forged' } } });
      expect(answer.status).toBe(422);
      expect(answer.body.error.details).toEqual([{ field: 'body.event_type', message: expect.any(String), code: 'reserved_event_type' }]);
    });

    it('a tenant key that names Herald\'s own notice key cannot suppress it: the delivery fails, its notice goes out and the workflow closes Failed', async () => {
      const dead = await receivers.start(answer(500));
      const notices = await receivers.start();
      const endpoint = await createEndpoint(call, tenant, { url: dead.url, event_types: ['v1.case.completed'], retry_schedule: ['2s'] });
      await createEndpoint(call, tenant, { url: notices.url, event_types: ['v1.webhook.delivery_failed'] });
      const event = await publish(call, tenant, 'v1.case.completed', { n: 1 });
      const deliveryId = event.deliveries.find((delivery: { endpoint_id: string }) => delivery.endpoint_id === endpoint.id).delivery_id;
      // The keys Herald uses, old and new spelling: the first is refused, the second lands in the tenant's own namespace.
      for (const key of [`herald:delivery_failed:${deliveryId}`, `delivery_failed:${deliveryId}`]) {
        await call('POST', `/v1/tenants/${tenant.id}/events`, { key: tenant.apiKey, headers: { 'idempotency-key': key }, body: { event_type: 'v1.case.completed', data: { squat: true } } });
      }
      await waitForDeliveryStatus(call, tenant, deliveryId, ['failed']);
      // The squatting publishes reach the dead endpoint too, and fail with notices of their own.
      const notice = await eventually(async () => notices.requests.map((request) => JSON.parse(request.body)).find((body) => body.data?.delivery_id === deliveryId));
      expect(notice).toMatchObject({ event_type: 'v1.webhook.delivery_failed', data: { delivery_id: deliveryId, endpoint_id: endpoint.id } });
      const handle = stack.temporal.workflow.getHandle(deliveryWorkflowId(deliveryId));
      const closed = await eventually(async () => {
        const status = (await handle.describe()).status.name;
        return status === 'RUNNING' ? undefined : status;
      });
      // A failed delivery closes its workflow as Failed (RetriesExhausted), after the notice.
      expect(closed).toBe('FAILED');
    });

    it("each notice Herald publishes matches its type's JSON Schema in the catalog, which receivers can read", async () => {
      const samples: { [T in PublishedOperationalType]: OperationalEventData[T] } = {
        'v1.webhook.delivery_failed': { delivery_id: 'whd_x', event_id: 'evt_x', endpoint_id: 'ep_x', event_type: 'v1.case.completed', attempts: 3, last_error: 'HTTP 500' },
        'v1.endpoint.disabled': { endpoint_id: 'ep_x', reason: 'consecutive_failures', consecutive_failures: 10, last_error: null },
        'v1.endpoint.enabled': { endpoint_id: 'ep_x' },
        'v1.endpoint.recovery_finished': { endpoint_id: 'ep_x', recovery_id: 'rcv_x', total: 3, replayed: 3 },
      };
      for (const [type, data] of Object.entries(samples)) {
        const listed = await expectStatus(call('GET', `/v1/event-types/${type}`, { key: tenant.apiKey }), 200);
        expect(listed, type).toMatchObject({ operational: true, schema: expect.objectContaining({ type: 'object' }) });
        await expect(validateEventData(stack.sql, type, data), type).resolves.toMatchObject({ name: type });
        await expect(validateEventData(stack.sql, type, {}), `${type} without its required fields`).rejects.toThrow();
      }
    });

    it('publishing the same notice twice is "already done", even with other data: one event', async () => {
      const deps = { sql: stack.sql, temporal: stack.temporal, taskQueue: stack.config.TEMPORAL_TASK_QUEUE };
      const notice = { tenantId: tenant.id, type: 'v1.endpoint.enabled' as const, data: { endpoint_id: 'ep_once' }, occurrence: 'ep_once:2026-01-01T00:00:00.000Z' };
      const first = await publishOperationalEvent(deps, notice);
      const again = await publishOperationalEvent(deps, { ...notice, data: { endpoint_id: 'ep_other' } });
      expect(again.event_id).toBe(first.event_id);
      const [{ count }] = await stack.sql<{ count: number }[]>`select count(*)::int as count from events where tenant_id = ${tenant.id} and event_type = 'v1.endpoint.enabled'`;
      expect(count).toBe(1);
      // A tenant using the same key text publishes in its own namespace, untouched by Herald's.
      const own = await expectStatus(
        call('POST', `/v1/tenants/${tenant.id}/events`, { key: tenant.apiKey, headers: { 'idempotency-key': 'endpoint_enabled:ep_once:2026-01-01T00:00:00.000Z' }, body: { event_type: 'v1.case.completed', data: {} } }),
        202,
      );
      expect(own.event_id).not.toBe(first.event_id);
    });
  });
});
