import { createHmac, timingSafeEqual } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { buildEnvelope } from '../src/core/envelope.js';
import {
  builtInProfileNames,
  builtInProfiles,
  isKnownProfile,
  resolveProfile,
  signatureHeaders,
  signatureProfileSchema,
  signatureSettingsSchema,
  verifySignature,
  WebhookSignatureError,
  type SignatureProfile,
} from '../src/core/signing.js';

const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
const olderSecret = 'whsec_dGhlIG9sZGVyIHNlY3JldCBvZiB0aGUgZW5kcG9pbnQ=';
const timestamp = 1704067200;
const messageId = 'whd_01J7W9S52C2ZK1XFY2GM7Z7SAK';
const body = '{"event_type":"v1.case.completed","data":{"case_status":"completed","name":"Zoë"}}';

function sign(profile: SignatureProfile, secrets = [secret]) {
  return signatureHeaders({ profile, secrets, messageId, timestamp, body, clientId: 'client_42' });
}

// Each receiver below is the vendor's own documented algorithm, written independently of src/core/signing.ts.
const hmacHex = (key: string, message: string | Buffer) => createHmac('sha256', key).update(message).digest('hex');

/** Seed 000's Python receiver, line for line. */
function seed000Verify(rawBody: Buffer, signatureHeader: string, signingSecret: string): boolean {
  const parts = Object.fromEntries(signatureHeader.split(',').filter((part) => part.includes('=')).map((part) => part.split('=', 2)));
  const expected = hmacHex(signingSecret, Buffer.concat([Buffer.from(`${Number(parts.t)}.`), rawBody]));
  return expected === parts.v1;
}

/** Seed 002's verifySignature snippet. */
function seed002Verify(rawBody: Buffer, signature: string, signingSecret: string): boolean {
  const expected = hmacHex(signingSecret, rawBody);
  return expected.length === signature.length && timingSafeEqual(Buffer.from(expected), Buffer.from(signature));
}

describe('built-in signature profiles', () => {
  it('has a profile for every built-in name, and each one passes its own schema', () => {
    expect(Object.keys(builtInProfiles).sort()).toEqual([...builtInProfileNames].sort());
    for (const name of builtInProfileNames) expect(signatureProfileSchema.safeParse(builtInProfiles[name]).success).toBe(true);
  });

  it('standard-webhooks reproduces the Standard Webhooks specification example', () => {
    const headers = signatureHeaders({
      profile: builtInProfiles['standard-webhooks'],
      secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
      messageId: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      timestamp: 1614265330,
      body: '{"test": 2432232314}',
      clientId: '',
    });
    expect(headers).toEqual({
      'webhook-id': 'msg_p5jXN8AQM9LWM0D4loKWxJek',
      'webhook-timestamp': '1614265330',
      'webhook-signature': 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    });
  });

  it('standard-webhooks signs id.timestamp.body with the base64-decoded secret', () => {
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const expected = createHmac('sha256', key).update(`${messageId}.${timestamp}.${body}`).digest('base64');
    expect(sign(builtInProfiles['standard-webhooks'])['webhook-signature']).toBe(`v1,${expected}`);
  });

  it('standard-webhooks deliveries pass the standardwebhooks library, and its signatures pass ours', () => {
    const now = Math.floor(Date.now() / 1000);
    const profile = builtInProfiles['standard-webhooks'];
    const headers = signatureHeaders({ profile, secrets: [secret], messageId, timestamp: now, body, clientId: '' });
    expect(new Webhook(secret).verify(body, headers)).toEqual(JSON.parse(body));

    const theirs = new Webhook(secret).sign(messageId, new Date(now * 1000), body);
    const received = { 'Webhook-Id': messageId, 'Webhook-Timestamp': String(now), 'Webhook-Signature': theirs };
    expect(verifySignature({ profile, secrets: [secret], headers: received, body })).toEqual({ messageId, timestamp: now });
  });

  it('timestamped sends t=,v1= hex over timestamp.body with the secret string as key, as seed 000 verifies', () => {
    const headers = sign(builtInProfiles.timestamped);
    expect(Object.keys(headers)).toEqual(['X-Herald-Signature']);
    expect(headers['X-Herald-Signature']).toBe(`t=${timestamp},v1=${hmacHex(secret, `${timestamp}.${body}`)}`);
    expect(seed000Verify(Buffer.from(body), headers['X-Herald-Signature']!, secret)).toBe(true);
  });

  it('timestamped-body sends t=,v1= hex over the raw body alone (seed 001)', () => {
    const headers = sign(builtInProfiles['timestamped-body']);
    expect(headers).toEqual({ 'X-Herald-Signature': `t=${timestamp},v1=${hmacHex(secret, body)}` });
  });

  it('body-hex sends X-Signature hex over the raw body and X-Client-Id, as seed 002 verifies', () => {
    const headers = sign(builtInProfiles['body-hex']);
    expect(headers).toEqual({ 'X-Signature': hmacHex(secret, body), 'X-Client-Id': 'client_42' });
    expect(seed002Verify(Buffer.from(body), headers['X-Signature']!, secret)).toBe(true);
  });

  it('prefixed sends X-Webhook-ID, X-Webhook-Timestamp and sha256= hex over timestamp.body (seed 003)', () => {
    expect(sign(builtInProfiles.prefixed)).toEqual({
      'X-Webhook-ID': messageId,
      'X-Webhook-Timestamp': String(timestamp),
      'X-Webhook-Signature': `sha256=${hmacHex(secret, `${timestamp}.${body}`)}`,
    });
  });

  it('unsigned sends no headers at all (seed 004 authenticates with a static header)', () => {
    expect(sign(builtInProfiles.unsigned)).toEqual({});
  });

  it('takes a secret without the whsec_ prefix as base64 as a whole, like the standardwebhooks library', () => {
    const bare = secret.slice('whsec_'.length);
    expect(sign(builtInProfiles['standard-webhooks'], [bare])).toEqual(sign(builtInProfiles['standard-webhooks'], [secret]));
  });
});

