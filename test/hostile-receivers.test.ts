import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDeliveryAgent, postWebhook, storedBodyLimit } from '../src/core/http-delivery.js';
import { createUrlPolicy } from '../src/core/url-policy.js';
import { hugeBodyReceiver, resettingReceiver, silentReceiver, tricklingReceiver, type HostileReceiver } from './helpers/hostile-receivers.js';
import { answer, receiverPool } from './helpers/receiver.js';
import type { TestStack } from './helpers/stack.js';
import type { ApiCall } from './helpers/api.js';
import { createEndpoint, startDeliveryStack, eventually, publish, waitForDeliveryStatus, type TenantFixture } from './helpers/deliveries.js';

/**
 * Receivers that try to hold Herald's attempts hostage. Each attempt must end on its own terms (the
 * endpoint's timeout as a total deadline, the read limit, no redirects) and none may slow the others.
 */
const readLimit = 64 * 1024;
/** Loopback socket buffers (send and receive, kernel and user space) that fill before the client stops reading. */
const socketBufferAllowance = 16 * 1024 * 1024;

describe('hostile receivers, one attempt each (postWebhook)', () => {
  const hostile: HostileReceiver[] = [];
  const receivers = receiverPool();
  const agent = createDeliveryAgent(createUrlPolicy({ devMode: true }));
  const start = async (receiver: Promise<HostileReceiver>) => {
    hostile.push(await receiver);
    return hostile.at(-1)!;
  };
  const send = (url: string, timeoutMs: number) => postWebhook(url, { 'content-type': 'application/json' }, '{"hello":"world"}', timeoutMs, undefined, { dispatcher: agent });
  afterAll(async () => {
    await Promise.all(hostile.map((receiver) => receiver.close()));
    await receivers.closeAll();
  });

  it.each(['headers', 'body'] as const)('ends an attempt whose receiver trickles its %s a byte a second at the timeout, total not idle', async (trickle) => {
    const receiver = await start(tricklingReceiver({ trickle }));
    const result = await send(receiver.url, 2500);
    expect(result).toMatchObject({ ok: false, statusCode: null, errorClass: 'timeout', errorMessage: 'no complete response within 2500 ms' });
    expect(result.durationMs).toBeGreaterThanOrEqual(2400);
    expect(result.durationMs).toBeLessThan(3500);
    // Bytes kept coming every second: an idle timeout would never have fired.
    expect(receiver.bytesSent).toBeGreaterThanOrEqual(2);
  });

  it('stops reading a 1 GiB body at the limit without holding it in memory', async () => {
    const receiver = await start(hugeBodyReceiver());
    const before = process.memoryUsage();
    const result = await send(receiver.url, 10_000);
    const after = process.memoryUsage();
    expect(result).toMatchObject({ ok: true, statusCode: 200, errorClass: null });
    expect(result.body.length).toBe(storedBodyLimit);
    expect(result.durationMs).toBeLessThan(2000);
    await eventually(async () => (receiver.closedConnections >= 1 ? true : undefined), 5000, 'the client to drop the connection');
    // What the receiver got rid of: the read limit plus what loopback buffers hold, nowhere near 1 GiB.
    expect(receiver.bytesSent).toBeLessThan(readLimit + socketBufferAllowance);
    expect(after.heapUsed + after.arrayBuffers - (before.heapUsed + before.arrayBuffers)).toBeLessThan(64 * 1024 * 1024);
  });

  it('ends an attempt whose receiver never answers at the timeout', async () => {
    const receiver = await start(silentReceiver());
    const result = await send(receiver.url, 1500);
    expect(result).toMatchObject({ ok: false, statusCode: null, errorClass: 'timeout' });
    expect(result.durationMs).toBeGreaterThanOrEqual(1400);
    expect(result.durationMs).toBeLessThan(2500);
    expect(receiver.requests).toBe(1);
  });

  it.each([301, 302, 307, 308])('fails on a %i and never follows it', async (status) => {
    const elsewhere = await receivers.start();
    const redirecting = await receivers.start(answer(status, '', { location: elsewhere.url }));
    const result = await send(redirecting.url, 5000);
    expect(result).toMatchObject({ ok: false, statusCode: status, errorClass: 'http_status', errorMessage: `HTTP ${status}` });
    expect(result.headers.location).toBe(elsewhere.url);
    expect(redirecting.requests).toHaveLength(1);
    expect(elsewhere.requests).toHaveLength(0);
  });

  it.each(['destroy', 'reset'] as const)('classifies a connection the receiver closes without answering (%s) as connection_reset', async (how) => {
    const receiver = await start(resettingReceiver(how));
    const result = await send(receiver.url, 5000);
    expect(result).toMatchObject({ ok: false, statusCode: null, errorClass: 'connection_reset' });
    expect(receiver.requests).toBe(1);
  });

  it('answers healthy requests in milliseconds while every hostile receiver holds an attempt', async () => {
    const healthy = await receivers.start();
    const hostileAttempts = await Promise.all([
      tricklingReceiver({ trickle: 'body' }),
      tricklingReceiver({ trickle: 'headers' }),
      silentReceiver(),
      hugeBodyReceiver(),
    ]).then((started) => {
      hostile.push(...started);
      return started.map((receiver) => send(receiver.url, 3000));
    });
    const started = Date.now();
    const healthyResults = await Promise.all(Array.from({ length: 20 }, () => send(healthy.url, 3000)));
    expect(Date.now() - started).toBeLessThan(1500);
    expect(healthyResults.every((result) => result.ok)).toBe(true);
    await Promise.all(hostileAttempts);
  });
});

