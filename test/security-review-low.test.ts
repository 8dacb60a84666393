import { lookup } from 'node:dns/promises';
import os from 'node:os';
import express from 'express';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import ipaddr from 'ipaddr.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config.js';
import { createDeliveryAgent, postWebhook } from '../src/core/http-delivery.js';
import { builtInProfiles, signatureHeaders, signatureSettingsSchema, type BuiltInProfileName } from '../src/core/signing.js';
import { BlockedAddressError, createUrlPolicy, type Resolver } from '../src/core/url-policy.js';
import { constructEvent, webhookHandler, type Verification } from '../src/receiver/index.js';
import { apiClient, createEventType, createTenant, errorFields, type ApiAnswer, type ApiCall } from './helpers/api.js';
import { createEndpoint, expectStatus, publish, startDeliveryStack, waitForDeliveryStatus, type TenantFixture } from './helpers/deliveries.js';
import { receiverPool, type TestReceiver } from './helpers/receiver.js';
import { startTestStack, testConfig, type TestStack } from './helpers/stack.js';
import { receiverBody, receiverNow, receiverSecret } from './helpers/receiver-fixture.js';

/**
 * Issue 19, the "low" findings of the security review:
 * 1. signature header overrides (and HERALD_SIGNATURE_PROFILES) are checked like custom headers;
 * 2. the URL policy never tells a tenant what a name resolves to;
 * 3. profiles that do not sign the timestamp say so, in the API and in the receiver toolkit.
 */

const publicV4 = '93.184.215.14';

/** Names HTTP or Herald writes: no custom header and no signature header may take them. */
const protectedNames = ['Host', 'Content-Length', 'Transfer-Encoding', 'Connection', 'Upgrade', 'Expect', 'Keep-Alive', 'TE', 'Trailer', 'Proxy-Authorization', 'Content-Type', 'User-Agent'];

function expectValidationFailure(answer: ApiAnswer, field: string) {
  expect(answer.status, JSON.stringify(answer.body)).toBe(422);
  expect(answer.body.error.code).toBe('validation_failed');
  expect(errorFields(answer)).toEqual([field]);
}

describe('signature header overrides are checked like custom headers', () => {
  it.each(['id', 'timestamp', 'signature'] as const)('the schema refuses reserved and hop-by-hop names as signature.headers.%s', (which) => {
    for (const name of protectedNames) {
      const parsed = signatureSettingsSchema.safeParse({ profile: 'timestamped', headers: { [which]: name } });
      expect(parsed.success, name).toBe(false);
      expect(parsed.error!.issues.map((issue) => issue.path.join('.')), name).toEqual([`headers.${which}`]);
    }
    expect(signatureSettingsSchema.safeParse({ profile: 'timestamped', headers: { [which]: 'X-Klarefi-Signature' } }).success).toBe(true);
  });

  it('the schema refuses CR/LF and other non-printable characters in user_agent and client_id', () => {
    for (const field of ['user_agent', 'client_id']) {
      for (const value of ['Herald\r\nX-Injected: 1', 'line\nbreak', 'bell\u0007', 'naïve']) {
        const parsed = signatureSettingsSchema.safeParse({ profile: 'body-hex', [field]: value });
        expect(parsed.success, `${field}: ${JSON.stringify(value)}`).toBe(false);
        expect(parsed.error!.issues[0]!.path).toEqual([field]);
      }
      expect(signatureSettingsSchema.safeParse({ profile: 'body-hex', [field]: 'Acme Webhooks/1.0 (+https://acme.test)' }).success).toBe(true);
    }
  });

  it('HERALD_SIGNATURE_PROFILES refuses a profile whose header names are reserved, naming the variable', () => {
    const profile = (changes: Record<string, unknown>) =>
      JSON.stringify({
        acme: {
          idHeader: 'X-Acme-Id',
          extraHeaders: {},
          signature: { header: 'X-Acme-Signature', signedContent: '{body}', key: 'utf8', encoding: 'hex', format: { style: 'single', prefix: '' } },
          ...changes,
        },
      });
    expect(testConfig({ HERALD_SIGNATURE_PROFILES: profile({}) }).HERALD_SIGNATURE_PROFILES?.acme?.idHeader).toBe('X-Acme-Id');
    const refused = [
      { idHeader: 'Host' },
      { timestampHeader: 'Content-Length' },
      { clientIdHeader: 'Transfer-Encoding' },
      { extraHeaders: { Upgrade: 'h2c' } },
      { extraHeaders: { 'X-Acme-Version': '2\r\nX-Injected: 1' } },
      { signature: { header: 'Keep-Alive', signedContent: '{body}', key: 'utf8', encoding: 'hex', format: { style: 'single', prefix: '' } } },
    ];
    for (const changes of refused) {
      expect(() => testConfig({ HERALD_SIGNATURE_PROFILES: profile(changes) }), JSON.stringify(changes)).toThrow(ConfigError);
      expect(() => testConfig({ HERALD_SIGNATURE_PROFILES: profile(changes) }), JSON.stringify(changes)).toThrow(/HERALD_SIGNATURE_PROFILES/);
    }
  });
});

