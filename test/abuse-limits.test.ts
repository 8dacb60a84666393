import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from '../src/api/openapi.js';
import { startApi, type RunningApi } from '../src/api/server.js';
import { createTestDatabase, startTestStack, testConfig, type TestStack } from './helpers/stack.js';
import { apiClient, createEventType, createTenant, errorFields, type ApiCall } from './helpers/api.js';
import { createEndpoint, expectStatus, publish } from './helpers/deliveries.js';
import { receiverPool } from './helpers/receiver.js';

/**
 * Limits that keep one client from holding the API's resources: HTTP timeouts against slow clients, dates
 * PostgreSQL can store, a per-tenant budget of test sends, and a cap on a tenant's active API keys
 * (security review, issue 19, "low" findings).
 */

/** A raw TCP connection to the API: what it received and when the server closed it. */
function rawConnection(apiUrl: string) {
  const { hostname, port } = new URL(apiUrl);
  const socket: Socket = connect(Number(port), hostname);
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (received += chunk));
  socket.on('error', () => {});
  const opened = Date.now();
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - opened)));
  return { socket, closed, received: () => received, ready: new Promise<void>((resolve) => socket.once('connect', () => resolve())) };
}

/** Resolves with `promise`, or with `fallback` after `ms` (so an old 60 s timeout fails the test, not the run). */
const within = <T>(promise: Promise<T>, ms: number, fallback: T) =>
  Promise.race([promise, new Promise<T>((resolve) => setTimeout(() => resolve(fallback), ms))]);

describe('HTTP server timeouts (HERALD_HTTP_HEADERS_TIMEOUT_MS, HERALD_HTTP_REQUEST_TIMEOUT_MS, HERALD_HTTP_KEEP_ALIVE_TIMEOUT_MS)', () => {
  let stack: TestStack;
  beforeAll(async () => {
    stack = await startTestStack({
      worker: false,
      config: { HERALD_HTTP_HEADERS_TIMEOUT_MS: '500', HERALD_HTTP_REQUEST_TIMEOUT_MS: '1000', HERALD_HTTP_KEEP_ALIVE_TIMEOUT_MS: '500' },
    });
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('cuts off a client that sends its headers one byte at a time (408, connection closed) soon after the headers timeout', async () => {
    const connection = rawConnection(stack.apiUrl);
    await connection.ready;
    const headers = `GET /healthz HTTP/1.1\r\nHost: herald\r\nX-Slow: ${'a'.repeat(10_000)}`;
    let index = 0;
    const drip = setInterval(() => {
      if (!connection.socket.destroyed && index < headers.length) connection.socket.write(headers[index++]!);
    }, 50);
    try {
      const closedAfter = await within(connection.closed, 8000, Number.POSITIVE_INFINITY);
      expect(closedAfter, 'closed within 8 s').toBeLessThan(5000);
      expect(closedAfter).toBeGreaterThanOrEqual(400);
      expect(connection.received()).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      clearInterval(drip);
      connection.socket.destroy();
    }
  });

  it('cuts off a client whose body stops arriving (408, connection closed) soon after the request timeout', async () => {
    const connection = rawConnection(stack.apiUrl);
    await connection.ready;
    const body = '{"name": "slow tenant", "max_endpoints": 1}';
    connection.socket.write(
      `POST /v1/tenants HTTP/1.1\r\nHost: herald\r\nAuthorization: Bearer ${stack.adminKey}\r\nContent-Type: application/json\r\nContent-Length: ${body.length + 1000}\r\n\r\n${body}`,
    );
    try {
      const closedAfter = await within(connection.closed, 8000, Number.POSITIVE_INFINITY);
      expect(closedAfter, 'closed within 8 s').toBeLessThan(5000);
      expect(closedAfter).toBeGreaterThanOrEqual(900);
      expect(connection.received()).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      connection.socket.destroy();
    }
    // Nothing of the partial request was acted on.
    expect((await stack.sql`select count(*)::int as count from tenants where name = 'slow tenant'`)[0]!.count).toBe(0);
  });

  it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    const connection = rawConnection(stack.apiUrl);
    await connection.ready;
    connection.socket.write('GET /healthz HTTP/1.1\r\nHost: herald\r\nConnection: keep-alive\r\n\r\n');
    try {
      const closedAfter = await within(connection.closed, 8000, Number.POSITIVE_INFINITY);
      // Node's own default is 5 s; 500 ms here.
      expect(closedAfter).toBeLessThan(3000);
      expect(connection.received()).toMatch(/^HTTP\/1\.1 200 /);
    } finally {
      connection.socket.destroy();
    }
  });

  it('answers requests that arrive in time as usual', async () => {
    const answer = await fetch(`${stack.apiUrl}/healthz`);
    expect(answer.status).toBe(200);
  });

  it('starts the production API (startApi) with the same timeouts from its config', async () => {
    const database = await createTestDatabase();
    let api: RunningApi | undefined;
    try {
      api = await startApi(
        testConfig({
          DATABASE_URL: database.url,
          HERALD_API_PORT: '0',
          HERALD_HTTP_HEADERS_TIMEOUT_MS: '700',
          HERALD_HTTP_REQUEST_TIMEOUT_MS: '1500',
          HERALD_HTTP_KEEP_ALIVE_TIMEOUT_MS: '600',
          HERALD_SHUTDOWN_GRACE_MS: '1000',
        }),
      );
      expect({ headers: api.server.headersTimeout, request: api.server.requestTimeout, keepAlive: api.server.keepAliveTimeout }).toEqual({ headers: 700, request: 1500, keepAlive: 600 });
      const connection = rawConnection(api.url);
      await connection.ready;
      connection.socket.write('GET /healthz HTTP/1.1\r\nHost: herald\r\n');
      const closedAfter = await within(connection.closed, 8000, Number.POSITIVE_INFINITY);
      expect(closedAfter).toBeLessThan(5000);
      expect(connection.received()).toMatch(/^HTTP\/1\.1 408 /);
    } finally {
      await api?.close();
      await database.drop();
    }
  });
});

