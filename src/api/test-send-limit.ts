import type { RequestHandler } from 'express';
import type { ApiDeps } from './app.js';
import { principalOf, principalTenantId, tenantOf } from './auth.js';
import { HttpError } from './errors.js';
import { createRateWindows } from '../core/rate-windows.js';

/**
 * Every test send (to a registered endpoint, to any URL, or to a notification channel) counts against its tenant:
 * HERALD_TEST_SENDS_PER_MINUTE per tenant, however many keys it has, so test sends cannot be used as a request (or
 * mail) reflector. The admin's ad-hoc sends share one bucket, `admin`; its sends to a tenant's endpoint or channel
 * count against that tenant. The counts are in PostgreSQL, shared by every API process and route.
 */
export function testSendLimiter(deps: Pick<ApiDeps, 'sql' | 'config'>): RequestHandler {
  const testSendsPerMinute = deps.config.HERALD_TEST_SENDS_PER_MINUTE;
  const testSendWindows = createRateWindows(deps.sql, { limit: testSendsPerMinute, windowMs: 60_000 });
  return async (request, response, next) => {
    const principal = principalOf(response);
    const bucket = request.params.tenant_id !== undefined ? tenantOf(response).id : (principalTenantId(principal) ?? 'admin');
    const taken = await testSendWindows.hit([`test-send:${bucket}`]);
    if (taken.limited) {
      const seconds = Math.max(1, Math.ceil(taken.retryAfterMs / 1000));
      response.setHeader('retry-after', String(seconds));
      throw new HttpError(429, 'rate_limited', `At most ${testSendsPerMinute} test sends per minute per tenant; retry in ${seconds} s`, {
        retry_after_seconds: seconds,
        limit_per_minute: testSendsPerMinute,
      });
    }
    next();
  };
}
