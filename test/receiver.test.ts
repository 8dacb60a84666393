import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express from 'express';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { builtInProfileNames, builtInProfiles, signatureHeaders } from '../src/core/signing.js';
import { constructEvent, webhookHandler, WebhookSignatureError, type HeraldEnvelope } from '../src/receiver/index.js';
import { receiverBody, receiverNow, receiverSecret } from './helpers/receiver-fixture.js';

const secret = receiverSecret;
const newSecret = 'whsec_dGhlIHNlY3JldCBhZnRlciB0aGUgcm90YXRpb24=';
const now = receiverNow;
const body = receiverBody;

function signed(options: { secrets?: string[]; timestamp?: number; profile?: keyof typeof builtInProfiles } = {}) {
  return signatureHeaders({
    profile: builtInProfiles[options.profile ?? 'standard-webhooks'],
    secrets: options.secrets ?? [secret],
    messageId: 'whd_01J7W9S52C2ZK1XFY2GM7Z7SAK',
    timestamp: options.timestamp ?? now,
    body,
    clientId: 'client_42',
  });
}

function rejection(run: () => unknown): WebhookSignatureError {
  try {
    run();
  } catch (error) {
    if (error instanceof WebhookSignatureError) return error;
    throw error;
  }
  throw new Error('expected a WebhookSignatureError, but the delivery was accepted');
}

