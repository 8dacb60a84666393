import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/api/app.js';
import { documentedRoutes } from '../src/api/openapi.js';
import { apiClient, createEventType, createTenant, type ApiCall } from './helpers/api.js';
import { startTestStack, type TestStack } from './helpers/stack.js';

/**
 * Tenant B's key against everything of tenant A, route by route: never a 2xx, never a hint that A's
 * resources exist (404 like a missing id; 403 only for admin-only actions, whatever the id).
 */
describe('tenant isolation', () => {
  let stack: TestStack;
  let call: ApiCall;
  let a: { id: string; apiKey: string; endpointId: string; keyId: string; secret: string };
  let b: { id: string; apiKey: string; endpointId: string };

  const fill = (path: string, ids: Record<string, string>) => path.replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => ids[name] ?? `${name}_01J7W9S4TSQ0T4SH43JYB9W5R8`);
  const snapshot = async () => ({
    tenant: (await call('GET', `/v1/tenants/${a.id}`)).body,
    endpoints: (await call('GET', `/v1/tenants/${a.id}/endpoints?limit=100`)).body,
    keys: (await call('GET', `/v1/tenants/${a.id}/api-keys?limit=100`)).body,
    secrets: await stack.sql`select id, expires_at from endpoint_secrets where endpoint_id = ${a.endpointId} order by id`,
  });

  beforeAll(async () => {
    stack = await startTestStack({ worker: false });
    call = apiClient(stack);
    // Every route module documents itself when an app is built.
    createApp({ config: stack.config, sql: stack.sql, temporal: stack.temporal, logger: stack.logger });
    await createEventType(call, 'v1.case.completed');
    const tenantA = await createTenant(call, { name: 'A' });
    const tenantB = await createTenant(call, { name: 'B' });
    const endpointA = await call('POST', `/v1/tenants/${tenantA.id}/endpoints`, { key: tenantA.apiKey, body: { url: 'https://a.example.com/hook', event_types: ['*'], headers: { 'X-Auth': 'a-private-header-value' } } });
    const endpointB = await call('POST', `/v1/tenants/${tenantB.id}/endpoints`, { key: tenantB.apiKey, body: { url: 'https://b.example.com/hook', event_types: ['*'] } });
    const keyA = await call('POST', `/v1/tenants/${tenantA.id}/api-keys`, { key: tenantA.apiKey });
    a = { ...tenantA, endpointId: endpointA.body.id, keyId: keyA.body.id, secret: endpointA.body.secret };
    b = { ...tenantB, endpointId: endpointB.body.id };
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("answers 404 to every tenant route B calls with A's tenant id and A's resource ids", async () => {
    const before = await snapshot();
    const routes = documentedRoutes().filter((route) => route.path.includes(':tenant_id'));
    expect(routes.length).toBeGreaterThanOrEqual(13);
    for (const route of routes) {
      const path = fill(route.path, { tenant_id: a.id, endpoint_id: a.endpointId, key_id: a.keyId });
      const answer = await call(route.method.toUpperCase(), path, { key: b.apiKey, body: route.method === 'get' || route.method === 'delete' ? undefined : {} });
      expect(answer.status, `${route.method.toUpperCase()} ${route.path}`).toBe(route.access === 'admin' ? 403 : 404);
      expect(JSON.stringify(answer.body)).not.toContain(a.endpointId);
    }
    expect(await snapshot()).toEqual(before);
  });

  it("answers 404 when B names its own tenant but A's endpoint or key", async () => {
    const before = await snapshot();
    const routes = documentedRoutes().filter((route) => /:tenant_id\/[a-z-]+\/:/.test(route.path) && route.access !== 'admin');
    expect(routes.map((route) => `${route.method} ${route.path}`)).toEqual(
      expect.arrayContaining([
        'get /v1/tenants/:tenant_id/endpoints/:endpoint_id',
        'patch /v1/tenants/:tenant_id/endpoints/:endpoint_id',
        'delete /v1/tenants/:tenant_id/endpoints/:endpoint_id',
        'post /v1/tenants/:tenant_id/endpoints/:endpoint_id/rotate-secret',
        'post /v1/tenants/:tenant_id/endpoints/:endpoint_id/enable',
        'post /v1/tenants/:tenant_id/endpoints/:endpoint_id/disable',
        'delete /v1/tenants/:tenant_id/api-keys/:key_id',
      ]),
    );
    for (const route of routes) {
      const path = fill(route.path, { tenant_id: b.id, endpoint_id: a.endpointId, key_id: a.keyId });
      const answer = await call(route.method.toUpperCase(), path, { key: b.apiKey, body: route.method === 'get' || route.method === 'delete' ? undefined : {} });
      expect(answer.status, `${route.method.toUpperCase()} ${route.path}`).toBe(404);
    }
    expect(await snapshot()).toEqual(before);
    // A's key still works: B did not revoke it.
    expect((await call('GET', `/v1/tenants/${a.id}`, { key: a.apiKey })).status).toBe(200);
  });

  it("answers the same 404 for A's tenant as for a tenant that does not exist", async () => {
    const other = await call('GET', `/v1/tenants/${a.id}/endpoints`, { key: b.apiKey });
    const missing = await call('GET', '/v1/tenants/ten_01J7W9S4TSQ0T4SH43JYB9W5R8/endpoints', { key: b.apiKey });
    expect(other.status).toBe(404);
    expect(other.body).toEqual(missing.body);
  });

  it("lists only the caller's own resources and forbids B the admin-only routes (403)", async () => {
    const endpoints = await call('GET', `/v1/tenants/${b.id}/endpoints?limit=100`, { key: b.apiKey });
    expect(endpoints.body.data.map((endpoint: { id: string }) => endpoint.id)).toEqual([b.endpointId]);
    const keys = await call('GET', `/v1/tenants/${b.id}/api-keys`, { key: b.apiKey });
    expect(keys.body.data.map((key: { id: string }) => key.id)).not.toContain(a.keyId);
    for (const route of documentedRoutes().filter((route) => route.access === 'admin')) {
      const path = fill(route.path, { tenant_id: b.id, name: 'v1.case.completed' });
      const answer = await call(route.method.toUpperCase(), path, { key: b.apiKey, body: route.method === 'get' || route.method === 'delete' ? undefined : {} });
      expect(answer.status, `${route.method.toUpperCase()} ${route.path}`).toBe(403);
    }
  });

  it('lets the admin key act on any tenant', async () => {
    expect((await call('GET', `/v1/tenants/${a.id}/endpoints/${a.endpointId}`)).status).toBe(200);
    expect((await call('GET', `/v1/tenants/${b.id}/endpoints/${b.endpointId}`)).status).toBe(200);
    expect((await call('GET', `/v1/tenants/${b.id}/endpoints/${a.endpointId}`)).status).toBe(404);
  });

  it("keeps A's secret and header values out of every answer B gets", async () => {
    for (const path of [`/v1/tenants/${a.id}/endpoints`, `/v1/tenants/${a.id}/endpoints/${a.endpointId}`, `/v1/tenants/${b.id}/endpoints/${a.endpointId}`]) {
      const text = JSON.stringify((await call('GET', path, { key: b.apiKey })).body);
      expect(text).not.toContain(a.secret.slice(-4));
      expect(text).not.toContain('a-private-header-value');
    }
  });
});
