import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, timingSafeEqual } from 'node:crypto';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Webhook } from 'standardwebhooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestStack, type TestStack } from './helpers/stack.js';
import { receiverPool, type ReceivedRequest, type Responder } from './helpers/receiver.js';
import { apiClient, createEventType, createTenant, errorFields, type ApiCall } from './helpers/api.js';
import { createEndpoint, eventually, expectStatus, publish, waitForDeliveryStatus, type TenantFixture } from './helpers/deliveries.js';

/**
 * The five seed contracts (../shared/seeds/000..004), delivered by the real stack (API, worker, PostgreSQL,
 * Temporal) to endpoints configured through the API, and checked by receivers written from each vendor's
 * documentation, not with Herald's toolkit: if Herald drifts from a contract, the vendor's code refuses it.
 */

// ---- The vendors' documented verification code, transcribed ---------------------------------------------

/** Seed 001 (clarife), "Node.js Verification Example", as printed: it re-serialises the parsed payload. */
function clarifeVerifyWebhookSignature(payload: unknown, signature: string, secret: string): boolean {
  const [tPart, v1Part] = signature.split(',');
  const timestamp = tPart!.replace('t=', '');
  const receivedHmac = v1Part!.replace('v1=', '');
  const age = Date.now() / 1000 - parseInt(timestamp);
  if (age > 300) return false;
  const expectedHmac = createHmac('sha256', secret).update(JSON.stringify(payload)).digest('hex');
  return timingSafeEqual(Buffer.from(receivedHmac, 'hex'), Buffer.from(expectedHmac, 'hex'));
}

/** Seed 002 (Krebit Sign), `verifySignature`, as printed. */
function krebitVerifySignature(rawBody: Buffer, signature: string, secret: string): boolean {
  const expected = createHmac('sha256', secret).update(rawBody).digest('hex');
  return timingSafeEqual(Buffer.from(expected), Buffer.from(signature));
}

/** Seed 003 (KYC): `X-Webhook-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>`. */
function kycVerifySignature(rawBody: string, headers: Record<string, string>, secret: string): boolean {
  const timestamp = headers['x-webhook-timestamp'] ?? '';
  const expected = `sha256=${createHmac('sha256', secret).update(`${timestamp}.${rawBody}`).digest('hex')}`;
  const received = headers['x-webhook-signature'] ?? '';
  return received.length === expected.length && timingSafeEqual(Buffer.from(received), Buffer.from(expected));
}

/** Seed 004 (cr3dentials): the key/value header configured in the portal, compared as is. */
const cr3dentialsHeader = { name: 'secret', value: 'your-secure-secret-key-here' };

/**
 * A receiver answering like the vendors' samples: 401 when `check` finds a problem (or the sample's code
 * throws, as timingSafeEqual does on a length mismatch), 200 otherwise.
 */
function verifyingWith(check: (request: ReceivedRequest) => string | undefined): Responder {
  return (request, response) => {
    let problem: string | undefined;
    try {
      problem = check(request);
    } catch (error) {
      problem = `verification threw: ${(error as Error).message}`;
    }
    response.writeHead(problem ? 401 : 200, { 'content-type': 'application/json' });
    response.end(JSON.stringify(problem ? { error: problem } : { received: true }));
  };
}

const isoSeconds = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const isoMillis = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const ulidId = (prefix: string) => new RegExp(`^${prefix}_[0-9A-HJKMNP-TV-Z]{26}$`);
const signatureHeaderNames = ['webhook-signature', 'x-herald-signature', 'x-signature', 'x-webhook-signature', 'x-klarefi-signature', 'x-clarife-signature'];

/** The one signature header a request carries among every name Herald's profiles use. */
const signatureHeadersIn = (request: ReceivedRequest) => signatureHeaderNames.filter((name) => name in request.headers);