describe('secret rotation', () => {
  it('signs with both secrets where the header has room, and a receiver holding either one verifies', () => {
    for (const name of ['standard-webhooks', 'timestamped', 'timestamped-body'] as const) {
      const profile = builtInProfiles[name];
      const headers = sign(profile, [secret, olderSecret]);
      const header = headers[profile.signature!.header]!;
      expect(header.match(/v1[,=]/g)).toHaveLength(2);
      for (const held of [secret, olderSecret]) {
        expect(verifySignature({ profile, secrets: [held], headers, body, now: timestamp })).toMatchObject({ timestamp });
      }
    }
  });

  it('signs single-value headers with the newest secret only', () => {
    for (const name of ['body-hex', 'prefixed'] as const) {
      const profile = builtInProfiles[name];
      const headers = sign(profile, [secret, olderSecret]);
      expect(headers).toEqual(sign(profile, [secret]));
      expect(() => verifySignature({ profile, secrets: [olderSecret], headers, body, now: timestamp })).toThrow(WebhookSignatureError);
    }
  });
});

describe('profile resolution', () => {
  it('renames the signature header for an endpoint, e.g. seed 000 on X-Klarefi-Signature', () => {
    const settings = signatureSettingsSchema.parse({ profile: 'timestamped', headers: { signature: 'X-Klarefi-Signature' } });
    const profile = resolveProfile(settings);
    const headers = sign(profile);
    expect(Object.keys(headers)).toEqual(['X-Klarefi-Signature']);
    expect(seed000Verify(Buffer.from(body), headers['X-Klarefi-Signature']!, secret)).toBe(true);
    expect(builtInProfiles.timestamped.signature!.header).toBe('X-Herald-Signature');
  });

  it('renames id and timestamp headers too', () => {
    const profile = resolveProfile({ profile: 'standard-webhooks', headers: { id: 'X-Id', timestamp: 'X-Ts' } });
    expect(Object.keys(sign(profile)).sort()).toEqual(['X-Id', 'X-Ts', 'webhook-signature']);
  });

  it('refuses an unknown profile name, including names inherited from Object', () => {
    expect(() => resolveProfile({ profile: 'hmac-md5' })).toThrow(/unknown signature profile "hmac-md5"/);
    expect(isKnownProfile('constructor')).toBe(false);
    expect(isKnownProfile('prefixed')).toBe(true);
  });

  it('refuses a signature header name for the unsigned profile', () => {
    expect(() => resolveProfile({ profile: 'unsigned', headers: { signature: 'X-Sig' } })).toThrow(/does not sign/);
  });

  it('resolves a deployment-defined profile validated by the schema', () => {
    const vendor = signatureProfileSchema.parse({
      idHeader: 'X-Acme-Id',
      extraHeaders: { 'X-Acme-Version': '2' },
      signature: { header: 'X-Acme-Signature', signedContent: '{id}.{timestamp}.{body}', key: 'utf8', encoding: 'base64', format: { style: 'timestamp-and-versions' } },
    });
    expect(isKnownProfile('acme', { acme: vendor })).toBe(true);
    const headers = sign(resolveProfile({ profile: 'acme' }, { acme: vendor }));
    const expected = createHmac('sha256', secret).update(`${messageId}.${timestamp}.${body}`).digest('base64');
    expect(headers).toEqual({ 'X-Acme-Version': '2', 'X-Acme-Id': messageId, 'X-Acme-Signature': `t=${timestamp},v1=${expected}` });
    expect(verifySignature({ profile: vendor, secrets: [secret], headers, body, now: timestamp })).toEqual({ messageId, timestamp });
  });

  it('rejects a deployment profile that signs a timestamp it never sends', () => {
    const result = signatureProfileSchema.safeParse({
      signature: { header: 'X-Sig', signedContent: '{timestamp}.{body}', key: 'utf8', encoding: 'hex', format: { style: 'single', prefix: '' } },
    });
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.message).toMatch(/sends no timestamp/);
  });
});