describe('limits on dates, test sends and API keys', () => {
  let stack: TestStack;
  let call: ApiCall;
  const receivers = receiverPool();
  beforeAll(async () => {
    stack = await startTestStack({ worker: false, config: { HERALD_TEST_SENDS_PER_MINUTE: '3', HERALD_MAX_API_KEYS_PER_TENANT: '4' } });
    call = apiClient(stack);
    await createEventType(call, 'v1.case.completed');
  });
  afterAll(async () => {
    await receivers.closeAll();
    await stack?.stop();
  });

  describe('dates', () => {
    const badDates = [
      '-271821-04-20T00:00:00Z',
      '+275760-09-13T00:00:00Z',
      '0000-01-01T00:00:00Z',
      '1969-12-31T23:59:59Z',
      '10000-01-01',
      '10000-01-01T00:00:00Z',
      '2026-02-30T00:00:00Z',
      '2025-02-29',
      '2026-13-01T00:00:00Z',
      '2026-05-01T24:00:00Z',
      '2026-05-01T12:00:60Z',
      '9999-12-31T23:59:59-01:00',
      '',
      'now',
      '1714000000000',
    ];

    it('answers 422 validation_failed naming the field for dates outside 1970..9999 or that do not exist, in every date query parameter', async () => {
      const tenant = await createTenant(call, { name: 'Dates' });
      const endpoint = await createEndpoint(call, tenant, { url: 'http://127.0.0.1:9/never' });
      const parameters = [
        [`/v1/tenants/${tenant.id}/deliveries`, 'since'],
        [`/v1/tenants/${tenant.id}/deliveries`, 'until'],
        [`/v1/tenants/${tenant.id}/endpoints/${endpoint.id}/attempts`, 'before'],
      ] as const;
      for (const [route, name] of parameters) {
        for (const value of badDates) {
          const answer = await call('GET', `${route}?${new URLSearchParams({ [name]: value })}`, { key: tenant.apiKey });
          expect(answer.status, `${name}=${value}`).toBe(422);
          expect(answer.body.error.code).toBe('validation_failed');
          expect(errorFields(answer), `${name}=${value}`).toEqual([`query.${name}`]);
        }
        // Two values for one parameter is not a date either.
        const twice = await call('GET', `${route}?${name}=2026-01-01&${name}=2026-01-02`, { key: tenant.apiKey });
        expect(errorFields(twice)).toEqual([`query.${name}`]);
      }
    });

    it("answers 422 naming the field for such dates, and durations reaching before 1970, in a recovery's since and until", async () => {
      const tenant = await createTenant(call, { name: 'Recover dates' });
      const endpoint = await createEndpoint(call, tenant, { url: 'http://127.0.0.1:9/never' });
      for (const field of ['since', 'until'] as const) {
        for (const value of [...badDates, '99999999999d', '1e9d', '100000d']) {
          const body = field === 'since' ? { since: value } : { since: '2h', until: value };
          const answer = await call('POST', `/v1/tenants/${tenant.id}/endpoints/${endpoint.id}/recover`, { key: tenant.apiKey, body });
          expect(answer.status, `${field}=${value}`).toBe(422);
          expect(errorFields(answer), `${field}=${value}`).toEqual([`body.${field}`]);
        }
      }
    });

    it('accepts ordinary dates (with offsets, date only, and the range ends) and filters by them', async () => {
      const tenant = await createTenant(call, { name: 'Good dates' });
      await createEndpoint(call, tenant, { url: 'http://127.0.0.1:9/never' });
      await publish(call, tenant, 'v1.case.completed', { n: 1 });
      const list = async (query: Record<string, string>) =>
        (await expectStatus(call('GET', `/v1/tenants/${tenant.id}/deliveries?${new URLSearchParams(query)}`, { key: tenant.apiKey }), 200)).data.length;
      expect(await list({ since: '1970-01-01T00:00:00Z' })).toBe(1);
      expect(await list({ since: '1970-01-01' })).toBe(1);
      expect(await list({ until: '9999-12-31T23:59:59.999Z' })).toBe(1);
      expect(await list({ since: '9999-12-31T23:59:59Z' })).toBe(0);
      expect(await list({ until: '2000-01-01T00:00:00+02:00' })).toBe(0);
      expect(await list({ since: new Date(Date.now() - 3_600_000).toISOString(), until: new Date(Date.now() + 3_600_000).toISOString() })).toBe(1);
      expect(await list({ since: '2024-02-29T12:00:00.123456+05:30' })).toBe(1);
    });
  });

  describe('test sends', () => {
    it('limits test sends per tenant, both routes and all its keys together: the one beyond HERALD_TEST_SENDS_PER_MINUTE is 429 rate_limited with Retry-After', async () => {
      const target = await receivers.start();
      const tenant = await createTenant(call, { name: 'Reflector' });
      const secondKey = (await expectStatus(call('POST', `/v1/tenants/${tenant.id}/api-keys`, { key: tenant.apiKey }), 201)).api_key as string;
      const endpoint = await createEndpoint(call, tenant, { url: target.url });
      const endpointTest = (key: string) => call('POST', `/v1/tenants/${tenant.id}/endpoints/${endpoint.id}/test`, { key });
      const adHoc = (key: string) => call('POST', '/v1/webhooks/test', { key, body: { endpoint_url: target.url, signing_secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' } });

      expect((await endpointTest(tenant.apiKey)).status).toBe(200);
      expect((await adHoc(secondKey)).status).toBe(200);
      expect((await endpointTest(secondKey)).status).toBe(200);
      for (const refused of [await endpointTest(tenant.apiKey), await adHoc(tenant.apiKey), await endpointTest(secondKey), await adHoc(secondKey)]) {
        expect(refused.status).toBe(429);
        expect(refused.body.error).toMatchObject({ code: 'rate_limited', details: { retry_after_seconds: expect.any(Number) } });
        expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
        expect(Number(refused.headers.get('retry-after'))).toBeLessThanOrEqual(60);
      }
      // Only what was sent reached the receiver and the attempt log.
      expect(target.requests).toHaveLength(3);
      expect((await stack.sql`select count(*)::int as count from attempts where kind = 'test' and endpoint_id = ${endpoint.id}`)[0]!.count).toBe(2);

      // Another tenant has a budget of its own.
      const other = await createTenant(call, { name: 'Bystander' });
      const otherEndpoint = await createEndpoint(call, other, { url: target.url });
      expect((await call('POST', `/v1/tenants/${other.id}/endpoints/${otherEndpoint.id}/test`, { key: other.apiKey })).status).toBe(200);
      // An endpoint the tenant does not have is 404, and is not a send.
      expect((await call('POST', `/v1/tenants/${other.id}/endpoints/${endpoint.id}/test`, { key: other.apiKey })).status).toBe(404);
    });

    it("counts the admin key's ad-hoc test sends in one 'admin' bucket, and its sends to a tenant's endpoint against that tenant", async () => {
      const target = await receivers.start();
      const adHoc = () => call('POST', '/v1/webhooks/test', { body: { endpoint_url: target.url, signing_secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' } });
      for (let index = 0; index < 3; index++) expect((await adHoc()).status).toBe(200);
      expect((await adHoc()).status).toBe(429);

      const tenant = await createTenant(call, { name: 'Admin tested' });
      const endpoint = await createEndpoint(call, tenant, { url: target.url });
      const endpointTest = (key?: string) => call('POST', `/v1/tenants/${tenant.id}/endpoints/${endpoint.id}/test`, { key });
      expect((await endpointTest()).status).toBe(200);
      expect((await endpointTest()).status).toBe(200);
      expect((await endpointTest(tenant.apiKey)).status).toBe(200);
      expect((await endpointTest(tenant.apiKey)).status).toBe(429);
      expect((await endpointTest()).status).toBe(429);
    });
  });

  describe('API keys', () => {
    it('refuses an API key beyond HERALD_MAX_API_KEYS_PER_TENANT active keys (409 conflict naming the limit); revoking one frees a place', async () => {
      const tenant = await createTenant(call, { name: 'Key hoarder' });
      const issue = (key: string | undefined = tenant.apiKey) => call('POST', `/v1/tenants/${tenant.id}/api-keys`, { key });
      const issued = [];
      for (let index = 0; index < 3; index++) issued.push(await expectStatus(issue(), 201));
      const refused = await issue();
      expect(refused.status).toBe(409);
      expect(refused.body.error).toMatchObject({ code: 'conflict', details: { max_api_keys: 4 } });
      // The admin key is held to the same cap.
      expect((await issue(stack.adminKey)).status).toBe(409);

      await expectStatus(call('DELETE', `/v1/tenants/${tenant.id}/api-keys/${issued[0].id}`, { key: tenant.apiKey }), 204);
      const again = await expectStatus(issue(), 201);
      expect((await call('GET', `/v1/tenants/${tenant.id}`, { key: again.api_key })).status).toBe(200);
      expect((await issue()).status).toBe(409);
      const active = await stack.sql`select count(*)::int as count from api_keys where tenant_id = ${tenant.id} and revoked_at is null`;
      expect(active[0]!.count).toBe(4);
    });

    it('never exceeds HERALD_MAX_API_KEYS_PER_TENANT under concurrent creation', async () => {
      const tenant = await createTenant(call, { name: 'Key race' });
      const answers = await Promise.all(Array.from({ length: 12 }, () => call('POST', `/v1/tenants/${tenant.id}/api-keys`, { key: tenant.apiKey })));
      expect(answers.map((answer) => answer.status).sort()).toEqual([...Array(3).fill(201), ...Array(9).fill(409)]);
      const active = await stack.sql`select count(*)::int as count from api_keys where tenant_id = ${tenant.id} and revoked_at is null`;
      expect(active[0]!.count).toBe(4);
    });
  });

  it('documents the limits on the routes they apply to (429 on test sends, 409 on API keys)', () => {
    const paths = buildOpenApiDocument().paths as Record<string, Record<string, { description?: string; responses: Record<string, unknown> }>>;
    const endpointTest = paths['/v1/tenants/{tenant_id}/endpoints/{endpoint_id}/test']!.post!;
    const adHoc = paths['/v1/webhooks/test']!.post!;
    const apiKeys = paths['/v1/tenants/{tenant_id}/api-keys']!.post!;
    for (const operation of [endpointTest, adHoc]) {
      expect(operation.description).toContain('HERALD_TEST_SENDS_PER_MINUTE');
      expect(operation.description).toContain('per tenant');
      expect(operation.responses['429']).toBeDefined();
    }
    expect(apiKeys.description).toContain('HERALD_MAX_API_KEYS_PER_TENANT');
    expect(apiKeys.responses['409']).toBeDefined();
  });
});