/** seed 000's Python receiver, started with `python3` on a free port; its JSON lines are collected. */
async function startPythonReceiver(secret: string): Promise<{ url: string; lines: Record<string, unknown>[]; process: ChildProcess }> {
  const script = path.join(import.meta.dirname, 'receivers', 'seed000_receiver.py');
  const child = spawn('python3', [script], { env: { PATH: process.env.PATH, SIGNING_SECRET: secret }, stdio: ['ignore', 'pipe', 'inherit'] });
  const lines: Record<string, unknown>[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
  const port = await eventually(async () => lines.find((line) => 'listening' in line)?.listening as number | undefined, 15_000, 'the Python receiver listening');
  return { url: `http://127.0.0.1:${port}/webhooks/klarefi`, lines, process: child };
}

describe('seed contracts, delivered by the running stack', () => {
  let stack: TestStack;
  let call: ApiCall;
  const receivers = receiverPool();
  const pythonProcesses: ChildProcess[] = [];

  // A deployment-defined profile (HERALD_SIGNATURE_PROFILES): base64 HMAC of the body, a prefix, an id header and a fixed header.
  const acmeProfile = {
    idHeader: 'X-Acme-Delivery',
    extraHeaders: { 'X-Acme-Version': '2' },
    signature: { header: 'X-Acme-Signature', signedContent: '{body}', key: 'utf8', encoding: 'base64', format: { style: 'single', prefix: 'hmac-sha256=' } },
  };

  beforeAll(async () => {
    stack = await startTestStack({ config: { HERALD_SIGNATURE_PROFILES: JSON.stringify({ acme: acmeProfile }) } });
    call = apiClient(stack);
    for (const name of ['v1.case.completed', 'v1.document.updated', 'v1.signing.document.completed', 'v1.kyc.session.processed', 'v1.verification.completed']) {
      await createEventType(call, name);
    }
  });
  afterAll(async () => {
    for (const child of pythonProcesses) child.kill();
    await receivers.closeAll();
    await stack?.stop();
  });

  /** A tenant per test, so an event reaches only the endpoint the test registered. */
  const freshTenant = (): Promise<TenantFixture> => createTenant(call, { name: 'Seed tenant' });
  const deliveryOf = (published: { deliveries: { delivery_id: string }[] }) => published.deliveries[0]!.delivery_id;

  it('seed 000: a receiver following Klarefi’s HMAC(secret, ts + "." + raw_body) accepts X-Klarefi-Signature and gets the herald envelope, key for key', async () => {
    const tenant = await freshTenant();
    let secret = '';
    const target = await receivers.start(
      verifyingWith(({ headers, body }) => {
        const parts = Object.fromEntries(headers['x-klarefi-signature']!.split(',').map((part) => part.split('=', 2) as [string, string]));
        const expected = createHmac('sha256', secret).update(`${parts.t}.${body}`).digest('hex');
        if (Math.abs(Date.now() / 1000 - Number(parts.t)) > 300) return 'stale signature';
        return expected === parts.v1 ? undefined : 'invalid signature';
      }),
    );
    const endpoint = await createEndpoint(call, tenant, {
      url: target.url,
      event_types: ['v1.case.completed'],
      signature: { profile: 'timestamped', headers: { signature: 'X-Klarefi-Signature' } },
      envelope: 'herald',
      timeout: '30s',
    });
    secret = endpoint.secret;
    expect(secret).toMatch(/^whsec_/);

    const published = await publish(call, tenant, 'v1.case.completed', { case_status: 'completed' });
    const delivery = await waitForDeliveryStatus(call, tenant, deliveryOf(published), ['delivered', 'failed']);
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 1, last_status_code: 200 });

    const [request] = target.requests;
    expect(request!.headers['x-klarefi-signature']).toMatch(/^t=\d{10},v1=[0-9a-f]{64}$/);
    expect(signatureHeadersIn(request!)).toEqual(['x-klarefi-signature']);
    expect(request!.headers['content-type']).toBe('application/json');
    const envelope = JSON.parse(request!.body);
    expect(Object.keys(envelope)).toEqual(['event_id', 'delivery_id', 'event_type', 'schema_version', 'trace_id', 'created_at', 'data']);
    expect(envelope).toEqual({
      event_id: published.event_id,
      delivery_id: deliveryOf(published),
      event_type: 'v1.case.completed',
      schema_version: 'v1',
      trace_id: published.trace_id,
      created_at: expect.stringMatching(isoMillis),
      data: { case_status: 'completed' },
    });
    expect(envelope.event_id).toMatch(ulidId('evt'));
    expect(envelope.delivery_id).toMatch(ulidId('whd'));
    expect(envelope.trace_id).toMatch(ulidId('trc'));
  });

  it('seed 000: Klarefi’s own Python sample (python3, standard library only) accepts the delivery and refuses one signed with another secret', async () => {
    const tenant = await freshTenant();
    const secret = 'whsec_a2xhcmVmaSBweXRob24gcmVjZWl2ZXIgc2VjcmV0';
    const python = await startPythonReceiver(secret);
    pythonProcesses.push(python.process);
    const signature = { profile: 'timestamped', headers: { signature: 'X-Klarefi-Signature' } };
    await createEndpoint(call, tenant, { url: python.url, event_types: ['v1.case.completed'], signature, secret, timeout: '30s' });
    await createEndpoint(call, tenant, { url: `${python.url}?forged`, event_types: ['v1.case.completed'], signature, secret: 'whsec_bm90IHRoZSByZWNlaXZlcidzIHNlY3JldA==', retry_schedule: [] });

    const published = await publish(call, tenant, 'v1.case.completed', { case_status: 'completed' });
    expect(published.delivery_count).toBe(2);
    const statuses = await Promise.all(
      published.deliveries.map((delivery: { delivery_id: string }) => waitForDeliveryStatus(call, tenant, delivery.delivery_id, ['delivered', 'failed'])),
    );
    expect(statuses.map((delivery) => [delivery.status, delivery.last_status_code]).sort()).toEqual([
      ['delivered', 200],
      ['failed', 401],
    ]);
    const accepted = python.lines.filter((line) => line.accepted === true);
    expect(accepted).toEqual([{ accepted: true, event_type: 'v1.case.completed', delivery_id: expect.stringMatching(ulidId('whd')), path: '/webhooks/klarefi' }]);
    expect(python.lines.filter((line) => line.accepted === false)).toEqual([{ accepted: false, error: 'ValueError: invalid signature' }]);
  });

  /** Seed 001's contract as endpoint settings, and its receiver (the sample, with the endpoint's secret once known). */
  const clarifeEndpoint = {
    event_types: ['v1.document.updated'],
    signature: { profile: 'timestamped-body', headers: { signature: 'X-Clarife-Signature' } },
    envelope: 'event',
    retry_schedule: ['1s', '10s', '60s'],
    timeout: '10s',
    disable_after_failures: 10,
  };
  const clarifeReceiver = (secret: { value: string }) =>
    verifyingWith(({ headers, body }) => (clarifeVerifyWebhookSignature(JSON.parse(body), headers['x-clarife-signature']!, secret.value) ? undefined : 'invalid signature'));

  it('seed 001: clarife’s Node sample verifies X-Clarife-Signature over the {id: evt_…, type: "document.updated", created_at, data} envelope', async () => {
    const tenant = await freshTenant();
    const secret = { value: '' };
    const target = await receivers.start(clarifeReceiver(secret));
    secret.value = (await createEndpoint(call, tenant, { ...clarifeEndpoint, url: target.url })).secret;
    const data = { id: 'd1a2b3c4-5678', title: 'Updated Document', updated_at: '2026-03-28T12:00:00Z' };
    const published = await publish(call, tenant, 'v1.document.updated', data);
    expect(await waitForDeliveryStatus(call, tenant, deliveryOf(published), ['delivered', 'failed'])).toMatchObject({ status: 'delivered', last_status_code: 200 });

    const [request] = target.requests;
    expect(request!.headers['x-clarife-signature']).toMatch(/^t=\d{10},v1=[0-9a-f]{64}$/);
    expect(signatureHeadersIn(request!)).toEqual(['x-clarife-signature']);
    const envelope = JSON.parse(request!.body);
    expect(Object.keys(envelope)).toEqual(['id', 'type', 'created_at', 'data']);
    expect(envelope).toEqual({ id: published.event_id, type: 'document.updated', created_at: expect.stringMatching(isoSeconds), data });
    expect(envelope.id).toMatch(ulidId('evt'));
  });

  it('seed 001: the 1 s / 10 s / 60 s schedule is accepted and a failed first attempt is retried about 1 s later', async () => {
    const tenant = await freshTenant();
    const secret = { value: '' };
    const verify = clarifeReceiver(secret);
    let seen = 0;
    const target = await receivers.start((request, response) => {
      seen += 1;
      if (seen === 1) return void response.writeHead(503).end('down for a second');
      return verify(request, response);
    });
    const endpoint = await createEndpoint(call, tenant, { ...clarifeEndpoint, url: target.url });
    secret.value = endpoint.secret;
    expect(endpoint.retry_schedule).toEqual(['1s', '10s', '60s']);

    const published = await publish(call, tenant, 'v1.document.updated', { id: 'd1', title: 'Retried' });
    const [first] = await target.waitForRequests(1);
    const retrying = await waitForDeliveryStatus(call, tenant, deliveryOf(published), ['retrying'], 5_000);
    expect(retrying.max_attempts).toBe(4);
    expect(Date.parse(retrying.next_attempt_at) - first!.receivedAt).toBeGreaterThan(900);
    expect(Date.parse(retrying.next_attempt_at) - first!.receivedAt).toBeLessThan(1_500);

    const [, second] = await target.waitForRequests(2, 10_000);
    const gap = second!.receivedAt - first!.receivedAt;
    expect(gap).toBeGreaterThanOrEqual(950);
    expect(gap).toBeLessThan(2_000);
    const delivered = await waitForDeliveryStatus(call, tenant, deliveryOf(published), ['delivered']);
    expect(delivered.attempts_log.map((attempt: { status_code: number }) => attempt.status_code)).toEqual([503, 200]);
    // The retry carries the same envelope, re-signed: a receiver deduplicates on its id.
    expect(JSON.parse(second!.body)).toEqual(JSON.parse(first!.body));
  });

  it('seed 002: a receiver using Krebit’s verifySignature accepts the X-Signature and sees X-Client-Id', async () => {
    const tenant = await freshTenant();
    const secrets: Record<string, string> = {};
    const target = await receivers.start(
      verifyingWith(({ path: requestPath, headers, body }) => (krebitVerifySignature(Buffer.from(body), headers['x-signature']!, secrets[requestPath]!) ? undefined : 'signature mismatch')),
    );
    const common = { event_types: ['v1.signing.document.completed'], signature: { profile: 'body-hex' }, envelope: 'compact' };
    const byTenant = await createEndpoint(call, tenant, { ...common, url: `${target.url}/tenant` });
    const byClientId = await createEndpoint(call, tenant, { ...common, url: `${target.url}/client`, signature: { profile: 'body-hex', client_id: 'krebit-client-42' } });
    secrets['/webhooks/tenant'] = byTenant.secret;
    secrets['/webhooks/client'] = byClientId.secret;

    const data = { signing_id: 'sig_123', document: 'Zoë’s contract.pdf' };
    const published = await publish(call, tenant, 'v1.signing.document.completed', data);
    for (const delivery of published.deliveries as { delivery_id: string }[]) {
      expect(await waitForDeliveryStatus(call, tenant, delivery.delivery_id, ['delivered', 'failed'])).toMatchObject({ status: 'delivered' });
    }
    const byPath = Object.fromEntries(target.requests.map((request) => [request.path, request]));
    expect(byPath['/webhooks/tenant']!.headers['x-client-id']).toBe(tenant.id);
    expect(byPath['/webhooks/client']!.headers['x-client-id']).toBe('krebit-client-42');
    for (const request of Object.values(byPath)) {
      expect(request.headers['x-signature']).toMatch(/^[0-9a-f]{64}$/);
      expect(signatureHeadersIn(request)).toEqual(['x-signature']);
      const envelope = JSON.parse(request.body);
      // "Store the id field included in each payload and ignore duplicates": the delivery id, stable across retries.
      expect(Object.keys(envelope)).toEqual(['id', 'type', 'created', 'data']);
      expect(envelope).toMatchObject({ id: expect.stringMatching(ulidId('whd')), type: 'signing.document.completed', data });
    }
  });

  it('seed 003: a KYC receiver sees X-Webhook-ID/Timestamp/Signature (sha256=), User-Agent KYC-Webhooks/1.0 and the {id, type, created, data} envelope with id = X-Webhook-ID', async () => {
    const tenant = await freshTenant();
    let secret = '';
    const target = await receivers.start(verifyingWith(({ headers, body }) => (kycVerifySignature(body, headers, secret) ? undefined : 'invalid signature')));
    const endpoint = await createEndpoint(call, tenant, {
      url: target.url,
      event_types: ['v1.kyc.session.processed'],
      signature: { profile: 'prefixed', user_agent: 'KYC-Webhooks/1.0' },
      envelope: 'compact',
      timeout: '10s',
    });
    secret = endpoint.secret;
    const data = { session_id: 'ses_1', status: 'approved' };
    const published = await publish(call, tenant, 'v1.kyc.session.processed', data);
    expect(await waitForDeliveryStatus(call, tenant, deliveryOf(published), ['delivered', 'failed'])).toMatchObject({ status: 'delivered' });

    const [request] = target.requests;
    const { headers } = request!;
    expect(headers['user-agent']).toBe('KYC-Webhooks/1.0');
    expect(headers['content-type']).toBe('application/json');
    expect(headers['x-webhook-id']).toBe(deliveryOf(published));
    expect(headers['x-webhook-timestamp']).toMatch(/^\d{10}$/);
    expect(Math.abs(Number(headers['x-webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
    expect(headers['x-webhook-signature']).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(signatureHeadersIn(request!)).toEqual(['x-webhook-signature']);
    const envelope = JSON.parse(request!.body);
    expect(Object.keys(envelope)).toEqual(['id', 'type', 'created', 'data']);
    expect(envelope).toEqual({ id: headers['x-webhook-id'], type: 'kyc.session.processed', created: expect.any(Number), data });
    expect(Number.isInteger(envelope.created)).toBe(true);

    // "The secret is returned masked in API responses" (…a1b2): the last four characters only.
    const shown = await expectStatus(call('GET', `/v1/tenants/${tenant.id}/endpoints/${endpoint.id}`, { key: tenant.apiKey }), 200);
    expect(shown.secret).toMatch(new RegExp(`\\*{4}${secret.slice(-4).replace(/[+/=]/g, '\\$&')}$`));
    expect(shown.secret).not.toContain(secret.slice(6, -4));
  });

  it('seed 004: an unsigned bare {type, status, data} payload arrives with the static "secret" header the cr3dentials receiver checks', async () => {
    const tenant = await freshTenant();
    const target = await receivers.start(
      verifyingWith(({ headers, body }) => {
        if (headers[cr3dentialsHeader.name] !== cr3dentialsHeader.value) return 'missing or wrong secret header';
        const webhook = JSON.parse(body);
        return webhook.type === 'verification.completed' ? undefined : `unexpected type ${webhook.type}`;
      }),
    );
    const endpoint = await createEndpoint(call, tenant, {
      url: target.url,
      event_types: ['v1.verification.completed'],
      signature: { profile: 'unsigned' },
      envelope: 'bare',
      headers: { [cr3dentialsHeader.name]: cr3dentialsHeader.value },
      retry_schedule: ['1s', '2s', '4s', '8s', '16s'],
      disable_after_failures: 5,
      timeout: '10s',
    });
    expect(endpoint.headers).toEqual({ secret: '****here' });
    expect(endpoint.retry_schedule).toEqual(['1s', '2s', '4s', '8s', '16s']);

    const payload = {
      type: 'verification.completed',
      status: 'success',
      data: {
        verificationId: 'ver_abc123',
        sessionId: 123,
        stepId: 456,
        status: 'VERIFIED',
        proofData: { income: { monthlyAmount: 5000, verified: true, source: 'chase-bank' } },
        formattedData: { incomeVerified: true, verificationScore: 95 },
        metadata: { dataSource: 'chase-bank', processingTimeMs: 15000, verifiedAt: '2024-01-15T14:30:00Z' },
      },
    };
    const published = await publish(call, tenant, 'v1.verification.completed', payload);
    expect(await waitForDeliveryStatus(call, tenant, deliveryOf(published), ['delivered', 'failed'])).toMatchObject({ status: 'delivered', last_status_code: 200 });

    const [request] = target.requests;
    // Byte for byte: the receiver gets the publisher's JSON, keys in the publisher's order.
    expect(request!.body).toBe(JSON.stringify(payload));
    expect(signatureHeadersIn(request!)).toEqual([]);
    expect(Object.keys(request!.headers).filter((name) => /^(webhook-|x-webhook-|x-client-id)/.test(name))).toEqual([]);
  });

  it('default profile: during a secret rotation the standardwebhooks library verifies the delivery with the old and with the new secret', async () => {
    const tenant = await freshTenant();
    const target = await receivers.start();
    const endpoint = await createEndpoint(call, tenant, { url: target.url, event_types: ['v1.case.completed'] });
    const rotated = await expectStatus(
      call('POST', `/v1/tenants/${tenant.id}/endpoints/${endpoint.id}/rotate-secret`, { key: tenant.apiKey, body: { grace_period: '1h' } }),
      200,
    );
    const published = await publish(call, tenant, 'v1.case.completed', { case_status: 'completed' });
    const [request] = await target.waitForRequests(1);
    expect(request!.headers['webhook-signature']!.split(' ')).toHaveLength(2);
    for (const secret of [endpoint.secret, rotated.secret]) {
      expect(new Webhook(secret).verify(request!.body, request!.headers)).toMatchObject({ delivery_id: deliveryOf(published), event_type: 'v1.case.completed' });
    }
    expect(() => new Webhook('whsec_bm90IG9uZSBvZiB0aGUgZW5kcG9pbnQncw==').verify(request!.body, request!.headers)).toThrow();
  });

  describe('a profile defined by the deployment (HERALD_SIGNATURE_PROFILES)', () => {
    it('can be chosen by an endpoint through the API, and its deliveries carry that profile’s headers and signature', async () => {
      const tenant = await freshTenant();
      let secret = '';
      const target = await receivers.start(
        verifyingWith(({ headers, body }) => {
          const expected = `hmac-sha256=${createHmac('sha256', secret).update(body).digest('base64')}`;
          return headers['x-acme-signature'] === expected ? undefined : 'invalid signature';
        }),
      );
      const endpoint = await createEndpoint(call, tenant, { url: target.url, event_types: ['v1.case.completed'], signature: { profile: 'acme' } });
      secret = endpoint.secret;
      expect(endpoint.signature).toEqual({ profile: 'acme' });
      const published = await publish(call, tenant, 'v1.case.completed', { case_status: 'completed' });
      expect(await waitForDeliveryStatus(call, tenant, deliveryOf(published), ['delivered', 'failed'])).toMatchObject({ status: 'delivered' });
      const [request] = target.requests;
      expect(request!.headers).toMatchObject({ 'x-acme-delivery': deliveryOf(published), 'x-acme-version': '2' });
      expect(signatureHeadersIn(request!)).toEqual([]);
    });

    it('reserves the profile’s header names and still refuses a profile nobody defined', async () => {
      const tenant = await freshTenant();
      const create = (body: Record<string, unknown>) =>
        call('POST', `/v1/tenants/${tenant.id}/endpoints`, { key: tenant.apiKey, body: { url: 'http://127.0.0.1:9/x', event_types: ['*'], ...body } });
      const clash = await create({ signature: { profile: 'acme' }, headers: { 'X-Acme-Version': '3' } });
      expect(clash.status).toBe(422);
      expect(errorFields(clash)).toEqual(['body.headers.X-Acme-Version']);
      const unknown = await create({ signature: { profile: 'acme-2' } });
      expect(unknown.status).toBe(422);
      expect(errorFields(unknown)).toEqual(['body.signature.profile']);
    });
  });
});