/** A resolver answering from a table, as DNS would. */
function fakeResolver(table: Record<string, string[] | (() => string[])>): Resolver {
  return async (hostname) => {
    const entry = table[hostname];
    const addresses = typeof entry === 'function' ? entry() : entry;
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
}

describe('the URL policy does not tell what a name resolves to', () => {
  const receivers = receiverPool();
  let target: TestReceiver;
  beforeAll(async () => {
    target = await receivers.start();
  });
  afterAll(() => receivers.closeAll());

  it('says only "resolves to a non-public address" at registration, outside dev mode', async () => {
    const resolve = fakeResolver({ 'vm.internal': ['127.0.0.1'], 'db.internal': ['10.0.0.5'], 'mixed.example': [publicV4, '169.254.169.254'], 'v6.internal': ['fd12::7'] });
    const policy = createUrlPolicy({ devMode: false, resolve });
    for (const [host, address] of [['vm.internal', '127.0.0.1'], ['db.internal', '10.0.0.5'], ['mixed.example', '169.254.169.254'], ['v6.internal', 'fd12::7']] as const) {
      const issue = await policy.destinationIssue(`https://${host}/hook`, { allowHttp: false });
      expect(issue, host).toMatch(new RegExp(`^${host.replace('.', '\\.')} resolves to a non-public address`));
      expect(issue, host).not.toContain(address);
      expect(issue, host).not.toMatch(/loopback|private|link-local|metadata|unique local/);
    }
    // A literal address is the tenant's own input: naming its kind tells nothing about the deployment.
    expect(await policy.destinationIssue('https://10.0.0.5/hook', { allowHttp: false })).toContain('10.0.0.5 is a private (RFC 1918) address');
  });

  it('keeps the resolved address out of connect-time errors (attempt logs, test sends), and on the error for the process itself', async () => {
    let answers = 0;
    const resolve = fakeResolver({ 'rebind.example': () => (answers++ === 0 ? [publicV4] : ['127.0.0.1']) });
    const policy = createUrlPolicy({ devMode: false, resolve });
    const url = `http://rebind.example:${new URL(target.url).port}/webhooks`;
    expect(await policy.destinationIssue(url, { allowHttp: true })).toBeUndefined();
    const before = target.requests.length;
    const result = await postWebhook(url, { 'content-type': 'application/json' }, '{}', 5000, undefined, { dispatcher: createDeliveryAgent(policy) });
    expect(result).toMatchObject({ ok: false, statusCode: null, errorClass: 'blocked' });
    expect(result.errorMessage).toContain('rebind.example resolves to a non-public address');
    expect(result.errorMessage).not.toContain('127.0.0.1');
    expect(result.errorMessage).not.toContain('loopback');
    expect(target.requests.length).toBe(before);

    const failure = await new Promise<Error | null>((resolveLookup) => policy.lookup('rebind.example', {}, (error) => resolveLookup(error)));
    expect(failure).toBeInstanceOf(BlockedAddressError);
    expect(failure!.message).not.toContain('127.0.0.1');
    expect((failure as BlockedAddressError).resolvedTo).toBe('127.0.0.1, a loopback address');
  });

  it('refuses nothing in dev mode, so there is nothing to hide', async () => {
    const policy = createUrlPolicy({ devMode: true, resolve: fakeResolver({ 'vm.internal': ['127.0.0.1'] }) });
    expect(await policy.destinationIssue('http://vm.internal/hook', { allowHttp: true })).toBeUndefined();
  });
});

/** A name the system resolver maps to a non-public address (this machine's own name, usually), if there is one. */
async function internalName(): Promise<string | undefined> {
  for (const name of [os.hostname(), 'localhost.localdomain', 'ip6-localhost']) {
    if (!name || name === 'localhost' || name.endsWith('.localhost') || ipaddr.isValid(name)) continue;
    try {
      const addresses = await lookup(name, { all: true });
      if (addresses.length > 0 && addresses.some(({ address }) => ipaddr.process(address).range() !== 'unicast')) return name;
    } catch {}
  }
  return undefined;
}

describe('the URL policy in the API and the worker does not tell what a name resolves to', () => {
  const receivers = receiverPool();
  let name: string | undefined;
  let target: TestReceiver;
  afterAll(() => receivers.closeAll());
  beforeAll(async () => {
    name = await internalName();
    target = await receivers.start();
  });

  describe('outside dev mode (HERALD_DEV_MODE=false)', () => {
    let stack: TestStack;
    let call: ApiCall;
    let tenant: TenantFixture;
    beforeAll(async () => {
      ({ stack, call, tenant } = await startDeliveryStack({ config: { HERALD_DEV_MODE: 'false' } }));
    });
    afterAll(async () => {
      await stack?.stop();
    });

    it('answers registration, PATCH and POST /v1/webhooks/test with "resolves to a non-public address" and no address', async (context) => {
      if (!name) context.skip();
      const addresses = (await lookup(name!, { all: true })).map(({ address }) => address);
      const url = `https://${name}:8443/hook`;
      const refusals = [
        await call('POST', `/v1/tenants/${tenant.id}/endpoints`, { key: tenant.apiKey, body: { url, event_types: ['*'] } }),
        await call('PATCH', `/v1/tenants/${tenant.id}/endpoints/${(await createEndpoint(call, tenant, { url: `https://${publicV4}/hook`, active: false })).id}`, { key: tenant.apiKey, body: { url } }),
      ];
      for (const answer of refusals) {
        expectValidationFailure(answer, 'body.url');
        expect(answer.body.error.details[0]).toMatchObject({ code: 'blocked_address', message: expect.stringContaining(`${name} resolves to a non-public address`) });
      }
      const adHoc = await call('POST', '/v1/webhooks/test', { key: tenant.apiKey, body: { endpoint_url: url, signing_secret: 'whsec_c2VjcmV0' } });
      expectValidationFailure(adHoc, 'body.endpoint_url');
      for (const answer of [...refusals, adHoc]) {
        const text = JSON.stringify(answer.body);
        for (const address of addresses) expect(text).not.toContain(address);
        expect(text).not.toMatch(/loopback|private \(|link-local/);
      }
    });

    it('records connect-time refusals in attempt logs and test-send answers without the address', async (context) => {
      if (!name) context.skip();
      const addresses = (await lookup(name!, { all: true })).map(({ address }) => address);
      const endpoint = await createEndpoint(call, tenant, { url: `https://${publicV4}/hook`, event_types: ['v1.case.completed'], retry_schedule: [] });
      // As if the name had resolved to a public address at registration and rebinds now.
      await stack.sql`update endpoints set url = ${`http://${name}:${new URL(target.url).port}/hook`} where id = ${endpoint.id}`;

      const tested = await expectStatus(call('POST', `/v1/tenants/${tenant.id}/endpoints/${endpoint.id}/test`, { key: tenant.apiKey }), 200);
      expect(tested).toMatchObject({ success: false, error_class: 'blocked', error_message: expect.stringContaining(`${name} resolves to a non-public address`) });

      const published = await publish(call, tenant, 'v1.case.completed', { n: 1 });
      const deliveryId = published.deliveries.find((delivery: { endpoint_id: string }) => delivery.endpoint_id === endpoint.id).delivery_id;
      const failed = await waitForDeliveryStatus(call, tenant, deliveryId, ['failed']);
      expect(failed.attempts_log[0]).toMatchObject({ error_class: 'blocked', error_message: expect.stringContaining(`${name} resolves to a non-public address`) });
      const attempts = await expectStatus(call('GET', `/v1/tenants/${tenant.id}/endpoints/${endpoint.id}/attempts?limit=10`, { key: tenant.apiKey }), 200);
      for (const text of [JSON.stringify(tested), JSON.stringify(failed), JSON.stringify(attempts)]) {
        for (const address of addresses) expect(text).not.toContain(address);
        expect(text).not.toContain('loopback');
      }
      expect(target.requests).toHaveLength(0);
    });
  });

  describe('in dev mode', () => {
    let stack: TestStack;
    let call: ApiCall;
    beforeAll(async () => {
      stack = await startTestStack({ worker: false });
      call = apiClient(stack);
    });
    afterAll(async () => {
      await stack?.stop();
    });

    it('accepts and reaches the same name: nothing is refused, so nothing is leaked', async (context) => {
      if (!name) context.skip();
      const tenant = await createTenant(call);
      await createEventType(call, 'v1.case.completed');
      const url = `http://${name}:${new URL(target.url).port}/hook`;
      await createEndpoint(call, tenant, { url });
      const tested = await expectStatus(call('POST', '/v1/webhooks/test', { key: tenant.apiKey, body: { endpoint_url: url, signing_secret: 'whsec_c2VjcmV0' } }), 200);
      expect(tested).toMatchObject({ success: true, status_code: 200 });
    });
  });
});

describe('signature overrides and custom headers through the API (422 naming the field)', () => {
  let stack: TestStack;
  let call: ApiCall;
  let tenant: TenantFixture;
  const base = () => `/v1/tenants/${tenant.id}/endpoints`;
  const create = (body: Record<string, unknown>) => call('POST', base(), { key: tenant.apiKey, body: { url: 'http://127.0.0.1:9/hook', event_types: ['*'], ...body } });

  beforeAll(async () => {
    stack = await startTestStack({
      worker: false,
      config: {
        HERALD_SIGNATURE_PROFILES: JSON.stringify({
          'acme-body': { extraHeaders: {}, signature: { header: 'X-Acme-Signature', signedContent: '{body}', key: 'utf8', encoding: 'hex', format: { style: 'single', prefix: '' } } },
          'acme-timed': {
            timestampHeader: 'X-Acme-Timestamp',
            extraHeaders: {},
            signature: { header: 'X-Acme-Signature', signedContent: '{timestamp}.{body}', key: 'utf8', encoding: 'hex', format: { style: 'single', prefix: '' } },
          },
        }),
      },
    });
    call = apiClient(stack);
    tenant = await createTenant(call);
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it.each(['id', 'timestamp', 'signature'] as const)('refuses a reserved or hop-by-hop name as signature.headers.%s on create and PATCH', async (which) => {
    const existing = await expectStatus(create({ signature: { profile: 'timestamped' } }), 201);
    for (const name of protectedNames) {
      const signature = { profile: 'timestamped', headers: { [which]: name } };
      expectValidationFailure(await create({ signature }), `body.signature.headers.${which}`);
      expectValidationFailure(await call('PATCH', `${base()}/${existing.id}`, { key: tenant.apiKey, body: { signature } }), `body.signature.headers.${which}`);
    }
    const fetched = await expectStatus(call('GET', `${base()}/${existing.id}`, { key: tenant.apiKey }), 200);
    expect(fetched.signature).toEqual({ profile: 'timestamped' });
  });

  it('refuses CR/LF in signature.user_agent and signature.client_id on create and PATCH', async () => {
    const existing = await expectStatus(create({ signature: { profile: 'body-hex' } }), 201);
    for (const field of ['user_agent', 'client_id']) {
      const signature = { profile: 'body-hex', [field]: 'acme\r\nX-Injected: 1' };
      expectValidationFailure(await create({ signature }), `body.signature.${field}`);
      expectValidationFailure(await call('PATCH', `${base()}/${existing.id}`, { key: tenant.apiKey, body: { signature } }), `body.signature.${field}`);
    }
  });

  it("refuses the same names and values in POST /v1/webhooks/test's signature", async () => {
    const adHoc = (signature: Record<string, unknown>) =>
      call('POST', '/v1/webhooks/test', { key: tenant.apiKey, body: { endpoint_url: 'http://127.0.0.1:9/hook', signing_secret: 'whsec_c2VjcmV0', signature } });
    expectValidationFailure(await adHoc({ profile: 'timestamped', headers: { signature: 'Host' } }), 'body.signature.headers.signature');
    expectValidationFailure(await adHoc({ profile: 'standard-webhooks', headers: { id: 'Transfer-Encoding' } }), 'body.signature.headers.id');
    expectValidationFailure(await adHoc({ profile: 'body-hex', client_id: 'x\r\nHost: evil.test' }), 'body.signature.client_id');
    expectValidationFailure(await adHoc({ profile: 'body-hex', user_agent: 'x\nY: 1' }), 'body.signature.user_agent');
  });

  it('refuses hop-by-hop names as custom headers too, with the name schema’s message', async () => {
    for (const name of ['Transfer-Encoding', 'Connection', 'Upgrade', 'Expect', 'Keep-Alive', 'TE', 'Trailer', 'Proxy-Authorization', 'Host', 'Content-Length']) {
      const answer = await create({ headers: { [name]: 'some-value' } });
      expectValidationFailure(answer, `body.headers.${name}`);
      expect(answer.body.error.details[0].message).toContain('cannot be chosen');
    }
    expect((await create({ headers: { 'X-Api-Key': 'some-value' } })).status).toBe(201);
  });

  describe('warnings for profiles that do not sign the timestamp', () => {
    const warning = { code: 'timestamp_not_signed', message: expect.stringMatching(/does not sign the delivery's timestamp/) };

    it.each(['timestamped-body', 'body-hex', 'acme-body'])('answers create, get, list and PATCH of a %s endpoint with a timestamp_not_signed warning', async (profile) => {
      const created = await expectStatus(create({ signature: { profile } }), 201);
      expect(created.warnings).toEqual([warning]);
      const fetched = await expectStatus(call('GET', `${base()}/${created.id}`, { key: tenant.apiKey }), 200);
      expect(fetched.warnings).toEqual([warning]);
      const listed = await expectStatus(call('GET', `${base()}?limit=100`, { key: tenant.apiKey }), 200);
      expect(listed.data.find((endpoint: { id: string }) => endpoint.id === created.id).warnings).toEqual([warning]);
      const patched = await expectStatus(call('PATCH', `${base()}/${created.id}`, { key: tenant.apiKey, body: { description: 'still unsigned' } }), 200);
      expect(patched.warnings).toEqual([warning]);
      // Naming a timestamp header does not sign it.
      const withTimestamp = await expectStatus(call('PATCH', `${base()}/${created.id}`, { key: tenant.apiKey, body: { signature: { profile, headers: { timestamp: 'X-Ts' } } } }), 200);
      expect(withTimestamp.warnings).toEqual([warning]);
    });

    it.each(['standard-webhooks', 'timestamped', 'prefixed', 'unsigned', 'acme-timed'])('leaves warnings out for a %s endpoint', async (profile) => {
      const created = await expectStatus(create({ signature: { profile } }), 201);
      expect(created).not.toHaveProperty('warnings');
      expect(await expectStatus(call('GET', `${base()}/${created.id}`, { key: tenant.apiKey }), 200)).not.toHaveProperty('warnings');
    });

    it('drops the warning once the endpoint moves to a profile that signs the timestamp', async () => {
      const created = await expectStatus(create({ signature: { profile: 'body-hex' } }), 201);
      expect(created.warnings).toHaveLength(1);
      const patched = await expectStatus(call('PATCH', `${base()}/${created.id}`, { key: tenant.apiKey, body: { signature: { profile: 'timestamped' } } }), 200);
      expect(patched).not.toHaveProperty('warnings');
    });

    it('documents warnings in the OpenAPI Endpoint schema', async () => {
      const document: any = await (await fetch(`${stack.apiUrl}/openapi.json`)).json();
      const endpoint = document.components.schemas.Endpoint;
      expect(endpoint.properties.warnings).toBeDefined();
      expect(endpoint.required ?? []).not.toContain('warnings');
      expect(JSON.stringify(document.components.schemas)).toContain('timestamp_not_signed');
    });
  });
});

describe('the receiver toolkit says when no timestamp check was possible', () => {
  const secret = receiverSecret;
  const now = receiverNow;
  const body = receiverBody;
  const signed = (profile: BuiltInProfileName, timestamp = now) =>
    signatureHeaders({ profile: builtInProfiles[profile], secrets: [secret], messageId: 'whd_01J7W9S52C2ZK1XFY2GM7Z7SAK', timestamp, body, clientId: 'client_42' });

  it.each([
    ['standard-webhooks', true],
    ['timestamped', true],
    ['prefixed', true],
    ['timestamped-body', false],
    ['body-hex', false],
  ] as const)('constructEvent with withVerification reports timestamp_checked for %s as %s', (profile, checked) => {
    const { event, verification } = constructEvent(body, signed(profile), secret, { now, profile, withVerification: true });
    expect(event.delivery_id).toBe('whd_01J7W9S52C2ZK1XFY2GM7Z7SAK');
    expect(verification.timestamp_checked).toBe(checked);
  });

  it('reports an unsigned t= as a timestamp that was not checked, and a forged fresh t= verifies all the same', () => {
    const old = signed('timestamped-body', now - 3600)['X-Herald-Signature']!;
    // A replay with the t= rewritten to now: the signature covers the body only, so it still matches.
    const replayed = { 'X-Herald-Signature': old.replace(/^t=\d+/, `t=${now}`) };
    const { verification } = constructEvent(body, replayed, secret, { now, profile: 'timestamped-body', withVerification: true });
    expect(verification).toEqual({ timestamp_checked: false, timestamp: now });
  });

  it('keeps returning the parsed event when withVerification is not asked for (backward compatible)', () => {
    const event = constructEvent(body, signed('body-hex'), secret, { now, profile: 'body-hex' });
    expect(event).toEqual(JSON.parse(body));
    expect(event).not.toHaveProperty('verification');
  });

  it('hands webhookHandler callbacks the verification as a fourth argument', async () => {
    const seen: Verification[] = [];
    const app = express();
    const record = (_event: unknown, _req: express.Request, res: express.Response, verification: Verification) => {
      seen.push(verification);
      res.sendStatus(204);
    };
    app.post('/hex', ...webhookHandler({ secret, profile: 'body-hex' }, record));
    app.post('/std', ...webhookHandler({ secret }, record));
    const server: Server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const fresh = Math.floor(Date.now() / 1000);
      expect((await fetch(`${url}/hex`, { method: 'POST', headers: { 'content-type': 'application/json', ...signed('body-hex', fresh) }, body })).status).toBe(204);
      expect((await fetch(`${url}/std`, { method: 'POST', headers: { 'content-type': 'application/json', ...signed('standard-webhooks', fresh) }, body })).status).toBe(204);
      expect(seen).toEqual([
        { timestamp_checked: false },
        { timestamp_checked: true, timestamp: fresh, message_id: 'whd_01J7W9S52C2ZK1XFY2GM7Z7SAK' },
      ]);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});