describe('envelopes', () => {
  const input = {
    eventId: 'evt_01J7W9S4TSQ0T4SH43JYB9W5R8',
    deliveryId: 'whd_01J7W9S52C2ZK1XFY2GM7Z7SAK',
    eventType: 'v1.case.completed',
    schemaVersion: 'v1',
    traceId: 'trc_01J7W9S4V8ZKH4W4B8EG9J7TKC',
    createdAt: new Date('2026-05-01T12:34:56.789Z'),
    data: { case_status: 'completed' },
  };

  it('writes the herald envelope in seed 000 key order with millisecond ISO time', () => {
    expect(buildEnvelope('herald', input)).toBe(
      '{"event_id":"evt_01J7W9S4TSQ0T4SH43JYB9W5R8","delivery_id":"whd_01J7W9S52C2ZK1XFY2GM7Z7SAK","event_type":"v1.case.completed",' +
        '"schema_version":"v1","trace_id":"trc_01J7W9S4V8ZKH4W4B8EG9J7TKC","created_at":"2026-05-01T12:34:56.789Z","data":{"case_status":"completed"}}',
    );
  });

  it('writes the compact envelope of seed 003 with the delivery id, the unversioned type and whole unix seconds', () => {
    expect(buildEnvelope('compact', input)).toBe('{"id":"whd_01J7W9S52C2ZK1XFY2GM7Z7SAK","type":"case.completed","created":1777638896,"data":{"case_status":"completed"}}');
  });

  it('writes the event envelope of seed 001 with the event id, the unversioned type and ISO time in whole seconds', () => {
    expect(buildEnvelope('event', { ...input, eventType: 'v1.document.updated' })).toBe(
      '{"id":"evt_01J7W9S4TSQ0T4SH43JYB9W5R8","type":"document.updated","created_at":"2026-05-01T12:34:56Z","data":{"case_status":"completed"}}',
    );
  });

  it('strips only the leading version of a multi-segment type name', () => {
    expect(JSON.parse(buildEnvelope('compact', { ...input, eventType: 'v12.kyc.session.v2_processed' })).type).toBe('kyc.session.v2_processed');
  });

  it('writes the bare payload as is', () => {
    expect(buildEnvelope('bare', input)).toBe('{"case_status":"completed"}');
    expect(buildEnvelope('bare', { ...input, data: [1, 'two'] })).toBe('[1,"two"]');
  });

  it('keeps the data key when the payload is missing', () => {
    expect(JSON.parse(buildEnvelope('herald', { ...input, data: undefined }))).toHaveProperty('data', null);
  });
});
