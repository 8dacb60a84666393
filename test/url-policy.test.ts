import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '../src/config.js';
import { createUrlPolicy, type Resolver } from '../src/core/url-policy.js';
import { createDeliveryAgent, postWebhook } from '../src/core/http-delivery.js';
import { testConfig, type TestStack } from './helpers/stack.js';
import { receiverPool, type TestReceiver } from './helpers/receiver.js';
import { errorFields, type ApiCall } from './helpers/api.js';
import { createEndpoint, startDeliveryStack, expectStatus, publish, waitForDeliveryStatus, type TenantFixture } from './helpers/deliveries.js';

const publicV4 = '93.184.215.14';
const publicV6 = '2606:2800:21f:cb07:6820:80da:af6b:8b2c';

/** A resolver answering from a table, counting the questions. */
function fakeResolver(table: Record<string, string[] | (() => string[])>): Resolver & { calls: string[] } {
  const calls: string[] = [];
  const resolve = async (hostname: string) => {
    calls.push(hostname);
    const entry = table[hostname];
    const addresses = typeof entry === 'function' ? entry() : entry;
    if (!addresses) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: 'ENOTFOUND' });
    return addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  };
  return Object.assign(resolve, { calls });
}

describe('URL policy: addresses', () => {
  const strict = createUrlPolicy({ devMode: false });

  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['::1', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.254', 'private'],
    ['192.168.0.10', 'private'],
    ['fc00::1', 'unique local'],
    ['fd12:3456::1', 'unique local'],
    ['169.254.10.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['100.64.0.1', 'CGNAT'],
    ['100.127.255.254', 'CGNAT'],
    ['224.0.0.251', 'multicast'],
    ['ff02::1', 'multicast'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['255.255.255.255', 'broadcast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:169.254.169.254', 'metadata'],
    ['169.254.169.254', 'metadata'],
    ['fd00:ec2::254', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['64:ff9b::7f00:1', 'special-purpose'],
    ['2002:7f00:1::1', 'special-purpose'],
    ['[::1]', 'loopback'],
  ])('refuses %s (%s) outside dev mode', (address, kind) => {
    expect(strict.addressIssue(address)).toContain(kind);
  });

  it.each([publicV4, '8.8.8.8', '1.1.1.1', publicV6, '172.32.0.1', '100.128.0.1'])('allows the public address %s', (address) => {
    expect(strict.addressIssue(address)).toBeUndefined();
  });

  it('allows allowlisted internal ranges, in their IPv4-mapped form too, but never a metadata address', () => {
    const policy = createUrlPolicy({ devMode: false, allowlist: ['10.20.0.0/16', 'fd12:3456::/48', '169.254.0.0/16', '192.168.1.7'] });
    expect(policy.addressIssue('10.20.3.4')).toBeUndefined();
    expect(policy.addressIssue('::ffff:10.20.3.4')).toBeUndefined();
    expect(policy.addressIssue('fd12:3456::9')).toBeUndefined();
    expect(policy.addressIssue('192.168.1.7')).toBeUndefined();
    expect(policy.addressIssue('192.168.1.8')).toContain('private');
    expect(policy.addressIssue('10.21.0.1')).toContain('private');
    expect(policy.addressIssue('169.254.169.254')).toContain('metadata');
  });

  it('allows everything in dev mode', () => {
    const dev = createUrlPolicy({ devMode: true });
    expect(dev.addressIssue('127.0.0.1')).toBeUndefined();
    expect(dev.addressIssue('169.254.169.254')).toBeUndefined();
  });

  it('reads HERALD_URL_ALLOWLIST as comma-separated CIDRs and names the variable when one is not', () => {
    expect(testConfig({ HERALD_URL_ALLOWLIST: ' 10.20.0.0/16, fd12::/48 ,192.168.1.7' }).HERALD_URL_ALLOWLIST).toEqual(['10.20.0.0/16', 'fd12::/48', '192.168.1.7']);
    expect(testConfig().HERALD_URL_ALLOWLIST).toEqual([]);
    expect(() => testConfig({ HERALD_URL_ALLOWLIST: '10.0.0.0/8,intranet' })).toThrow(ConfigError);
    expect(() => testConfig({ HERALD_URL_ALLOWLIST: '10.0.0.0/33' })).toThrow(/HERALD_URL_ALLOWLIST/);
  });
});

describe('URL policy: host names', () => {
  it('refuses names resolving to a forbidden address, even one among public ones', async () => {
    const resolve = fakeResolver({ 'internal.example': ['10.0.0.5'], 'mixed.example': [publicV4, '127.0.0.1'], 'v6.example': ['::ffff:192.168.1.1'], 'public.example': [publicV4, publicV6] });
    const policy = createUrlPolicy({ devMode: false, resolve });
    expect(await policy.destinationIssue('https://internal.example/hook', { allowHttp: false })).toMatch(/^internal\.example resolves to a non-public address/);
    expect(await policy.destinationIssue('https://mixed.example/hook', { allowHttp: false })).toMatch(/^mixed\.example resolves to a non-public address/);
    expect(await policy.destinationIssue('https://v6.example/hook', { allowHttp: false })).toMatch(/^v6\.example resolves to a non-public address/);
    expect(await policy.destinationIssue('https://public.example/hook', { allowHttp: false })).toBeUndefined();
  });

  it('refuses metadata and loopback names without asking DNS, and normalised IPv4 literals', async () => {
    const resolve = fakeResolver({});
    const policy = createUrlPolicy({ devMode: false, resolve });
    expect(await policy.destinationIssue('https://metadata.google.internal/computeMetadata/v1/', { allowHttp: false })).toContain('cloud metadata');
    expect(await policy.destinationIssue('https://METADATA.google.internal./x', { allowHttp: false })).toContain('cloud metadata');
    expect(await policy.destinationIssue('https://localhost:8443/x', { allowHttp: false })).toContain('loopback');
    expect(await policy.destinationIssue('https://app.localhost/x', { allowHttp: false })).toContain('loopback');
    // The WHATWG parser (the one undici uses) turns these into 127.0.0.1.
    expect(await policy.destinationIssue('https://2130706433/x', { allowHttp: false })).toContain('loopback');
    expect(await policy.destinationIssue('https://0x7f.0.0.1/x', { allowHttp: false })).toContain('loopback');
    expect(await policy.destinationIssue('https://[::ffff:169.254.169.254]/x', { allowHttp: false })).toContain('metadata');
    expect(resolve.calls).toEqual([]);
  });

  it('keeps the syntax rules and leaves names that do not resolve yet to connect time', async () => {
    const policy = createUrlPolicy({ devMode: false, resolve: fakeResolver({}) });
    expect(await policy.destinationIssue('http://8.8.8.8/x', { allowHttp: false })).toContain('must use https');
    expect(await policy.destinationIssue('ftp://example.com/', { allowHttp: false })).toContain('http(s) URL');
    expect(await policy.destinationIssue('https://not-yet.example/hook', { allowHttp: false })).toBeUndefined();
  });
});

describe('URL policy at connect time', () => {
  const receivers = receiverPool();
  let target: TestReceiver;
  beforeAll(async () => {
    target = await receivers.start();
  });
  afterAll(() => receivers.closeAll());

  const send = (url: string, dispatcher?: ReturnType<typeof createDeliveryAgent>) => postWebhook(url, { 'content-type': 'application/json' }, '{}', 5000, undefined, { dispatcher });
  const port = () => new URL(target.url).port;

  it('fails an attempt as blocked when the name rebinds to loopback after registration (DNS rebinding)', async () => {
    let answers = 0;
    const resolve = fakeResolver({ 'rebind.example': () => (answers++ === 0 ? [publicV4] : ['127.0.0.1']) });
    const policy = createUrlPolicy({ devMode: false, resolve });
    const url = `http://rebind.example:${port()}/webhooks`;
    // Registration sees the public address…
    expect(await policy.destinationIssue(url, { allowHttp: true })).toBeUndefined();
    // …the connection sees loopback and never reaches the receiver.
    const before = target.requests.length;
    const result = await send(url, createDeliveryAgent(policy));
    expect(result).toMatchObject({ ok: false, statusCode: null, errorClass: 'blocked' });
    expect(result.errorMessage).toContain('rebind.example resolves to a non-public address');
    expect(resolve.calls).toEqual(['rebind.example', 'rebind.example']);
    expect(target.requests.length).toBe(before);
  });

  it('connects through the policy resolver when the resolved address is allowlisted', async () => {
    const policy = createUrlPolicy({ devMode: false, allowlist: ['127.0.0.0/8'], resolve: fakeResolver({ 'receiver.internal': ['127.0.0.1'] }) });
    const result = await send(`http://receiver.internal:${port()}/webhooks`, createDeliveryAgent(policy));
    expect(result).toMatchObject({ ok: true, statusCode: 200, errorClass: null });
    expect(target.requests.at(-1)!.headers.host).toBe(`receiver.internal:${port()}`);
  });

  it('blocks literal addresses, IPv4-mapped ones included, before connecting', async () => {
    const agent = createDeliveryAgent(createUrlPolicy({ devMode: false }));
    const before = target.requests.length;
    for (const host of ['127.0.0.1', '[::ffff:127.0.0.1]', '[::1]']) {
      const result = await send(`http://${host}:${port()}/webhooks`, agent);
      expect(result, host).toMatchObject({ ok: false, errorClass: 'blocked' });
    }
    expect(target.requests.length).toBe(before);
  });

  it('uses the strict policy when a caller passes no dispatcher', async () => {
    const result = await send(target.url);
    expect(result).toMatchObject({ ok: false, errorClass: 'blocked' });
  });
});

describe('URL policy in the API and the worker (HERALD_DEV_MODE=false)', () => {
  let stack: TestStack;
  let call: ApiCall;
  let tenant: TenantFixture;
  const receivers = receiverPool();

  beforeAll(async () => {
    ({ stack, call, tenant } = await startDeliveryStack({ config: { HERALD_DEV_MODE: 'false', HERALD_URL_ALLOWLIST: '127.0.0.0/8' } }));
  });
  afterAll(async () => {
    await receivers.closeAll();
    await stack?.stop();
  });

  it.each([
    'https://10.0.0.8/hook',
    'https://[::ffff:10.0.0.8]/hook',
    'https://[fd00::1]/hook',
    'https://169.254.169.254/latest/meta-data/',
    'https://[fd00:ec2::254]/latest/meta-data/',
    'https://metadata.google.internal/computeMetadata/v1/',
    'https://100.64.1.1/hook',
    'https://0.0.0.0/hook',
  ])('refuses to register %s with 422 naming body.url', async (url) => {
    const answer = await call('POST', `/v1/tenants/${tenant.id}/endpoints`, { key: tenant.apiKey, body: { url, event_types: ['*'] } });
    expect(answer.status).toBe(422);
    expect(answer.body.error.code).toBe('validation_failed');
    expect(errorFields(answer)).toEqual(['body.url']);
    expect(answer.body.error.details[0].code).toBe('blocked_address');
  });

  it('registers public addresses and allowlisted ranges, and refuses a PATCH to a forbidden one', async () => {
    const created = await createEndpoint(call, tenant, { url: `https://${publicV4}/hook` });
    const internal = await call('PATCH', `/v1/tenants/${tenant.id}/endpoints/${created.id}`, { key: tenant.apiKey, body: { url: 'https://192.168.10.10/hook' } });
    expect(internal.status).toBe(422);
    expect(errorFields(internal)).toEqual(['body.url']);
    await expectStatus(call('PATCH', `/v1/tenants/${tenant.id}/endpoints/${created.id}`, { key: tenant.apiKey, body: { url: 'http://127.0.0.1:9/hook', active: false } }), 200);
  });

  it('delivers to an allowlisted receiver, and fails as blocked an endpoint whose stored URL is now forbidden', async () => {
    const target = await receivers.start();
    const allowed = await createEndpoint(call, tenant, { url: target.url, event_types: ['v1.case.completed'], retry_schedule: [] });
    const forbidden = await createEndpoint(call, tenant, { url: target.url, event_types: ['v1.case.completed'], retry_schedule: [] });
    // As if its name now resolved elsewhere: the stored URL points at a private address.
    await stack.sql`update endpoints set url = 'http://10.255.255.1:9/hook' where id = ${forbidden.id}`;
    const published = await publish(call, tenant, 'v1.case.completed', { n: 1 });
    const deliveryTo = (endpointId: string) => published.deliveries.find((d: { endpoint_id: string }) => d.endpoint_id === endpointId).delivery_id;
    await waitForDeliveryStatus(call, tenant, deliveryTo(allowed.id), ['delivered']);
    const blocked = await waitForDeliveryStatus(call, tenant, deliveryTo(forbidden.id), ['failed']);
    expect(blocked.attempts_log[0]).toMatchObject({ error_class: 'blocked', status_code: null });
    expect(blocked.attempts_log[0].error_message).toContain('10.255.255.1 is a private (RFC 1918) address');
    expect(blocked.attempts_log[0].duration_ms).toBeLessThan(1000);
  });
});
