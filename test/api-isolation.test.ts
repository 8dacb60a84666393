import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../src/api/app.js';
import { buildOpenApiDocument, documentedRoutes } from '../src/api/openapi.js';
import { apiClient, createEventType, createTenant, type ApiCall } from './helpers/api.js';
import { startTestStack, type TestStack } from './helpers/stack.js';

/**
 * Tenant B's key against everything of tenant A, route by route: never a 2xx, never a hint that A's
 * resources exist (404 like a missing id; 403 only for admin-only actions, whatever the id).
 */
describe('tenant isolation', () => {
  let stack: TestStack;
  let call: ApiCall;
  let a: { id: string; apiKey: string; endpointId: string; keyId: string; secret: string; eventId: string; deliveryId: string; recoveryId: string; channelId: string };
  let b: { id: string; apiKey: string; endpointId: string };

  /** The path with real ids; a parameter without one fails the test (a new route needs a resource of A's here). */
  const fill = (path: string, ids: Record<string, string>) =>
    path.replace(/:([A-Za-z0-9_]+)/g, (_, name: string) => {
      if (!ids[name]) throw new Error(`${path}: no id of tenant A for :${name}; create one in beforeAll`);
      return ids[name];
    });
  /** Every id of A's, for every path parameter the API has. */
  const idsOfA = () => ({ tenant_id: a.id, endpoint_id: a.endpointId, key_id: a.keyId, event_id: a.eventId, delivery_id: a.deliveryId, recovery_id: a.recoveryId, channel_id: a.channelId, name: 'v1.case.completed' });
  const snapshot = async () => ({
    tenant: (await call('GET', `/v1/tenants/${a.id}`)).body,
    endpoints: (await call('GET', `/v1/tenants/${a.id}/endpoints?limit=100`)).body,
    keys: (await call('GET', `/v1/tenants/${a.id}/api-keys?limit=100`)).body,
    secrets: await stack.sql`select id, expires_at from endpoint_secrets where endpoint_id = ${a.endpointId} order by id`,
    // Replays and recoveries B might have started on A's behalf.
    deliveries: await stack.sql`select id, status, attempts from deliveries where tenant_id = ${a.id} order by id`,
    recoveries: await stack.sql`select id, status from recoveries where tenant_id = ${a.id} order by id`,
    attempts: await stack.sql`select count(*)::int as count from attempts where tenant_id = ${a.id}`,
    channels: (await call('GET', `/v1/tenants/${a.id}/channels?limit=100`)).body,
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
    const eventA = await call('POST', `/v1/tenants/${tenantA.id}/events`, { key: tenantA.apiKey, body: { event_type: 'v1.case.completed', data: {} } });
    const recoveryA = await call('POST', `/v1/tenants/${tenantA.id}/endpoints/${endpointA.body.id}/recover`, { key: tenantA.apiKey, body: { since: '1h' } });
    const channelA = await call('POST', `/v1/tenants/${tenantA.id}/channels`, { key: tenantA.apiKey, body: { type: 'slack', webhook_url: 'https://hooks.slack.com/services/T0/B0/a-private-slack-token' } });
    expect([eventA.status, recoveryA.status, channelA.status]).toEqual([202, 202, 201]);
    a = {
      ...tenantA,
      endpointId: endpointA.body.id,
      keyId: keyA.body.id,
      secret: endpointA.body.secret,
      eventId: eventA.body.event_id,
      deliveryId: eventA.body.deliveries[0].delivery_id,
      recoveryId: recoveryA.body.recovery_id,
      channelId: channelA.body.id,
    };
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
      const path = fill(route.path, idsOfA());
      const answer = await call(route.method.toUpperCase(), path, { key: b.apiKey, body: route.method === 'get' || route.method === 'delete' ? undefined : {} });
      expect(answer.status, `${route.method.toUpperCase()} ${route.path}`).toBe(route.access === 'admin' ? 403 : 404);
      expect(JSON.stringify(answer.body)).not.toContain(a.endpointId);
      expect(JSON.stringify(answer.body)).not.toContain(a.deliveryId);
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
        'get /v1/tenants/:tenant_id/endpoints/:endpoint_id/attempts',
        'get /v1/tenants/:tenant_id/endpoints/:endpoint_id/stats',
        'get /v1/tenants/:tenant_id/deliveries/:delivery_id',
        'get /v1/tenants/:tenant_id/events/:event_id',
        'get /v1/tenants/:tenant_id/channels/:channel_id',
        'patch /v1/tenants/:tenant_id/channels/:channel_id',
        'delete /v1/tenants/:tenant_id/channels/:channel_id',
        'post /v1/tenants/:tenant_id/channels/:channel_id/test',
        'get /v1/tenants/:tenant_id/channels/:channel_id/messages',
      ]),
    );
    for (const route of routes) {
      const path = fill(route.path, { ...idsOfA(), tenant_id: b.id });
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

  it('walks every operation of the OpenAPI document: each is public, admin-only, tenant-scoped or acts on no tenant resource', async () => {
    const document = buildOpenApiDocument();
    const methods = ['get', 'post', 'put', 'patch', 'delete'];
    const operations = Object.entries(document.paths ?? {}).flatMap(([path, item]) =>
      Object.entries(item as Record<string, { security?: unknown[] }>)
        .filter(([method]) => methods.includes(method))
        .map(([method, operation]) => ({ key: `${method} ${path.replace(/\{([A-Za-z0-9_]+)\}/g, ':$1')}`, public: operation.security?.length === 0 })),
    );
    // The walks above iterate documentedRoutes(): the same operations as the document.
    expect(operations.map((operation) => operation.key).sort()).toEqual(documentedRoutes().map((route) => `${route.method} ${route.path}`).sort());
    const access = new Map(documentedRoutes().map((route) => [`${route.method} ${route.path}`, route.access]));
    // Public to keys: the portal's session routes, which act only on the session its cookie (or link token) names.
    expect(operations.filter((operation) => operation.public).map((operation) => operation.key).sort()).toEqual([
      'delete /portal/session',
      'get /healthz',
      'get /openapi.json',
      'get /portal/session',
      'get /readyz',
      'post /portal/session',
    ]);
    // Tenant keys may call these without naming a tenant: the shared event catalog, and test sends to a URL given in the body.
    const unscoped = operations.filter((operation) => !operation.public && access.get(operation.key) === 'tenant' && !operation.key.includes(':tenant_id'));
    expect(unscoped.map((operation) => operation.key).sort()).toEqual(['get /v1/event-types', 'get /v1/event-types/:name', 'post /v1/webhooks/test']);
    for (const operation of operations.filter((operation) => !operation.public)) {
      const [method, path] = operation.key.split(' ') as [string, string];
      const answer = await call(method.toUpperCase(), fill(path, idsOfA()), { key: b.apiKey, body: method === 'get' || method === 'delete' ? undefined : {} });
      const text = JSON.stringify(answer.body);
      for (const id of [a.id, a.endpointId, a.keyId, a.eventId, a.deliveryId, a.recoveryId, a.channelId, 'a-private-slack-token']) expect(text, operation.key).not.toContain(id);
      if (access.get(operation.key) === 'admin') expect(answer.status, operation.key).toBe(403);
      else if (path.includes(':tenant_id')) expect(answer.status, operation.key).toBe(404);
      else expect(answer.status, operation.key).toBeLessThan(500);
    }
  });
});
