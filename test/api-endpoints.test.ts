import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSecretBox } from '../src/core/crypto.js';
import { loadEndpointForDelivery, writeEndpointActivation } from '../src/core/endpoints.js';
import { apiClient, createEventType, createTenant, errorFields, type ApiCall } from './helpers/api.js';
import { startTestStack, type TestStack } from './helpers/stack.js';

const receiver = 'https://receiver.example.com/webhooks';

describe('endpoints', () => {
  let stack: TestStack;
  let call: ApiCall;
  let tenant: { id: string; apiKey: string };
  let base: string;
  const box = () => createSecretBox(stack.config.HERALD_ENCRYPTION_KEY);
  const create = (body: Record<string, unknown>, key = tenant.apiKey) => call('POST', base, { key, body: { url: receiver, event_types: ['v1.case.completed'], ...body } });

  beforeAll(async () => {
    stack = await startTestStack({ worker: false, config: { HERALD_MAX_BODY_BYTES: '4096' } });
    call = apiClient(stack);
    tenant = await createTenant(call, { name: 'Klarefi' });
    base = `/v1/tenants/${tenant.id}/endpoints`;
    for (const name of ['v1.case.completed', 'v1.case.failed', 'v1.document.processed']) await createEventType(call, name);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it('registers an endpoint with the documented defaults and a generated whsec_ secret', async () => {
    const created = await create({});
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      id: expect.stringMatching(/^ep_[0-9A-HJKMNP-TV-Z]{26}$/),
      tenant_id: tenant.id,
      url: receiver,
      description: '',
      event_types: ['v1.case.completed'],
      active: true,
      headers: {},
      secret: expect.stringMatching(/^whsec_[A-Za-z0-9+/]{43}=$/),
      signature: { profile: 'standard-webhooks' },
      envelope: 'herald',
      template: null,
      retry_schedule: ['5s', '5m', '30m', '2h', '5h', '10h', '10h'],
      timeout: '15s',
      disable_after_failures: 10,
      disable_after: null,
      rate_limit: null,
      disabled_reason: null,
      disabled_at: null,
      created_at: expect.any(String),
      updated_at: expect.any(String),
    });
    expect(Buffer.from(created.body.secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
  });

  it('shows the endpoint secret once, then masked as whsec_****a1b2', async () => {
    const created = await create({});
    const secret: string = created.body.secret;
    const masked = `whsec_****${secret.slice(-4)}`;
    const fetched = await call('GET', `${base}/${created.body.id}`, { key: tenant.apiKey });
    expect(fetched.status).toBe(200);
    expect(fetched.body.secret).toBe(masked);
    const listed = await call('GET', `${base}?limit=100`, { key: tenant.apiKey });
    expect(listed.body.data.find((endpoint: { id: string }) => endpoint.id === created.body.id).secret).toBe(masked);
    expect(JSON.stringify(listed.body)).not.toContain(secret.slice(6, 30));
    const patched = await call('PATCH', `${base}/${created.body.id}`, { key: tenant.apiKey, body: { description: 'renamed' } });
    expect(patched.body.secret).toBe(masked);
  });

  it("keeps a caller-supplied secret (seeds 000–003: the receiver already has one) and masks custom header values", async () => {
    const created = await create({
      secret: 'my-existing-shared-secret',
      headers: { secret: 'your-secure-secret-key-here', 'X-Tenant': 'acme-corp-1234' },
    });
    expect(created.status).toBe(201);
    expect(created.body.secret).toBe('my-existing-shared-secret');
    expect(created.body.headers).toEqual({ secret: '****here', 'X-Tenant': '****1234' });
    const fetched = await call('GET', `${base}/${created.body.id}`, { key: tenant.apiKey });
    expect(fetched.body.secret).toBe('****cret');
    expect(fetched.body.headers).toEqual({ secret: '****here', 'X-Tenant': '****1234' });
    const delivery = await loadEndpointForDelivery(stack.sql, box(), created.body.id);
    expect(delivery?.headers).toEqual({ secret: 'your-secure-secret-key-here', 'X-Tenant': 'acme-corp-1234' });
    expect(delivery?.secrets).toEqual(['my-existing-shared-secret']);
  });

  it('encrypts secrets and custom header values at rest (the raw columns do not contain them)', async () => {
    const headerValue = 'Bearer receiver-token-5f1c9a';
    const created = await create({ headers: { Authorization: headerValue } });
    const secret: string = created.body.secret;
    const [endpoint] = await stack.sql<{ headers_ciphertext: Buffer; row: string }[]>`
      select headers_ciphertext, row_to_json(endpoints)::text as row from endpoints where id = ${created.body.id}`;
    const secrets = await stack.sql<{ ciphertext: Buffer; row: string }[]>`
      select ciphertext, row_to_json(endpoint_secrets)::text as row from endpoint_secrets where endpoint_id = ${created.body.id}`;
    expect(secrets).toHaveLength(1);
    for (const needle of [secret, secret.slice(6), Buffer.from(secret.slice(6), 'base64').toString('hex')]) {
      expect(secrets[0]!.ciphertext.includes(Buffer.from(needle))).toBe(false);
      expect(secrets[0]!.row).not.toContain(needle);
    }
    expect(endpoint!.headers_ciphertext.includes(Buffer.from(headerValue))).toBe(false);
    expect(endpoint!.headers_ciphertext.includes(Buffer.from('receiver-token'))).toBe(false);
    expect(endpoint!.row).not.toContain('receiver-token');
    expect(box().decrypt(secrets[0]!.ciphertext)).toBe(secret);
  });

  it("reproduces the seed vendors' contracts by configuration", async () => {
    // 001 clarife: HTTPS, retries 1s/10s/60s, 10 s timeout, deactivated after 10 consecutive failures.
    const clarife = await create({ retry_schedule: ['1s', '10s', '60s'], timeout: '10s', disable_after_failures: 10, signature: { profile: 'timestamped' } });
    expect(clarife.status).toBe(201);
    expect(clarife.body).toMatchObject({ retry_schedule: ['1s', '10s', '60s'], timeout: '10s', signature: { profile: 'timestamped' } });
    // 002 Krebit Sign: hex HMAC of the raw body in X-Signature, X-Client-Id.
    const krebit = await create({ secret: 'krebit-shared-secret', signature: { profile: 'body-hex', client_id: 'client_123' } });
    expect(krebit.status).toBe(201);
    expect(krebit.body.signature).toEqual({ profile: 'body-hex', client_id: 'client_123' });
    // 003 KYC: X-Webhook-* headers with sha256=, the compact envelope, its own User-Agent.
    const kyc = await create({ signature: { profile: 'prefixed', user_agent: 'KYC-Webhooks/1.0' }, envelope: 'compact', timeout: '10s' });
    expect(kyc.status).toBe(201);
    expect(kyc.body).toMatchObject({ envelope: 'compact', signature: { profile: 'prefixed', user_agent: 'KYC-Webhooks/1.0' } });
    // 004 cr3dentials: a static auth header, retries 1,2,4,8,16 s then inactive, an inactive start.
    const cr3 = await create({
      headers: { secret: 'your-secure-secret-key-here' },
      signature: { profile: 'unsigned' },
      retry_schedule: { exponential: { initial: '1s', factor: 2, retries: 5 } },
      disable_after_failures: 5,
      active: false,
    });
    expect(cr3.status).toBe(201);
    expect(cr3.body).toMatchObject({ active: false, disabled_reason: 'manual', retry_schedule: { exponential: { initial: '1s', factor: 2, retries: 5 } } });
    expect(cr3.body.disabled_at).not.toBeNull();
  });

  it('stores disable_after and echoes durations as written', async () => {
    const created = await create({ disable_after: '3d', rate_limit: null, timeout: '250ms', retry_schedule: [] });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ disable_after: '3d', rate_limit: null, timeout: '250ms', retry_schedule: [] });
    const [row] = await stack.sql`select disable_after_ms::text, timeout_ms from endpoints where id = ${created.body.id}`;
    expect(row).toMatchObject({ disable_after_ms: String(3 * 86_400_000), timeout_ms: 250 });
    expect((await loadEndpointForDelivery(stack.sql, box(), created.body.id))?.disable_after_ms).toBe(3 * 86_400_000);
  });

  describe('rules', () => {
    it('requires subscribed types to be in the catalog, or *, and never v1.webhook.test (422)', async () => {
      const unknown = await create({ event_types: ['v1.case.completed', 'v1.not.in.catalog'] });
      expect(unknown.status).toBe(422);
      expect(errorFields(unknown)).toEqual(['body.event_types.1']);
      const test = await create({ event_types: ['v1.webhook.test'] });
      expect(test.status).toBe(422);
      expect(errorFields(test)).toEqual(['body.event_types.0']);
      const malformed = await create({ event_types: ['case.completed'] });
      expect(malformed.status).toBe(422);
      expect(errorFields(malformed)).toEqual(['body.event_types.0']);
      expect(errorFields(await create({ event_types: [] }))).toEqual(['body.event_types']);
      const everything = await create({ event_types: ['*'] });
      expect(everything.status).toBe(201);
      const operational = await create({ event_types: ['v1.webhook.delivery_failed', 'v1.endpoint.disabled'] });
      expect(operational.status).toBe(201);
    });

    it('requires an absolute http(s) URL without credentials (422 naming body.url)', async () => {
      for (const url of ['/relative', 'receiver.example.com/hook', 'ftp://receiver.example.com/', 'https://user:pass@receiver.example.com/', 'javascript:alert(1)']) {
        const answer = await create({ url });
        expect(answer.status, url).toBe(422);
        expect(errorFields(answer)).toEqual(['body.url']);
      }
      expect((await create({ url: 'http://127.0.0.1:9999/hook' })).status).toBe(201); // this stack allows http
    });

    it("refuses custom headers that would override Herald's own (422, case-insensitive)", async () => {
      for (const name of ['Content-Type', 'content-length', 'Host', 'User-Agent', 'webhook-signature', 'Webhook-Id', 'X-Herald-Signature', 'x-signature', 'X-Client-Id', 'X-Webhook-Timestamp']) {
        const answer = await create({ headers: { [name]: 'overridden-value' } });
        expect(answer.status, name).toBe(422);
        expect(errorFields(answer)).toEqual([`body.headers.${name}`]);
      }
      const renamed = await create({ signature: { profile: 'standard-webhooks', headers: { signature: 'X-Acme-Signature' } }, headers: { 'x-acme-signature': 'spoofed' } });
      expect(renamed.status).toBe(422);
      expect(errorFields(renamed)).toEqual(['body.headers.x-acme-signature']);
      const klarefi = await create({ signature: { profile: 'timestamped', headers: { signature: 'X-Klarefi-Signature' } }, headers: { Authorization: 'Bearer abcdefgh' } });
      expect(klarefi.status).toBe(201);
    });

    it('rejects header names and values that are not HTTP (422)', async () => {
      expect(errorFields(await create({ headers: { 'Bad Name': 'x' } }))).toEqual(['body.headers.Bad Name']);
      expect(errorFields(await create({ headers: { 'X-Ok': 'line\r\nInjected: 1' } }))).toEqual(['body.headers.X-Ok']);
    });

    it('rejects unknown signature profiles and envelopes (422)', async () => {
      expect(errorFields(await create({ signature: { profile: 'no-such-profile' } }))).toEqual(['body.signature.profile']);
      expect(errorFields(await create({ envelope: 'xml' }))).toEqual(['body.envelope']);
      expect(errorFields(await create({ signature: { profile: 'unsigned', headers: { signature: 'X-Sig' } } }))).toEqual(['body.signature.headers']);
    });

    it('bounds timeouts, failure counts and durations (422)', async () => {
      expect(errorFields(await create({ timeout: '31s' }))).toEqual(['body.timeout']);
      expect(errorFields(await create({ timeout: '15 seconds' }))).toEqual(['body.timeout']);
      expect(errorFields(await create({ disable_after_failures: 0 }))).toEqual(['body.disable_after_failures']);
      expect(errorFields(await create({ disable_after_failures: 1001 }))).toEqual(['body.disable_after_failures']);
      expect(errorFields(await create({ disable_after: 'forever' }))).toEqual(['body.disable_after']);
      expect(errorFields(await create({ retry_schedule: ['1 minute'] }))).toEqual(['body.retry_schedule.0']);
      expect(errorFields(await create({ secret: 'short' }))).toEqual(['body.secret']);
    });

    it('refuses a rate limit until Herald enforces one (422 not_supported, on create and PATCH)', async () => {
      const created = await create({});
      for (const answer of [
        await create({ rate_limit: { per_second: 50 } }),
        await create({ rate_limit: { per_minute: 5 } }),
        await call('PATCH', `${base}/${created.body.id}`, { key: tenant.apiKey, body: { rate_limit: { per_second: 5 } } }),
      ]) {
        expect(answer.status).toBe(422);
        expect(answer.body.error.details).toEqual([{ field: 'body.rate_limit', message: expect.stringMatching(/not supported/), code: 'not_supported' }]);
        expect(answer.body.error.message).toBe(`body.rate_limit: ${answer.body.error.details[0].message}`);
      }
      expect((await call('PATCH', `${base}/${created.body.id}`, { key: tenant.apiKey, body: { rate_limit: null } })).status).toBe(200);
      expect((await stack.sql`select count(*)::int as count from endpoints where rate_limit is not null`)[0]!.count).toBe(0);
    });

    it('rejects unknown fields (422 naming them)', async () => {
      const answer = await create({ callback: 'x', retries: 3 });
      expect(answer.status).toBe(422);
      expect(errorFields(answer).sort()).toEqual(['body.callback', 'body.retries']);
    });

    it('never answers 500 to arbitrary JSON, whatever the fields hold', async () => {
      const created = await create({});
      const value = fc.oneof(fc.jsonValue(), fc.constantFrom('15 seconds', '31s', '0s', '', '*', 'v1.webhook.test', 'http://x', 'Content-Type', null));
      const keys = fc.constantFrom('url', 'description', 'event_types', 'active', 'headers', 'secret', 'signature', 'envelope', 'retry_schedule', 'timeout', 'disable_after_failures', 'disable_after', 'rate_limit', 'grace_period', 'reason');
      await fc.assert(
        fc.asyncProperty(fc.dictionary(keys, value), fc.constantFrom('', `/${created.body.id}`, `/${created.body.id}/rotate-secret`, `/${created.body.id}/disable`), async (body, suffix) => {
          const method = suffix === `/${created.body.id}` ? 'PATCH' : 'POST';
          const answer = await call(method, `${base}${suffix}`, { key: tenant.apiKey, body: suffix === '' ? { url: receiver, event_types: ['*'], ...body } : body });
          expect(answer.status, JSON.stringify(body)).toBeLessThan(500);
          if (answer.status >= 400) expect(Object.keys(answer.body.error).sort()).toEqual(['code', 'details', 'message']);
        }),
        { numRuns: 150 },
      );
    });

    it('answers 400, 413 and 415 to bodies it cannot read, never 500', async () => {
      expect((await call('POST', base, { key: tenant.apiKey, rawBody: '{"url":' })).status).toBe(400);
      expect((await create({ description: 'x'.repeat(5000) })).status).toBe(413);
      expect((await call('POST', base, { key: tenant.apiKey, rawBody: 'url=x', headers: { 'content-type': 'text/plain' } })).status).toBe(415);
    });
  });

  describe('https', () => {
    let strict: TestStack;
    beforeAll(async () => {
      strict = await startTestStack({ worker: false, config: { HERALD_ALLOW_HTTP: 'false' } });
    });
    afterAll(async () => {
      await strict?.stop();
    });

    it('requires https unless HERALD_ALLOW_HTTP is set (422)', async () => {
      const strictCall = apiClient(strict);
      const owner = await createTenant(strictCall);
      const path = `/v1/tenants/${owner.id}/endpoints`;
      const http = await strictCall('POST', path, { body: { url: 'http://receiver.example.com/hook', event_types: ['*'] } });
      expect(http.status).toBe(422);
      expect(errorFields(http)).toEqual(['body.url']);
      expect(http.body.error.message).toMatch(/https/);
      expect((await strictCall('POST', path, { body: { url: 'https://receiver.example.com/hook', event_types: ['*'] } })).status).toBe(201);
    });
  });

  it('refuses an endpoint beyond the tenant max_endpoints (409 naming the limit); deleting one frees a place', async () => {
    const small = await createTenant(call, { name: 'clarife Pro', max_endpoints: 3 });
    const path = `/v1/tenants/${small.id}/endpoints`;
    const ids: string[] = [];
    for (let index = 0; index < 3; index++) {
      const answer = await call('POST', path, { key: small.apiKey, body: { url: receiver, event_types: ['*'] } });
      expect(answer.status).toBe(201);
      ids.push(answer.body.id);
    }
    const over = await call('POST', path, { key: small.apiKey, body: { url: receiver, event_types: ['*'] } });
    expect(over.status).toBe(409);
    expect(over.body.error).toMatchObject({ code: 'conflict', details: { max_endpoints: 3 } });
    expect(over.body.error.message).toContain('3');
    expect((await call('DELETE', `${path}/${ids[0]}`, { key: small.apiKey })).status).toBe(204);
    expect((await call('POST', path, { key: small.apiKey, body: { url: receiver, event_types: ['*'] } })).status).toBe(201);
  });

  it('never exceeds max_endpoints under concurrent creation', async () => {
    const small = await createTenant(call, { name: 'race', max_endpoints: 2 });
    const path = `/v1/tenants/${small.id}/endpoints`;
    const answers = await Promise.all(Array.from({ length: 6 }, () => call('POST', path, { key: small.apiKey, body: { url: receiver, event_types: ['*'] } })));
    expect(answers.filter((answer) => answer.status === 201)).toHaveLength(2);
    expect(answers.filter((answer) => answer.status === 409)).toHaveLength(4);
  });

  it('lists endpoints a page at a time, in creation order, all or only active or disabled ones', async () => {
    const owner = await createTenant(call);
    const path = `/v1/tenants/${owner.id}/endpoints`;
    const ids: string[] = [];
    for (let index = 0; index < 5; index++) ids.push((await call('POST', path, { key: owner.apiKey, body: { url: `${receiver}/${index}`, event_types: ['*'] } })).body.id);
    const first = await call('GET', `${path}?limit=2`, { key: owner.apiKey });
    expect(first.body.data.map((endpoint: { id: string }) => endpoint.id)).toEqual(ids.slice(0, 2));
    expect(first.body.next_cursor).toBe(ids[1]);
    const second = await call('GET', `${path}?limit=2&cursor=${first.body.next_cursor}`, { key: owner.apiKey });
    expect(second.body.data.map((endpoint: { id: string }) => endpoint.id)).toEqual(ids.slice(2, 4));
    const last = await call('GET', `${path}?limit=2&cursor=${second.body.next_cursor}`, { key: owner.apiKey });
    expect(last.body).toMatchObject({ data: [expect.objectContaining({ id: ids[4] })], next_cursor: null });

    // ?active=false lists the disabled ones only (the portal's status filter), ?active=true the others; paged alike.
    for (const id of [ids[1], ids[3]]) await call('POST', `${path}/${id}/disable`, { key: owner.apiKey, body: {} });
    const disabled = await call('GET', `${path}?active=false&limit=1`, { key: owner.apiKey });
    expect(disabled.body).toMatchObject({ data: [expect.objectContaining({ id: ids[1], active: false })], next_cursor: ids[1] });
    const nextDisabled = await call('GET', `${path}?active=false&limit=1&cursor=${ids[1]}`, { key: owner.apiKey });
    expect(nextDisabled.body.data.map((endpoint: { id: string }) => endpoint.id)).toEqual([ids[3]]);
    const active = await call('GET', `${path}?active=true`, { key: owner.apiKey });
    expect(active.body.data.map((endpoint: { id: string }) => endpoint.id)).toEqual([ids[0], ids[2], ids[4]]);
    expect((await call('GET', `${path}?active=maybe`, { key: owner.apiKey })).status).toBe(422);
  });

  describe('PATCH', () => {
    it('changes any field but the secret and keeps the rest', async () => {
      const created = await create({ headers: { 'X-Api-Key': 'first-value-1111' }, description: 'before' });
      const changes = {
        url: 'https://other.example.com/hook',
        event_types: ['v1.case.failed', 'v1.document.processed'],
        signature: { profile: 'prefixed' },
        envelope: 'bare',
        retry_schedule: ['1s'],
        timeout: '30s',
        disable_after_failures: 3,
        disable_after: '1h',
      };
      const patched = await call('PATCH', `${base}/${created.body.id}`, { key: tenant.apiKey, body: { ...changes, headers: { 'X-Api-Key': 'second-value-2222' } } });
      expect(patched.status).toBe(200);
      expect(patched.body).toMatchObject({ ...changes, id: created.body.id, description: 'before', headers: { 'X-Api-Key': '****2222' } });
      expect(Date.parse(patched.body.updated_at)).toBeGreaterThan(Date.parse(created.body.updated_at));
      const delivery = await loadEndpointForDelivery(stack.sql, box(), created.body.id);
      expect(delivery).toMatchObject({ headers: { 'X-Api-Key': 'second-value-2222' }, timeout_ms: 30_000, secrets: [created.body.secret] });
      const cleared = await call('PATCH', `${base}/${created.body.id}`, { key: tenant.apiKey, body: { disable_after: null, rate_limit: null, headers: {} } });
      expect(cleared.body).toMatchObject({ disable_after: null, rate_limit: null, headers: {} });
    });

    it('refuses to change the secret (422 naming body.secret and pointing at rotate-secret)', async () => {
      const created = await create({});
      const answer = await call('PATCH', `${base}/${created.body.id}`, { key: tenant.apiKey, body: { secret: 'a-new-secret-value' } });
      expect(answer.status).toBe(422);
      expect(errorFields(answer)).toEqual(['body.secret']);
      expect(answer.body.error.message).toMatch(/rotate-secret/);
    });

    it('applies the same rules as creation (422)', async () => {
      const created = await create({});
      const path = `${base}/${created.body.id}`;
      expect(errorFields(await call('PATCH', path, { key: tenant.apiKey, body: { event_types: ['v1.unknown.type'] } }))).toEqual(['body.event_types.0']);
      expect(errorFields(await call('PATCH', path, { key: tenant.apiKey, body: { headers: { 'Content-Type': 'text/plain' } } }))).toEqual(['body.headers.Content-Type']);
      expect(errorFields(await call('PATCH', path, { key: tenant.apiKey, body: { url: 'https://u:p@x.example.com' } }))).toEqual(['body.url']);
      expect(errorFields(await call('PATCH', path, { key: tenant.apiKey, body: { timeout: '1m' } }))).toEqual(['body.timeout']);
      // A header allowed under one profile becomes reserved when the profile starts sending it.
      await call('PATCH', path, { key: tenant.apiKey, body: { headers: { 'X-Trace': 'abcdefgh' } } });
      const clash = await call('PATCH', path, { key: tenant.apiKey, body: { signature: { profile: 'standard-webhooks', headers: { id: 'X-Trace' } } } });
      expect(errorFields(clash)).toEqual(['body.headers.X-Trace']);
    });

    it('deactivates and reactivates through active, recording the reason', async () => {
      const created = await create({});
      const off = await call('PATCH', `${base}/${created.body.id}`, { key: tenant.apiKey, body: { active: false } });
      expect(off.body).toMatchObject({ active: false, disabled_reason: 'manual' });
      const on = await call('PATCH', `${base}/${created.body.id}`, { key: tenant.apiKey, body: { active: true } });
      expect(on.body).toMatchObject({ active: true, disabled_reason: null, disabled_at: null });
    });
  });

  /** Publishes one event of `eventType` as `owner` and answers its deliveries by endpoint id: fan-out as production does it. */
  async function fanOut(eventType: string, owner = tenant): Promise<Record<string, { status: string; failure_reason: string | null }>> {
    const published = await call('POST', `/v1/tenants/${owner.id}/events`, { key: owner.apiKey, body: { event_type: eventType, data: {} } });
    expect(published.status).toBe(202);
    const event = await call('GET', `/v1/tenants/${owner.id}/events/${published.body.event_id}`, { key: owner.apiKey });
    return Object.fromEntries(event.body.deliveries.map((delivery: { endpoint_id: string; status: string; failure_reason: string | null }) => [delivery.endpoint_id, delivery]));
  }

  it('deletes an endpoint: 204, then it is gone from the API (404) and from fan-out', async () => {
    const created = await create({ event_types: ['v1.document.processed'] });
    const path = `${base}/${created.body.id}`;
    expect(Object.keys(await fanOut('v1.document.processed'))).toContain(created.body.id);
    expect((await call('DELETE', path, { key: tenant.apiKey })).status).toBe(204);
    for (const [method, suffix, body] of [['GET', ''], ['PATCH', '', { description: 'x' }], ['DELETE', ''], ['POST', '/rotate-secret', {}], ['POST', '/enable', {}], ['POST', '/disable', {}]] as const) {
      expect((await call(method, `${path}${suffix}`, { key: tenant.apiKey, body })).status, `${method} ${suffix}`).toBe(404);
    }
    const listed = await call('GET', `${base}?limit=100`, { key: tenant.apiKey });
    expect(listed.body.data.map((endpoint: { id: string }) => endpoint.id)).not.toContain(created.body.id);
    expect(Object.keys(await fanOut('v1.document.processed'))).not.toContain(created.body.id);
    expect(await loadEndpointForDelivery(stack.sql, box(), created.body.id)).toMatchObject({ id: created.body.id, deleted: true });
    expect(await loadEndpointForDelivery(stack.sql, box(), 'ep_01J7W9S4TSQ0T4SH43JYB9W5R8')).toBeUndefined();
  });

  describe('rotate-secret', () => {
    it('returns the new secret once; the old one keeps signing until the grace period ends', async () => {
      const created = await create({});
      const path = `${base}/${created.body.id}`;
      const before = Date.now();
      const rotated = await call('POST', `${path}/rotate-secret`, { key: tenant.apiKey });
      expect(rotated.status).toBe(200);
      expect(rotated.body.secret).toMatch(/^whsec_/);
      expect(rotated.body.secret).not.toBe(created.body.secret);
      const expires = Date.parse(rotated.body.previous_secret_expires_at);
      expect(expires - before).toBeGreaterThan(24 * 3_600_000 - 60_000);
      expect(expires - before).toBeLessThan(24 * 3_600_000 + 60_000);
      expect((await call('GET', path, { key: tenant.apiKey })).body.secret).toBe(`whsec_****${rotated.body.secret.slice(-4)}`);
      expect((await loadEndpointForDelivery(stack.sql, box(), created.body.id))?.secrets).toEqual([rotated.body.secret, created.body.secret]);

      // Once the grace period is over, only the new secret signs.
      await stack.sql`update endpoint_secrets set expires_at = now() - interval '1 second' where endpoint_id = ${created.body.id} and expires_at is not null`;
      expect((await loadEndpointForDelivery(stack.sql, box(), created.body.id))?.secrets).toEqual([rotated.body.secret]);
    });

    it('keeps every still-valid secret when rotating again during a grace period, and lets a short grace lapse', async () => {
      const created = await create({});
      const path = `${base}/${created.body.id}/rotate-secret`;
      const second = await call('POST', path, { key: tenant.apiKey, body: { grace_period: '1h' } });
      const third = await call('POST', path, { key: tenant.apiKey, body: { grace_period: '1s', secret: 'a-secret-the-receiver-chose' } });
      expect(third.body.secret).toBe('a-secret-the-receiver-chose');
      expect((await loadEndpointForDelivery(stack.sql, box(), created.body.id))?.secrets).toEqual([third.body.secret, second.body.secret, created.body.secret]);
      await new Promise((resolve) => setTimeout(resolve, 1200));
      expect((await loadEndpointForDelivery(stack.sql, box(), created.body.id))?.secrets).toEqual([third.body.secret, created.body.secret]);
    });

    it('with a zero grace period retires the old secret at once', async () => {
      const created = await create({});
      const rotated = await call('POST', `${base}/${created.body.id}/rotate-secret`, { key: tenant.apiKey, body: { grace_period: '0s' } });
      expect(rotated.status).toBe(200);
      expect((await loadEndpointForDelivery(stack.sql, box(), created.body.id))?.secrets).toEqual([rotated.body.secret]);
    });

    it('validates the grace period (422)', async () => {
      const created = await create({});
      const path = `${base}/${created.body.id}/rotate-secret`;
      expect(errorFields(await call('POST', path, { key: tenant.apiKey, body: { grace_period: 'soon' } }))).toEqual(['body.grace_period']);
      expect(errorFields(await call('POST', path, { key: tenant.apiKey, body: { grace_period: '31d' } }))).toEqual(['body.grace_period']);
      expect(errorFields(await call('POST', path, { key: tenant.apiKey, body: { keep_old: true } }))).toEqual(['body.keep_old']);
    });
  });

  describe('enable and disable', () => {
    it('disables with a reason and re-enables, clearing it; fan-out follows', async () => {
      const created = await create({ event_types: ['v1.case.failed'] });
      const path = `${base}/${created.body.id}`;
      const disabled = await call('POST', `${path}/disable`, { key: tenant.apiKey, body: { reason: 'receiver migrating' } });
      expect(disabled.status).toBe(200);
      expect(disabled.body).toMatchObject({ id: created.body.id, active: false, disabled_reason: 'receiver migrating' });
      expect(disabled.body.disabled_at).not.toBeNull();
      // A disabled endpoint's delivery is recorded as failed, never attempted (to replay once it is back).
      expect((await fanOut('v1.case.failed'))[created.body.id]).toMatchObject({ status: 'failed', failure_reason: 'endpoint_disabled' });
      const loaded = await loadEndpointForDelivery(stack.sql, box(), created.body.id);
      expect(loaded).toMatchObject({ active: false, deleted: false, disabled_reason: 'receiver migrating' });

      const enabled = await call('POST', `${path}/enable`, { key: tenant.apiKey });
      expect(enabled.status).toBe(200);
      expect(enabled.body).toMatchObject({ active: true, disabled_reason: null, disabled_at: null });
      expect((await fanOut('v1.case.failed'))[created.body.id]).toMatchObject({ failure_reason: null });
      expect(errorFields(await call('POST', `${path}/enable`, { key: tenant.apiKey, body: { reason: 'x' } }))).toEqual(['body.reason']);
    });

    it('writeEndpointActivation says whether the state changed, keeps the first disable time and reason, and stamps a re-enable', async () => {
      const created = await create({});
      const disabled = await writeEndpointActivation(stack.sql, tenant.id, created.body.id, false, 'consecutive_failures');
      expect(disabled).toMatchObject({ changed: true, active: false, disabled_reason: 'consecutive_failures', disabled_at: expect.any(Date), enabled_at: null });
      const first = await call('GET', `${base}/${created.body.id}`, { key: tenant.apiKey });
      expect(first.body).toMatchObject({ active: false, disabled_reason: 'consecutive_failures' });
      expect(await writeEndpointActivation(stack.sql, tenant.id, created.body.id, false, 'manual')).toMatchObject({ changed: false, disabled_reason: 'consecutive_failures', disabled_at: disabled!.disabled_at });
      const second = await call('GET', `${base}/${created.body.id}`, { key: tenant.apiKey });
      expect(second.body).toMatchObject({ disabled_reason: 'consecutive_failures', disabled_at: first.body.disabled_at });
      const enabled = await writeEndpointActivation(stack.sql, tenant.id, created.body.id, true);
      expect(enabled).toMatchObject({ changed: true, active: true, disabled_at: null, enabled_at: expect.any(Date) });
      expect(await writeEndpointActivation(stack.sql, tenant.id, created.body.id, true)).toMatchObject({ changed: false, enabled_at: enabled!.enabled_at });
      expect(await writeEndpointActivation(stack.sql, 'ten_01J7W9S4TSQ0T4SH43JYB9W5R8', created.body.id, false)).toBeUndefined();
    });
  });

  it('fans an event out to the endpoints that name its type or *, for the tenant only; disabled ones get a failed delivery', async () => {
    const owner = await createTenant(call);
    const other = await createTenant(call);
    const make = async (tenantKey: string, tenantId: string, body: Record<string, unknown>) =>
      (await call('POST', `/v1/tenants/${tenantId}/endpoints`, { key: tenantKey, body: { url: receiver, ...body } })).body.id as string;
    const specific = await make(owner.apiKey, owner.id, { event_types: ['v1.case.completed'] });
    const wildcard = await make(owner.apiKey, owner.id, { event_types: ['*'] });
    await make(owner.apiKey, owner.id, { event_types: ['v1.case.failed'] });
    const disabled = await make(owner.apiKey, owner.id, { event_types: ['*'], active: false });
    await make(other.apiKey, other.id, { event_types: ['*'] });
    const completed = await fanOut('v1.case.completed', owner);
    expect(Object.keys(completed).sort()).toEqual([specific, wildcard, disabled].sort());
    expect(completed[disabled]).toMatchObject({ status: 'failed', failure_reason: 'endpoint_disabled' });
    expect(Object.keys(await fanOut('v1.document.processed', owner)).sort()).toEqual([wildcard, disabled].sort());
  });
});