describe('constructEvent', () => {
  it('returns the parsed envelope of a correctly signed delivery', () => {
    const event = constructEvent(Buffer.from(body), signed(), secret, { now });
    expect(event.delivery_id).toBe('whd_01J7W9S52C2ZK1XFY2GM7Z7SAK');
    expect(event.data).toEqual({ case_status: 'completed' });
  });

  it('rejects a tampered body as a bad signature', () => {
    const tampered = body.replace('completed"}', 'failed"}');
    expect(rejection(() => constructEvent(tampered, signed(), secret, { now })).reason).toBe('bad_signature');
  });

  it('rejects a delivery signed with another secret as a bad signature', () => {
    expect(rejection(() => constructEvent(body, signed({ secrets: [newSecret] }), secret, { now })).reason).toBe('bad_signature');
  });

  it('rejects a timestamp 301 s old as stale, and accepts one 300 s old', () => {
    expect(rejection(() => constructEvent(body, signed({ timestamp: now - 301 }), secret, { now })).reason).toBe('stale_timestamp');
    expect(constructEvent(body, signed({ timestamp: now - 300 }), secret, { now }).event_type).toBe('v1.case.completed');
  });

  it('rejects a timestamp 301 s in the future as stale', () => {
    expect(rejection(() => constructEvent(body, signed({ timestamp: now + 301 }), secret, { now })).reason).toBe('stale_timestamp');
  });

  it('uses the given tolerance instead of 300 s', () => {
    const headers = signed({ timestamp: now - 3600 });
    expect(constructEvent(body, headers, secret, { now, toleranceSeconds: 3601 }).event_type).toBe('v1.case.completed');
    expect(rejection(() => constructEvent(body, headers, secret, { now, toleranceSeconds: 3599 })).reason).toBe('stale_timestamp');
  });

  it('rejects a delivery missing a header the signature covers', () => {
    for (const missing of ['webhook-signature', 'webhook-id', 'webhook-timestamp']) {
      const { [missing]: _dropped, ...headers } = signed();
      expect(rejection(() => constructEvent(body, headers, secret, { now })).reason).toBe('missing_header');
    }
  });

  it('rejects a garbage signature header as malformed under every profile with a header grammar', () => {
    const cases = [
      { profile: 'standard-webhooks', header: 'webhook-signature' },
      { profile: 'timestamped', header: 'X-Herald-Signature' },
      { profile: 'timestamped-body', header: 'X-Herald-Signature' },
      { profile: 'prefixed', header: 'X-Webhook-Signature' },
    ] as const;
    for (const { profile, header } of cases) {
      const headers = { ...signed({ profile }), [header]: 'garbage' };
      expect(rejection(() => constructEvent(body, headers, secret, { now, profile })).reason).toBe('malformed_header');
    }
  });

  it('rejects a timestamp header that is not a number as malformed', () => {
    const headers = { ...signed(), 'webhook-timestamp': 'yesterday' };
    expect(rejection(() => constructEvent(body, headers, secret, { now })).reason).toBe('malformed_header');
  });

  it('reads headers in any case, as Node lowercases them and other stacks do not', () => {
    const headers = Object.fromEntries(Object.entries(signed({ profile: 'prefixed' })).map(([name, value]) => [name.toLowerCase(), value]));
    expect(constructEvent(body, headers, secret, { now, profile: 'prefixed' }).event_id).toBe('evt_01J7W9S4TSQ0T4SH43JYB9W5R8');
  });

  it('accepts either secret during a rotation, from either side', () => {
    const duringRotation = signed({ secrets: [newSecret, secret] });
    expect(constructEvent(body, duringRotation, secret, { now }).event_type).toBe('v1.case.completed');
    expect(constructEvent(body, duringRotation, newSecret, { now }).event_type).toBe('v1.case.completed');
    // A receiver holding both secrets accepts a sender still on the old one alone.
    expect(constructEvent(body, signed(), [newSecret, secret], { now }).event_type).toBe('v1.case.completed');
  });

  it('verifies a renamed signature header, e.g. seed 000 on X-Klarefi-Signature', () => {
    const headers = { 'X-Klarefi-Signature': signed({ profile: 'timestamped' })['X-Herald-Signature'] };
    const options = { now, profile: 'timestamped', headers: { signature: 'X-Klarefi-Signature' } };
    expect(constructEvent(body, headers, secret, options).trace_id).toBe('trc_01J7W9S4V8ZKH4W4B8EG9J7TKC');
    expect(rejection(() => constructEvent(body, headers, secret, { now, profile: 'timestamped' })).reason).toBe('missing_header');
  });

  it('round-trips sign → verify for random bodies, secrets and secret lists under every signing profile', () => {
    const signingProfiles = builtInProfileNames.filter((name) => name !== 'unsigned');
    const secretFor = {
      whsecBase64: fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => `whsec_${Buffer.from(bytes).toString('base64')}`),
      utf8: fc.string({ minLength: 1, maxLength: 64, unit: 'grapheme' }),
    };
    fc.assert(
      fc.property(
        fc.constantFrom(...signingProfiles),
        fc.string({ maxLength: 2000, unit: 'grapheme' }),
        fc.array(fc.oneof(secretFor.whsecBase64, secretFor.utf8), { minLength: 1, maxLength: 3 }),
        fc.integer({ min: -300, max: 300 }),
        (profileName, payload, secrets, skew) => {
          const profile = builtInProfiles[profileName];
          // A whsec-base64 key must be base64: re-encode whatever was drawn, so no draw decodes to an empty key.
          const usable = profile.signature!.key === 'utf8' ? secrets : secrets.map((value) => `whsec_${Buffer.from(value).toString('base64')}`);
          const rawBody = JSON.stringify({ payload });
          const headers = signatureHeaders({ profile, secrets: usable, messageId: 'msg_1', timestamp: now + skew, body: rawBody, clientId: 'c' });
          expect(constructEvent<{ payload: string }>(rawBody, headers, usable[0]!, { now, profile: profileName }).payload).toBe(payload);
          expect(rejection(() => constructEvent(`${rawBody} `, headers, usable[0]!, { now, profile: profileName })).reason).toBe('bad_signature');
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('webhookHandler on a real Express server', () => {
  let server: Server;
  let url: string;
  const received: HeraldEnvelope[] = [];

  beforeAll(async () => {
    const app = express();
    app.post(
      '/webhooks/herald',
      ...webhookHandler({ secret: [newSecret, secret] }, (event, _req, res) => {
        received.push(event);
        res.status(200).json({ received: true });
      }),
    );
    server = app.listen(0, '127.0.0.1');
    await new Promise((resolve) => server.once('listening', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/herald`;
  });

  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
  });

  const post = (headers: Record<string, string>, payload = body) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: payload });

  it('answers 200 and hands the parsed event to the handler when the signature is good', async () => {
    const freshHeaders = signatureHeaders({
      profile: builtInProfiles['standard-webhooks'],
      secrets: [secret],
      messageId: 'whd_1',
      timestamp: Math.floor(Date.now() / 1000),
      body,
      clientId: '',
    });
    const response = await post(freshHeaders);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ received: true });
    expect(received.at(-1)?.delivery_id).toBe('whd_01J7W9S52C2ZK1XFY2GM7Z7SAK');
  });

  it('answers 401 with the reason and never calls the handler when the signature is bad', async () => {
    const before = received.length;
    const stale = signed(); // signed for `now`, long past for the server's clock
    const response = await post(stale);
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({
      error: { code: 'invalid_signature', message: expect.stringMatching(/tolerance/), details: { reason: 'stale_timestamp' } },
    });

    const forged = await post({ ...signed({ timestamp: Math.floor(Date.now() / 1000) }), 'webhook-signature': 'v1,AAAA' });
    expect(forged.status).toBe(401);
    expect(await forged.json()).toMatchObject({ error: { details: { reason: 'bad_signature' } } });
    expect(received.length).toBe(before);
  });
});
