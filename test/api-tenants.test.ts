import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashApiKey } from '../src/core/crypto.js';
import { apiClient, createTenant, errorFields, type ApiCall } from './helpers/api.js';
import { startTestStack, type TestStack } from './helpers/stack.js';

describe('tenants and API keys', () => {
  let stack: TestStack;
  let call: ApiCall;
  beforeAll(async () => {
    stack = await startTestStack({ worker: false, config: { HERALD_MAX_BODY_BYTES: '2048' } });
    call = apiClient(stack);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('creates a tenant with the admin key and shows its first API key once', async () => {
    const created = await call('POST', '/v1/tenants', { body: { name: 'Klarefi', max_endpoints: 3 } });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'Klarefi', max_endpoints: 3 });
    expect(created.body.id).toMatch(/^ten_[0-9A-HJKMNP-TV-Z]{26}$/);
    expect(created.body.api_key).toMatch(/^sk_[A-Za-z0-9_-]{20,}$/);
    expect(created.body.api_key_id).toMatch(/^key_/);
    expect(Date.parse(created.body.created_at)).not.toBeNaN();

    const fetched = await call('GET', `/v1/tenants/${created.body.id}`);
    expect(fetched.status).toBe(200);
    expect(fetched.body).toEqual({ id: created.body.id, name: 'Klarefi', max_endpoints: 3, created_at: created.body.created_at, updated_at: created.body.updated_at });
  });

  it('defaults max_endpoints to 100', async () => {
    const created = await call('POST', '/v1/tenants', { body: { name: 'clarife' } });
    expect(created.body.max_endpoints).toBe(100);
  });

  it("lets a tenant key read its own tenant, and nothing admin-only (403)", async () => {
    const tenant = await createTenant(call, { name: 'Krebit' });
    expect((await call('GET', `/v1/tenants/${tenant.id}`, { key: tenant.apiKey })).status).toBe(200);
    const forbidden = await call('POST', '/v1/tenants', { key: tenant.apiKey, body: { name: 'sneaky' } });
    expect(forbidden.status).toBe(403);
    expect(forbidden.body.error.code).toBe('forbidden');
    expect((await call('GET', '/v1/tenants', { key: tenant.apiKey })).status).toBe(403);
    expect((await call('PATCH', `/v1/tenants/${tenant.id}`, { key: tenant.apiKey, body: { max_endpoints: 1000 } })).status).toBe(403);
  });

  it('answers 401 without a key, with an unknown key or with another scheme', async () => {
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer sk_nope' }, { authorization: `Basic ${stack.adminKey}` }, { authorization: 'Bearer' }]) {
      const answer = await call('GET', '/v1/tenants', { key: null, headers });
      expect(answer.status).toBe(401);
      expect(answer.body.error).toMatchObject({ code: 'unauthorized' });
      expect(answer.headers.get('www-authenticate')).toBe('Bearer');
    }
  });

  it('lists tenants a page at a time with a cursor', async () => {
    for (const name of ['p1', 'p2', 'p3']) await createTenant(call, { name });
    const all: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: { status: number; body: any } = await call('GET', `/v1/tenants?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.data.length).toBeLessThanOrEqual(2);
      all.push(...page.body.data.map((tenant: { id: string }) => tenant.id));
      cursor = page.body.next_cursor;
      pages++;
    } while (cursor);
    expect(pages).toBeGreaterThanOrEqual(2);
    expect(all).toEqual([...all].sort());
    expect(new Set(all).size).toBe(all.length);
    const everything = await call('GET', '/v1/tenants?limit=100');
    expect(everything.body.data.map((tenant: { id: string }) => tenant.id)).toEqual(all);
    expect(everything.body.next_cursor).toBeNull();
  });

  it('rejects a page size outside 1..100 (422 naming query.limit)', async () => {
    for (const limit of ['0', '101', 'ten']) {
      const answer = await call('GET', `/v1/tenants?limit=${limit}`);
      expect(answer.status).toBe(422);
      expect(errorFields(answer)).toEqual(['query.limit']);
    }
  });

  it('changes a tenant name and endpoint limit (admin)', async () => {
    const tenant = await createTenant(call);
    const patched = await call('PATCH', `/v1/tenants/${tenant.id}`, { body: { max_endpoints: 20 } });
    expect(patched.status).toBe(200);
    expect(patched.body).toMatchObject({ id: tenant.id, name: 'Acme', max_endpoints: 20 });
    expect((await call('PATCH', '/v1/tenants/ten_01J7W9S4TSQ0T4SH43JYB9W5R8', { body: { name: 'x' } })).status).toBe(404);
  });

  it('validates the tenant body field by field (422) and rejects unknown fields', async () => {
    const missing = await call('POST', '/v1/tenants', { body: {} });
    expect(missing.status).toBe(422);
    expect(missing.body.error.code).toBe('validation_failed');
    expect(errorFields(missing)).toEqual(['body.name']);
    const wrong = await call('POST', '/v1/tenants', { body: { name: '', max_endpoints: -1, plan: 'pro' } });
    expect(wrong.status).toBe(422);
    expect(errorFields(wrong).sort()).toEqual(['body.max_endpoints', 'body.name', 'body.plan']);
  });

  it('issues more API keys, each shown once and listed masked to its last four characters', async () => {
    const tenant = await createTenant(call);
    const issued = await call('POST', `/v1/tenants/${tenant.id}/api-keys`, { key: tenant.apiKey });
    expect(issued.status).toBe(201);
    expect(issued.body.api_key).toMatch(/^sk_/);
    expect(issued.body.id).toMatch(/^key_/);
    expect((await call('GET', `/v1/tenants/${tenant.id}`, { key: issued.body.api_key })).status).toBe(200);

    const listed = await call('GET', `/v1/tenants/${tenant.id}/api-keys`, { key: tenant.apiKey });
    expect(listed.status).toBe(200);
    expect(listed.body.data).toHaveLength(2);
    const text = JSON.stringify(listed.body);
    expect(text).not.toContain(issued.body.api_key);
    expect(text).not.toContain(tenant.apiKey);
    expect(listed.body.data).toContainEqual(expect.objectContaining({ id: issued.body.id, key: `sk_****${issued.body.api_key.slice(-4)}`, revoked_at: null }));
  });

  it('stores API keys only as SHA-256 hashes', async () => {
    const tenant = await createTenant(call);
    const rows = await stack.sql<{ key_hash: Buffer; row: string }[]>`select key_hash, row_to_json(api_keys)::text as row from api_keys where tenant_id = ${tenant.id}`;
    expect(rows).toHaveLength(1);
    expect(rows[0]!.key_hash.equals(hashApiKey(tenant.apiKey))).toBe(true);
    expect(rows[0]!.row).not.toContain(tenant.apiKey.slice(3));
  });

  it('revokes an API key: 204, then the key gets 401 and the listing shows revoked_at', async () => {
    const tenant = await createTenant(call);
    const second = await call('POST', `/v1/tenants/${tenant.id}/api-keys`);
    const revoked = await call('DELETE', `/v1/tenants/${tenant.id}/api-keys/${second.body.id}`, { key: tenant.apiKey });
    expect(revoked.status).toBe(204);
    expect((await call('GET', `/v1/tenants/${tenant.id}`, { key: second.body.api_key })).status).toBe(401);
    expect((await call('GET', `/v1/tenants/${tenant.id}`, { key: tenant.apiKey })).status).toBe(200);
    const listed = await call('GET', `/v1/tenants/${tenant.id}/api-keys`);
    expect(listed.body.data.find((key: { id: string }) => key.id === second.body.id).revoked_at).not.toBeNull();
    expect((await call('DELETE', `/v1/tenants/${tenant.id}/api-keys/key_01J7W9S4TSQ0T4SH43JYB9W5R8`)).status).toBe(404);
  });

  it('answers 404 for a tenant that does not exist', async () => {
    const answer = await call('GET', '/v1/tenants/ten_01J7W9S4TSQ0T4SH43JYB9W5R8');
    expect(answer.status).toBe(404);
    expect(answer.body.error).toMatchObject({ code: 'not_found' });
  });

  describe('request errors are 4xx with the error shape, never 500', () => {
    it('answers 400 to malformed JSON', async () => {
      const answer = await call('POST', '/v1/tenants', { rawBody: '{"name": "x",' });
      expect(answer.status).toBe(400);
      expect(answer.body.error).toMatchObject({ code: 'invalid_json' });
    });

    it('answers 413 to a body above HERALD_MAX_BODY_BYTES', async () => {
      const answer = await call('POST', '/v1/tenants', { body: { name: 'x'.repeat(5000) } });
      expect(answer.status).toBe(413);
      expect(answer.body.error).toMatchObject({ code: 'payload_too_large' });
    });

    it('answers 415 to a body that is not JSON', async () => {
      const answer = await call('POST', '/v1/tenants', { rawBody: 'name=x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
      expect(answer.status).toBe(415);
      expect(answer.body.error).toMatchObject({ code: 'unsupported_media_type' });
    });

    it('answers 422 to JSON that is not an object', async () => {
      for (const rawBody of ['[1,2]', '"text"', 'null']) {
        const answer = await call('POST', '/v1/tenants', { rawBody });
        expect([400, 422]).toContain(answer.status);
        expect(answer.body.error.code).toMatch(/invalid_json|validation_failed/);
      }
    });

    it('answers 404 to an unknown route and 405 with Allow to a wrong method', async () => {
      const unknown = await call('GET', '/v1/nothing-here');
      expect(unknown.status).toBe(404);
      expect(unknown.body.error).toMatchObject({ code: 'not_found' });
      const wrongMethod = await call('PUT', '/v1/tenants', { body: { name: 'x' } });
      expect(wrongMethod.status).toBe(405);
      expect(wrongMethod.headers.get('allow')).toContain('POST');
      expect(wrongMethod.body.error).toMatchObject({ code: 'method_not_allowed' });
    });
  });
});
