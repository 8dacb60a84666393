import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/api/app.js';
import { createHttpServer } from '../src/api/server.js';
import { authFailureSubjects } from '../src/core/rate-windows.js';
import { startTestStack, type TestStack } from './helpers/stack.js';
import { apiClient, createTenant, type ApiCall } from './helpers/api.js';

/**
 * Brute force on API keys: a request without a valid key counts one failure against its client address and against
 * the prefix of the key it presented, in PostgreSQL (shared by all API processes). Past the limit, such requests get
 * 429; a request with a valid key never does.
 */
describe('authentication failures behind a trusted proxy (HERALD_TRUST_PROXY=loopback)', () => {
  let stack: TestStack;
  let call: ApiCall;
  let tenant: { id: string; apiKey: string };
  const from = (ip: string) => ({ 'x-forwarded-for': ip });

  beforeAll(async () => {
    // The test's requests come from loopback: trusting it lets each test speak for an address of its own.
    stack = await startTestStack({ worker: false, config: { HERALD_TRUST_PROXY: 'loopback' } });
    call = apiClient(stack);
    tenant = await createTenant(call);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('answers 429 rate_limited with Retry-After once an address has failed 20 times in a minute', async () => {
    const attacker = from('203.0.113.10');
    for (let n = 0; n < 20; n++) {
      const guess = await call('GET', `/v1/tenants/${tenant.id}`, { key: `sk_guess_${n}_${'a'.repeat(24)}`, headers: attacker });
      expect(guess.status, `guess ${n + 1}`).toBe(401);
    }
    const blocked = await call('GET', `/v1/tenants/${tenant.id}`, { key: `sk_guess_21_${'a'.repeat(24)}`, headers: attacker });
    expect(blocked.status).toBe(429);
    expect(blocked.body).toEqual({
      error: { code: 'rate_limited', message: expect.stringMatching(/^Too many failed authentications/), details: { retry_after_seconds: expect.any(Number) } },
    });
    const retryAfter = Number(blocked.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(blocked.body.error.details.retry_after_seconds).toBe(retryAfter);
    expect((await call('GET', `/v1/tenants/${tenant.id}`, { key: null, headers: attacker })).status).toBe(429);
  });

  it('never refuses a request with a valid key, even from a blocked address', async () => {
    const shared = from('203.0.113.20');
    for (let n = 0; n < 25; n++) await call('GET', '/v1/event-types', { key: `sk_wrong${n}_${'a'.repeat(24)}`, headers: shared });
    expect((await call('GET', '/v1/event-types', { key: `sk_wrong_${'b'.repeat(24)}`, headers: shared })).status).toBe(429);
    expect((await call('GET', `/v1/tenants/${tenant.id}`, { key: tenant.apiKey, headers: shared })).status).toBe(200);
    expect((await call('GET', '/v1/tenants', { headers: shared })).status).toBe(200);
    const neighbour = from('198.51.100.7');
    expect((await call('GET', `/v1/tenants/${tenant.id}`, { key: `sk_typo_${'a'.repeat(24)}`, headers: neighbour })).status).toBe(401);
  });

  it('counts failures per presented key prefix too: one key tried from many addresses is blocked after 20', async () => {
    const key = `sk_spread_${'c'.repeat(24)}`;
    for (let n = 0; n < 20; n++) expect((await call('GET', '/v1/event-types', { key, headers: from(`192.0.2.${n + 1}`) })).status).toBe(401);
    expect((await call('GET', '/v1/event-types', { key, headers: from('192.0.2.100') })).status).toBe(429);
    // Another key from a fresh address is not affected.
    expect((await call('GET', '/v1/event-types', { key: `sk_other_${'d'.repeat(24)}`, headers: from('192.0.2.101') })).status).toBe(401);
  });

  it('never counts successful authentications', async () => {
    const busy = from('198.51.100.30');
    for (let n = 0; n < 40; n++) expect((await call('GET', `/v1/tenants/${tenant.id}`, { key: tenant.apiKey, headers: busy })).status).toBe(200);
  });

  it('counts a missing Authorization header as a failure', async () => {
    const anonymous = from('203.0.113.40');
    for (let n = 0; n < 20; n++) expect((await call('GET', '/v1/event-types', { key: null, headers: anonymous })).status).toBe(401);
    expect((await call('GET', '/v1/event-types', { key: null, headers: anonymous })).status).toBe(429);
  });

  it('shares the count between API processes on the same database: two replicas do not double the allowance', async () => {
    const replica = createHttpServer(createApp({ config: stack.config, sql: stack.sql, temporal: stack.temporal, logger: stack.logger }), stack.config).listen(0, '127.0.0.1');
    await once(replica, 'listening');
    try {
      const callReplica = apiClient({ apiUrl: `http://127.0.0.1:${(replica.address() as AddressInfo).port}`, adminKey: stack.adminKey });
      const attacker = from('203.0.113.50');
      for (let n = 0; n < 10; n++) {
        expect((await call('GET', '/v1/event-types', { key: `sk_a${n}_${'e'.repeat(24)}`, headers: attacker })).status).toBe(401);
        expect((await callReplica('GET', '/v1/event-types', { key: `sk_b${n}_${'e'.repeat(24)}`, headers: attacker })).status).toBe(401);
      }
      expect((await call('GET', '/v1/event-types', { key: `sk_c_${'e'.repeat(24)}`, headers: attacker })).status).toBe(429);
      expect((await callReplica('GET', '/v1/event-types', { key: `sk_d_${'e'.repeat(24)}`, headers: attacker })).status).toBe(429);
    } finally {
      replica.closeAllConnections();
      await new Promise<void>((resolve) => replica.close(() => resolve()));
    }
  });
});

describe('authentication failures with no trusted proxy (the default)', () => {
  let stack: TestStack;
  let call: ApiCall;

  beforeAll(async () => {
    stack = await startTestStack({ worker: false });
    call = apiClient(stack);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('ignores X-Forwarded-For: varying it does not escape the limit', async () => {
    const statuses: number[] = [];
    for (let n = 0; n < 30; n++) {
      const answer = await call('GET', '/v1/event-types', { key: `sk_rotating${n}_${'f'.repeat(24)}`, headers: { 'x-forwarded-for': `10.0.${n}.1` } });
      statuses.push(answer.status);
    }
    expect(statuses.filter((status) => status === 401)).toHaveLength(20);
    expect(statuses.slice(20)).toEqual(Array(10).fill(429));
  });
});

describe('auth failure subjects', () => {
  it.each([
    ['no key', '203.0.113.1', undefined, 1],
    ['a key', '203.0.113.1', 'sk_abcdefghijklmnop', 2],
  ])('a failure with %s counts against its address (%s), and its key prefix when it has one (%s): %i subject(s)', (_what, address, key, subjects) => {
    expect(authFailureSubjects(address, key)).toHaveLength(subjects);
  });

  it('keys that share their first 12 characters are one subject, and the key itself is not stored', () => {
    const [, a] = authFailureSubjects('x', 'sk_123456789_one');
    const [, b] = authFailureSubjects('y', 'sk_123456789_two');
    const [, c] = authFailureSubjects('y', 'sk_987654321_two');
    expect(a).toBe(b);
    expect(c).not.toBe(a);
    expect(a).not.toContain('sk_1234');
  });
});