describe('hostile receivers in the delivery pipeline', () => {
  let stack: TestStack;
  let call: ApiCall;
  let tenant: TenantFixture;
  const hostile: HostileReceiver[] = [];
  const receivers = receiverPool();

  beforeAll(async () => {
    ({ stack, call, tenant } = await startDeliveryStack());
  });
  afterAll(async () => {
    await Promise.all(hostile.map((receiver) => receiver.close()));
    await receivers.closeAll();
    await stack?.stop();
  });

  it("keeps a healthy endpoint's deliveries flowing while hostile endpoints hold theirs until the timeout", async () => {
    const healthy = await receivers.start();
    const elsewhere = await receivers.start();
    const redirecting = await receivers.start(answer(302, '', { location: elsewhere.url }));
    hostile.push(
      ...(await Promise.all([tricklingReceiver({ trickle: 'body' }), tricklingReceiver({ trickle: 'headers' }), silentReceiver(), hugeBodyReceiver(), resettingReceiver('reset')])),
    );
    const [tricklingBody, tricklingHeaders, silent, huge, resetting] = hostile;
    const endpoint = (url: string) => createEndpoint(call, tenant, { url, event_types: ['v1.case.completed'], retry_schedule: [], timeout: '15s' });
    const expected = new Map<string, { errorClass: string | null; status: string }>();
    for (const [receiver, errorClass, status] of [
      [tricklingBody!, 'timeout', 'failed'],
      [tricklingHeaders!, 'timeout', 'failed'],
      [silent!, 'timeout', 'failed'],
      [huge!, null, 'delivered'],
      [resetting!, 'connection_reset', 'failed'],
      [redirecting, 'http_status', 'failed'],
    ] as const) {
      expected.set((await endpoint(receiver.url)).id, { errorClass, status });
    }
    const healthyEndpoint = await endpoint(healthy.url);

    const events = 8;
    const publishedAt = Date.now();
    const published = await Promise.all(Array.from({ length: events }, (_, n) => publish(call, tenant, 'v1.case.completed', { n })));
    // Every healthy delivery lands well before the first hostile attempt times out (15 s).
    await healthy.waitForRequests(events, 20_000);
    expect(Date.now() - publishedAt).toBeLessThan(12_000);

    const deliveries = published.flatMap((event) => event.deliveries as { delivery_id: string; endpoint_id: string }[]);
    for (const delivery of deliveries) {
      const want = delivery.endpoint_id === healthyEndpoint.id ? { errorClass: null, status: 'delivered' } : expected.get(delivery.endpoint_id)!;
      const done = await waitForDeliveryStatus(call, tenant, delivery.delivery_id, ['delivered', 'failed'], 30_000);
      expect(done.status, delivery.endpoint_id).toBe(want.status);
      expect(done.attempts_log[0].error_class, delivery.endpoint_id).toBe(want.errorClass);
      if (want.errorClass === 'timeout') {
        expect(done.attempts_log[0].duration_ms).toBeGreaterThanOrEqual(14_900);
        expect(done.attempts_log[0].duration_ms).toBeLessThan(16_500);
      }
    }
    expect(elsewhere.requests).toHaveLength(0);
  }, 90_000);
});
