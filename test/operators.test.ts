import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { WorkflowNotFoundError } from '@temporalio/client';
import { spawnWorkerProcess, startTestStack, type TestStack } from './helpers/stack.js';
import { answer, receiverPool, type ReceivedRequest } from './helpers/receiver.js';
import { apiClient, createEventType, createTenant, errorFields, type ApiCall } from './helpers/api.js';
import { createEndpoint, eventually, expectStatus, publish, waitForDeliveryStatus, type TenantFixture } from './helpers/deliveries.js';
import { deliveryIdFor, newId } from '../src/core/ids.js';
import { deliveryWorkflowId, endpointHealthWorkflowId, progressQuery, recoverWorkflowId, recoveryProgressQuery } from '../workflows/contracts.js';

describe('operators: inspect, replay, recover, test', () => {
  let stack: TestStack;
  let call: ApiCall;
  let tenant: TenantFixture;
  const receivers = receiverPool();
  const receiver = receivers.start;
  const deliveryOf = (published: { deliveries: { delivery_id: string; endpoint_id: string }[] }, endpointId: string) =>
    published.deliveries.find((delivery) => delivery.endpoint_id === endpointId)!.delivery_id;
  const post = (path: string, body: unknown = {}, key = tenant.apiKey) => call('POST', `/v1/tenants/${tenant.id}${path}`, { key, body });
  const get = (path: string) => call('GET', `/v1/tenants/${tenant.id}${path}`, { key: tenant.apiKey });

  beforeAll(async () => {
    stack = await startTestStack();
    call = apiClient(stack);
    tenant = await createTenant(call, { max_endpoints: 100 });
    await createEventType(call, 'v1.case.completed');
  });
  afterAll(async () => {
    await receivers.closeAll();
    await stack?.stop();
  });

  /**
   * `count` failed deliveries of the endpoint, written straight to PostgreSQL (events included), created
   * `createdAgoMs` ago: recovering them is what is under test, not producing them.
   */
  async function insertEndedDeliveries(endpointId: string, count: number, options: { createdAgoMs?: number; status?: 'failed' | 'delivered' } = {}) {
    const eventIds = Array.from({ length: count }, () => newId('event'));
    const deliveryIds = eventIds.map((eventId) => deliveryIdFor(eventId, endpointId));
    const agoSeconds = (options.createdAgoMs ?? 30 * 60_000) / 1000;
    await stack.sql`
      insert into events (id, tenant_id, event_type, schema_version, trace_id, data, created_at)
      select e.id, ${tenant.id}, 'v1.case.completed', 'v1', 'trc_' || e.n, jsonb_build_object('n', e.n), now() - make_interval(secs => ${agoSeconds})
      from unnest(${stack.sql.array(eventIds)}::text[]) with ordinality as e(id, n)`;
    await stack.sql`
      insert into deliveries (id, tenant_id, event_id, endpoint_id, event_type, status, attempts, max_attempts, last_status_code, last_error,
                              failure_reason, dispatched_at, created_at, completed_at)
      select d.id, ${tenant.id}, d.event_id, ${endpointId}, 'v1.case.completed', ${options.status ?? 'failed'}, 1, 1,
             ${options.status === 'delivered' ? 200 : 500}, ${options.status === 'delivered' ? null : 'HTTP 500'},
             ${options.status === 'delivered' ? null : 'retries_exhausted'},
             now() - make_interval(secs => ${agoSeconds}), now() - make_interval(secs => ${agoSeconds}), now() - make_interval(secs => ${agoSeconds - 1})
      from unnest(${stack.sql.array(deliveryIds)}::text[], ${stack.sql.array(eventIds)}::text[]) as d(id, event_id)`;
    return { eventIds, deliveryIds };
  }

  const replaysOf = (recoveryId: string) =>
    stack.sql<{ id: string; replay_of: string; event_id: string }[]>`select id, replay_of, event_id from deliveries where recovery_id = ${recoveryId} order by replay_of`;

  /** Receivers may see a delivery twice (at-least-once); a delivery replayed twice would show an event under two delivery ids. */
  function deliveryIdsPerEvent(requests: ReceivedRequest[]): Map<string, Set<string>> {
    const perEvent = new Map<string, Set<string>>();
    for (const request of requests) {
      const body = JSON.parse(request.body) as { event_id: string };
      perEvent.set(body.event_id, (perEvent.get(body.event_id) ?? new Set()).add(request.headers['webhook-id']!));
    }
    return perEvent;
  }

  it('answers the progress query with a live next_attempt_at while a delivery is retrying, and the delivery API shows it', async () => {
    const failing = await receiver(answer(503, 'down'));
    const endpoint = await createEndpoint(call, tenant, { url: failing.url, event_types: ['v1.case.completed'], retry_schedule: ['20s', '20s'] });
    const published = await publish(call, tenant, 'v1.case.completed', { n: 'live' });
    const deliveryId = deliveryOf(published, endpoint.id);
    const before = Date.now();
    const shown = await eventually(async () => {
      const body = (await get(`/deliveries/${deliveryId}`)).body;
      return body.status === 'retrying' && body.live && body.next_attempt_at ? body : undefined;
    });
    const progress = await stack.temporal.workflow.getHandle(deliveryWorkflowId(deliveryId)).query(progressQuery);
    expect(progress).toMatchObject({ status: 'retrying', attempt: 1, max_attempts: 3, last_status_code: 503, last_error: 'HTTP 503' });
    expect(shown.next_attempt_at).toBe(progress.next_attempt_at);
    const wait = Date.parse(progress.next_attempt_at!) - before;
    expect(wait).toBeGreaterThan(15_000);
    expect(wait).toBeLessThan(21_000);
    // Stop the series: the next attempt finds the endpoint disabled.
    await expectStatus(post(`/endpoints/${endpoint.id}/disable`), 200);
  });

  it('replays a failed delivery as a new linked delivery that succeeds once the receiver is fixed', async () => {
    const target = await receiver(answer(500, 'broken'));
    const endpoint = await createEndpoint(call, tenant, { url: target.url, event_types: ['v1.case.completed'], retry_schedule: [] });
    const published = await publish(call, tenant, 'v1.case.completed', { n: 'replay-me' });
    const originalId = deliveryOf(published, endpoint.id);
    await waitForDeliveryStatus(call, tenant, originalId, ['failed']);

    target.respondWith(answer(200, 'fixed'));
    const replay = await expectStatus(post(`/deliveries/${originalId}/replay`), 202);
    expect(replay).toEqual({ delivery_id: expect.stringMatching(/^whd_/), endpoint_id: endpoint.id, replay_of: originalId });
    expect(replay.delivery_id).not.toBe(originalId);
    const delivered = await waitForDeliveryStatus(call, tenant, replay.delivery_id, ['delivered']);
    expect(delivered).toMatchObject({ replay_of: originalId, event_id: published.event_id, endpoint_id: endpoint.id, attempts: 1 });

    const [, second] = await target.waitForRequests(2);
    expect(second!.headers['webhook-id']).toBe(replay.delivery_id);
    const envelope = new Webhook(endpoint.secret).verify(second!.body, second!.headers) as Record<string, unknown>;
    expect(envelope).toMatchObject({ event_id: published.event_id, delivery_id: replay.delivery_id, data: { n: 'replay-me' } });
    // The original stays failed, and the event lists both.
    expect((await get(`/deliveries/${originalId}`)).body.status).toBe('failed');
    const event = await expectStatus(get(`/events/${published.event_id}`), 200);
    const toThisEndpoint = event.deliveries.filter((delivery: { endpoint_id: string }) => delivery.endpoint_id === endpoint.id);
    expect(toThisEndpoint.map((delivery: { id: string }) => delivery.id).sort()).toEqual([originalId, replay.delivery_id].sort());
    // A replay starts a workflow of its own, with the delivery search attributes.
    const description = await stack.temporal.workflow.getHandle(deliveryWorkflowId(replay.delivery_id)).describe();
    expect(description.status.name).toBe('COMPLETED');
  });

  it('refuses to replay a running delivery (409), and a disabled endpoint’s delivery unless forced', async () => {
    const target = await receiver(answer(500));
    const endpoint = await createEndpoint(call, tenant, { url: target.url, event_types: ['v1.case.completed'], retry_schedule: ['8s'] });
    const published = await publish(call, tenant, 'v1.case.completed', { n: 'running' });
    const deliveryId = deliveryOf(published, endpoint.id);
    await waitForDeliveryStatus(call, tenant, deliveryId, ['retrying']);
    const running = await post(`/deliveries/${deliveryId}/replay`);
    expect(running.status).toBe(409);
    expect(running.body.error).toMatchObject({ code: 'conflict', details: { status: 'retrying' } });

    await expectStatus(post(`/endpoints/${endpoint.id}/disable`), 200);
    const stopped = await waitForDeliveryStatus(call, tenant, deliveryId, ['failed']);
    expect(stopped.failure_reason).toBe('endpoint_disabled');
    const refused = await post(`/deliveries/${deliveryId}/replay`);
    expect(refused.status).toBe(409);
    expect(refused.body.error.message).toMatch(/disabled.*force/);
    const forced = await expectStatus(post(`/deliveries/${deliveryId}/replay`, { force: true }), 202);
    expect(await waitForDeliveryStatus(call, tenant, forced.delivery_id, ['failed'])).toMatchObject({ replay_of: deliveryId, failure_reason: 'endpoint_disabled', attempts: 0 });

    expect((await post('/deliveries/whd_01J7W9S4TSQ0T4SH43JYB9W5R8/replay')).status).toBe(404);
    const other = await createTenant(call, { name: 'Other' });
    const foreign = await call('POST', `/v1/tenants/${other.id}/deliveries/${deliveryId}/replay`, { key: other.apiKey, body: {} });
    expect(foreign.status).toBe(404);
  }, 90_000);

  it("replays an event to its type's current subscribers, or only to the listed endpoints", async () => {
    const first = await receiver();
    const second = await receiver();
    const a = await createEndpoint(call, tenant, { url: first.url, event_types: ['v1.case.completed'], retry_schedule: [] });
    const b = await createEndpoint(call, tenant, { url: second.url, event_types: ['v1.case.completed'], retry_schedule: [] });
    const published = await publish(call, tenant, 'v1.case.completed', { n: 'event-replay' });
    await waitForDeliveryStatus(call, tenant, deliveryOf(published, a.id), ['delivered']);
    await waitForDeliveryStatus(call, tenant, deliveryOf(published, b.id), ['delivered']);
    // Endpoints of earlier tests are disabled or subscribed too: only count a and b.
    const all = await expectStatus(post(`/events/${published.event_id}/replay`), 202);
    const mine = all.replays.filter((replay: { endpoint_id: string }) => replay.endpoint_id === a.id || replay.endpoint_id === b.id);
    expect(mine).toHaveLength(2);
    for (const replay of mine) expect(replay.replay_of).toBe(deliveryOf(published, replay.endpoint_id));
    for (const replay of mine) await waitForDeliveryStatus(call, tenant, replay.delivery_id, ['delivered']);

    const only = await expectStatus(post(`/events/${published.event_id}/replay`, { endpoint_ids: [b.id] }), 202);
    expect(only.replays).toEqual([{ delivery_id: expect.any(String), endpoint_id: b.id, replay_of: mine.find((r: { endpoint_id: string }) => r.endpoint_id === b.id).delivery_id }]);
    await waitForDeliveryStatus(call, tenant, only.replays[0].delivery_id, ['delivered']);
    expect(first.requests).toHaveLength(2);
    expect(second.requests).toHaveLength(3);
    expect(new Set(second.requests.map((request) => JSON.parse(request.body).event_id))).toEqual(new Set([published.event_id]));

    const other = await createTenant(call, { name: 'Stranger' });
    const strangers = await createEndpoint(call, other, { url: first.url, event_types: ['v1.case.completed'] });
    const refused = await post(`/events/${published.event_id}/replay`, { endpoint_ids: [b.id, strangers.id] });
    expect(refused.status).toBe(422);
    expect(errorFields(refused)).toEqual(['body.endpoint_ids.1']);
  });

  it('recovers 500 failed deliveries: exactly 500 replays, with a progress query that counts up', async () => {
    const target = await receiver();
    const endpoint = await createEndpoint(call, tenant, { url: target.url, event_types: ['v1.case.completed'], retry_schedule: [] });
    const { deliveryIds } = await insertEndedDeliveries(endpoint.id, 500);
    // Outside the recovery: older than the window, and delivered ones.
    await insertEndedDeliveries(endpoint.id, 20, { createdAgoMs: 5 * 3_600_000 });
    await insertEndedDeliveries(endpoint.id, 20, { status: 'delivered' });

    const started = await expectStatus(post(`/endpoints/${endpoint.id}/recover`, { since: '2h', batch_size: 25 }), 202);
    expect(started).toMatchObject({ recovery_id: expect.stringMatching(/^rcv_/), count: 500, workflow_id: `recover-${started.recovery_id}` });

    const seen: number[] = [];
    const live: number[] = [];
    const handle = stack.temporal.workflow.getHandle(recoverWorkflowId(started.recovery_id));
    const finished = await eventually(
      async () => {
        const [answer, progress] = await Promise.all([get(`/endpoints/${endpoint.id}/recoveries/${started.recovery_id}`), handle.query(recoveryProgressQuery).catch(() => undefined)]);
        if (progress) live.push(progress.replayed);
        seen.push(answer.body.replayed);
        expect(answer.body.replayed + answer.body.remaining).toBe(500);
        return answer.body.status === 'completed' ? answer.body : undefined;
      },
      60_000,
      'the recovery to complete',
    );
    expect(finished).toMatchObject({ total: 500, replayed: 500, remaining: 0, delivery_status: 'failed', batch_size: 25, live: false });
    expect(seen).toEqual([...seen].sort((x, y) => x - y));
    expect(live).toEqual([...live].sort((x, y) => x - y));
    expect(new Set(live.filter((count) => count > 0 && count < 500)).size).toBeGreaterThanOrEqual(2);
    expect(await handle.result()).toEqual({ total: 500, replayed: 500, remaining: 0 });

    const replays = await replaysOf(started.recovery_id);
    expect(replays).toHaveLength(500);
    expect(replays.map((replay) => replay.replay_of)).toEqual([...deliveryIds].sort());
    const requests = await target.waitForRequests(500, 120_000);
    expect([...deliveryIdsPerEvent(requests).values()].every((ids) => ids.size === 1)).toBe(true);
    expect(deliveryIdsPerEvent(requests).size).toBe(500);
  }, 180_000);

  it('keeps another tenant out of its replay, recover, recovery and test routes (404)', async () => {
    const endpoint = await createEndpoint(call, tenant, { url: 'http://127.0.0.1:9/never', event_types: ['v1.case.completed'] });
    const other = await createTenant(call, { name: 'Prober' });
    const attempts = [
      ['POST', `/v1/tenants/${tenant.id}/endpoints/${endpoint.id}/recover`, {}],
      ['POST', `/v1/tenants/${other.id}/endpoints/${endpoint.id}/recover`, {}],
      ['POST', `/v1/tenants/${other.id}/endpoints/${endpoint.id}/test`, {}],
      ['GET', `/v1/tenants/${other.id}/endpoints/${endpoint.id}/recoveries/rcv_01J7W9S4TSQ0T4SH43JYB9W5R8`, undefined],
      ['POST', `/v1/tenants/${other.id}/events/evt_01J7W9S4TSQ0T4SH43JYB9W5R8/replay`, {}],
    ] as const;
    for (const [method, path, body] of attempts) expect((await call(method, path, { key: other.apiKey, body })).status, `${method} ${path}`).toBe(404);
  });

  it('sends a signed v1.webhook.test to an endpoint, records it as a test attempt, and never moves its health counter', async () => {
    const target = await receiver(answer(500, 'not today'));
    const endpoint = await createEndpoint(call, tenant, {
      url: target.url,
      event_types: ['v1.case.completed'],
      retry_schedule: [],
      disable_after_failures: 1,
      headers: { 'X-Receiver-Token': 'token-12345678' },
    });
    for (let index = 0; index < 3; index++) {
      const tested = await expectStatus(post(`/endpoints/${endpoint.id}/test`), 200);
      expect(tested).toMatchObject({ success: false, status_code: 500, response_excerpt: 'not today', error_class: 'http_status' });
      expect(Object.keys(tested.signature_headers).sort()).toEqual(['webhook-id', 'webhook-signature', 'webhook-timestamp']);
      expect(tested.duration_ms).toBeGreaterThanOrEqual(0);
    }
    const requests = await target.waitForRequests(3);
    const envelope = new Webhook(endpoint.secret).verify(requests[0]!.body, requests[0]!.headers) as Record<string, unknown>;
    expect(envelope).toMatchObject({ event_type: 'v1.webhook.test', schema_version: 'v1', data: { message: 'This is a test webhook from Herald' } });
    expect(requests[0]!.headers['x-receiver-token']).toBe('token-12345678');

    const log = await expectStatus(get(`/endpoints/${endpoint.id}/attempts`), 200);
    expect(log.data).toHaveLength(3);
    expect(log.data[0]).toMatchObject({ kind: 'test', delivery_id: null, endpoint_id: endpoint.id, status_code: 500, success: false, response_body: 'not today' });
    // Three failures with a threshold of one, and the endpoint is still active: tests are not reported to health.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const shown = await expectStatus(get(`/endpoints/${endpoint.id}`), 200);
    expect(shown).toMatchObject({ active: true, health: { consecutive_failures: 0, status: 'healthy' } });
    await expect(stack.temporal.workflow.getHandle(endpointHealthWorkflowId(endpoint.id)).describe()).rejects.toBeInstanceOf(WorkflowNotFoundError);

    target.respondWith(answer(204));
    expect(await expectStatus(post(`/endpoints/${endpoint.id}/test`), 200)).toMatchObject({ success: true, status_code: 204, response_excerpt: '' });
  });

  it('tests an unregistered URL through /v1/webhooks/test, under the URL policy and the per-tenant test-send limit', async () => {
    const target = await receiver(answer(200, 'hello'));
    const keyed = await createTenant(call, { name: 'Tester' });
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const adHoc = (body: unknown, key = keyed.apiKey) => call('POST', '/v1/webhooks/test', { key, body });

    const sent = await expectStatus(adHoc({ endpoint_url: target.url, signing_secret: secret }), 200);
    expect(sent).toMatchObject({ success: true, status_code: 200, response_excerpt: 'hello' });
    const [request] = await target.waitForRequests(1);
    expect(new Webhook(secret).verify(request!.body, request!.headers)).toMatchObject({ event_type: 'v1.webhook.test', delivery_id: sent.delivery_id });

    const otherProfile = await expectStatus(adHoc({ endpoint_url: target.url, signing_secret: secret, signature: { profile: 'timestamped' } }), 200);
    expect(Object.keys(otherProfile.signature_headers)).not.toContain('webhook-signature');
    expect(Object.keys(otherProfile.signature_headers).length).toBeGreaterThan(0);

    for (const url of ['ftp://example.com/hook', 'https://user:password@example.com/hook', 'not a url']) {
      const refused = await adHoc({ endpoint_url: url, signing_secret: secret });
      expect(refused.status, url).toBe(422);
      expect(errorFields(refused)).toEqual(['body.endpoint_url']);
    }
    const unknownProfile = await adHoc({ endpoint_url: target.url, signing_secret: secret, signature: { profile: 'nope' } });
    expect(errorFields(unknownProfile)).toEqual(['body.signature.profile']);
    const stored = await stack.sql`select count(*)::int as count from attempts where kind = 'test' and tenant_id = ${keyed.id}`;
    expect(stored[0]!.count).toBe(0);

    // Six calls so far: four more are allowed this minute, the fifth is refused.
    for (let index = 0; index < 4; index++) expect((await adHoc({ endpoint_url: 'ftp://x', signing_secret: secret })).status).toBe(422);
    const limited = await adHoc({ endpoint_url: target.url, signing_secret: secret });
    expect(limited.status).toBe(429);
    expect(limited.body.error).toMatchObject({ code: 'rate_limited', details: { retry_after_seconds: expect.any(Number) } });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(Number(limited.headers.get('retry-after'))).toBeLessThanOrEqual(60);
    // Per key: the tenant's other keys and the admin are not affected.
    expect((await adHoc({ endpoint_url: target.url, signing_secret: secret }, stack.adminKey)).status).toBe(200);
  });

  it('recovers across a worker killed mid-way without replaying any delivery twice', async () => {
    const target = await receiver();
    const endpoint = await createEndpoint(call, tenant, { url: target.url, event_types: ['v1.case.completed'], retry_schedule: ['1s'] });
    const { deliveryIds } = await insertEndedDeliveries(endpoint.id, 400);
    await stack.stopWorker();
    const doomed = spawnWorkerProcess(stack);
    try {
      const started = await expectStatus(post(`/endpoints/${endpoint.id}/recover`, { since: '1h', batch_size: 5 }), 202);
      expect(started.count).toBe(400);
      const progressAtKill = await eventually(
        async () => {
          const replayed = (await stack.sql<{ count: number }[]>`select count(*)::int as count from deliveries where recovery_id = ${started.recovery_id}`)[0]!.count;
          return replayed >= 25 ? replayed : undefined;
        },
        // A spawned worker bundles the workflows first: slow on a loaded machine.
        120_000,
        'the spawned worker to replay a few batches',
      );
      doomed.kill('SIGKILL');
      await new Promise((resolve) => doomed.once('exit', resolve));
      expect(progressAtKill).toBeLessThan(400);
      const afterKill = await expectStatus(get(`/endpoints/${endpoint.id}/recoveries/${started.recovery_id}`), 200);
      expect(afterKill.status).toBe('running');

      await stack.startWorker();
      const finished = await eventually(
        async () => {
          const body = (await get(`/endpoints/${endpoint.id}/recoveries/${started.recovery_id}`)).body;
          return body.status === 'completed' ? body : undefined;
        },
        90_000,
        'the recovery to complete after the restart',
      );
      expect(finished).toMatchObject({ total: 400, replayed: 400, remaining: 0 });
      const replays = await replaysOf(started.recovery_id);
      expect(replays).toHaveLength(400);
      expect(new Set(replays.map((replay) => replay.replay_of)).size).toBe(400);
      expect(replays.map((replay) => replay.replay_of)).toEqual([...deliveryIds].sort());
      const requests = await target.waitForRequests(400, 120_000);
      const perEvent = deliveryIdsPerEvent(requests);
      expect(perEvent.size).toBe(400);
      expect([...perEvent.values()].filter((ids) => ids.size > 1)).toEqual([]);
    } finally {
      if (doomed.exitCode === null && doomed.signalCode === null) doomed.kill('SIGKILL');
    }
  }, 240_000);
});
