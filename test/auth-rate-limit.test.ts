import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRateLimiter } from '../src/core/rate-limit.js';
import { startTestStack, type TestStack } from './helpers/stack.js';
import { apiClient, createTenant, type ApiCall } from './helpers/api.js';

/**
 * Brute force on API keys: failures are counted per client address (request.ip; the test API trusts
 * X-Forwarded-For from loopback, so each test speaks for an address of its own).
 */
describe('authentication brute force', () => {
  let stack: TestStack;
  let call: ApiCall;
  let tenant: { id: string; apiKey: string };
  const from = (ip: string) => ({ 'x-forwarded-for': ip });

  beforeAll(async () => {
    stack = await startTestStack({ worker: false });
    call = apiClient(stack);
    tenant = await createTenant(call);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('answers 429 rate_limited with Retry-After once an address has failed 20 times in a minute, whatever key it then sends', async () => {
    const attacker = from('203.0.113.10');
    for (let n = 0; n < 20; n++) {
      const guess = await call('GET', `/v1/tenants/${tenant.id}`, { key: `sk_guess_${n}_aaaaaaaaaaaaaaaaaaaaaaaa`, headers: attacker });
      expect(guess.status, `guess ${n + 1}`).toBe(401);
    }
    const blocked = await call('GET', `/v1/tenants/${tenant.id}`, { key: 'sk_guess_21_aaaaaaaaaaaaaaaaaaaaaaaa', headers: attacker });
    expect(blocked.status).toBe(429);
    expect(blocked.body).toEqual({
      error: { code: 'rate_limited', message: expect.stringMatching(/^Too many failed authentications/), details: { retry_after_seconds: expect.any(Number) } },
    });
    const retryAfter = Number(blocked.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect(blocked.body.error.details.retry_after_seconds).toBe(retryAfter);
    // A blocked address learns nothing more: a right guess is answered like a wrong one.
    expect((await call('GET', `/v1/tenants/${tenant.id}`, { key: tenant.apiKey, headers: attacker })).status).toBe(429);
    expect((await call('GET', `/v1/tenants/${tenant.id}`, { key: null, headers: attacker })).status).toBe(429);
  });

  it("does not block a valid key, or other clients' failures, from another address", async () => {
    const attacker = from('203.0.113.20');
    for (let n = 0; n < 25; n++) await call('GET', '/v1/event-types', { key: 'sk_wrong_aaaaaaaaaaaaaaaaaaaaaaaaaa', headers: attacker });
    expect((await call('GET', '/v1/event-types', { key: 'sk_wrong_aaaaaaaaaaaaaaaaaaaaaaaaaa', headers: attacker })).status).toBe(429);
    const neighbour = from('198.51.100.7');
    expect((await call('GET', `/v1/tenants/${tenant.id}`, { key: tenant.apiKey, headers: neighbour })).status).toBe(200);
    expect((await call('GET', `/v1/tenants/${tenant.id}`, { key: 'sk_typo_aaaaaaaaaaaaaaaaaaaaaaaaaaa', headers: neighbour })).status).toBe(401);
    expect((await call('GET', '/v1/tenants', { headers: from('198.51.100.8') })).status).toBe(200);
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
});

describe('rate limiter peek', () => {
  it('tells whether the next take would pass without counting, and forgets the window when it ends', () => {
    const limiter = createRateLimiter({ limit: 2, windowMs: 1000 });
    expect(limiter.peek('ip', 0)).toEqual({ allowed: true, retryAfterMs: 0 });
    limiter.take('ip', 0);
    expect(limiter.peek('ip', 100).allowed).toBe(true);
    limiter.take('ip', 100);
    expect(limiter.peek('ip', 400)).toEqual({ allowed: false, retryAfterMs: 600 });
    expect(limiter.peek('ip', 400)).toEqual({ allowed: false, retryAfterMs: 600 });
    expect(limiter.peek('other', 400).allowed).toBe(true);
    expect(limiter.peek('ip', 1000).allowed).toBe(true);
  });
});
