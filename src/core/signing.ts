import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { safeEqual } from './crypto.js';
import { endpointDefaults } from './endpoint-defaults.js';
import { headerMapSchema, headerNameSchema, headerValueSchema } from './http-headers.js';

/**
 * The whole signing contract: what Herald puts in the headers of a delivery so that a receiver can
 * tell it came from Herald, and how a receiver checks it. A profile is data, so a deployment can add
 * profiles in its configuration and every vendor contract goes through the same two functions below.
 */

export const builtInProfileNames = ['standard-webhooks', 'timestamped', 'timestamped-body', 'body-hex', 'prefixed', 'unsigned'] as const;
export type BuiltInProfileName = (typeof builtInProfileNames)[number];

// Header names and values are checked like an endpoint's custom headers (http-headers.ts): an override
// cannot name Host, Content-Length, a hop-by-hop header…, and a value cannot carry CR/LF.
const headerName = headerNameSchema;

/** The `signature` field of an endpoint. */
export const signatureSettingsSchema = z
  .object({
    profile: z.string().min(1).default(endpointDefaults.signatureProfile),
    headers: z.object({ id: headerName, timestamp: headerName, signature: headerName }).partial().strict().optional(),
    user_agent: headerValueSchema.max(200).optional(),
    client_id: headerValueSchema.max(200).optional(),
  })
  .strict();

export type SignatureSettings = z.infer<typeof signatureSettingsSchema>;
export type HeaderNameOverrides = NonNullable<SignatureSettings['headers']>;

const signedContents = ['{id}.{timestamp}.{body}', '{timestamp}.{body}', '{body}'] as const;
type SignedContent = (typeof signedContents)[number];

/** How the signatures are written into the signature header. */
const signatureFormatSchema = z.discriminatedUnion('style', [
  /** `v1,<sig> v1,<sig>`: one entry per valid secret (Standard Webhooks). */
  z.object({ style: z.literal('versioned-list') }).strict(),
  /** `t=<ts>,v1=<sig>,v1=<sig>`: the timestamp travels inside the signature header. */
  z.object({ style: z.literal('timestamp-and-versions') }).strict(),
  /**
   * `<prefix><sig>`: room for one signature only, so during a rotation only the newest secret signs and
   * receivers must switch to the new secret when it is issued, not when the old one expires.
   */
  z.object({ style: z.literal('single'), prefix: z.string().max(32).regex(/^[!-~]*$/, 'must be printable ASCII') }).strict(),
]);

const signatureSpecSchema = z
  .object({
    header: headerName,
    signedContent: z.enum(signedContents),
    /** `whsec-base64`: the bytes the base64 after `whsec_` decodes to; `utf8`: the secret string itself, prefix included. */
    key: z.enum(['whsec-base64', 'utf8']),
    encoding: z.enum(['base64', 'hex']),
    format: signatureFormatSchema,
  })
  .strict();

const profileShape = z
  .object({
    idHeader: headerName.optional(),
    timestampHeader: headerName.optional(),
    clientIdHeader: headerName.optional(),
    extraHeaders: headerMapSchema().default({}),
    /** Absent for a profile that sends no signature (the receiver authenticates some other way). */
    signature: signatureSpecSchema.optional(),
  })
  .strict();

export interface SignatureProfile {
  idHeader?: string;
  timestampHeader?: string;
  clientIdHeader?: string;
  extraHeaders: Record<string, string>;
  signature?: z.infer<typeof signatureSpecSchema>;
}

/** Whether the signature header itself carries the timestamp (`t=`), so no timestamp header is needed. */
function timestampInSignature(profile: SignatureProfile): boolean {
  return profile.signature?.format.style === 'timestamp-and-versions';
}

function carriesTimestamp(profile: SignatureProfile): boolean {
  return profile.timestampHeader !== undefined || timestampInSignature(profile);
}

/**
 * Whether the profile's signature covers the delivery's timestamp. When it does not (`timestamped-body`, seed 001;
 * `body-hex`, seed 002; `unsigned`), a receiver cannot tell a replayed delivery from a fresh one: a `t=` it
 * receives is not signed, so anyone replaying the request can rewrite it, and a staleness check on it is cosmetic.
 */
export function signsTimestamp(profile: SignatureProfile): boolean {
  return profile.signature?.signedContent.includes('{timestamp}') === true;
}

/** Checks that a profile sends whatever its signed content refers to; otherwise no receiver could verify it. */
function checkProfileConsistency(profile: SignatureProfile): string | undefined {
  const content = profile.signature?.signedContent;
  if (content?.includes('{id}') && !profile.idHeader) return 'signs {id} but has no idHeader to send it in';
  if (content?.includes('{timestamp}') && !carriesTimestamp(profile)) return 'signs {timestamp} but sends no timestamp';
  return undefined;
}

export const signatureProfileSchema: z.ZodType<SignatureProfile> = profileShape.superRefine((profile, context) => {
  const problem = checkProfileConsistency(profile);
  if (problem) context.addIssue({ code: 'custom', message: `the profile ${problem}` });
});

export const builtInProfiles: Record<BuiltInProfileName, SignatureProfile> = deepFreeze({
  'standard-webhooks': {
    idHeader: 'webhook-id',
    timestampHeader: 'webhook-timestamp',
    extraHeaders: {},
    signature: {
      header: 'webhook-signature',
      signedContent: '{id}.{timestamp}.{body}',
      key: 'whsec-base64',
      encoding: 'base64',
      format: { style: 'versioned-list' },
    },
  },
  timestamped: {
    extraHeaders: {},
    signature: {
      header: 'X-Herald-Signature',
      signedContent: '{timestamp}.{body}',
      key: 'utf8',
      encoding: 'hex',
      format: { style: 'timestamp-and-versions' },
    },
  },
  'timestamped-body': {
    extraHeaders: {},
    signature: {
      header: 'X-Herald-Signature',
      signedContent: '{body}',
      key: 'utf8',
      encoding: 'hex',
      format: { style: 'timestamp-and-versions' },
    },
  },
  'body-hex': {
    clientIdHeader: 'X-Client-Id',
    extraHeaders: {},
    signature: { header: 'X-Signature', signedContent: '{body}', key: 'utf8', encoding: 'hex', format: { style: 'single', prefix: '' } },
  },
  prefixed: {
    idHeader: 'X-Webhook-ID',
    timestampHeader: 'X-Webhook-Timestamp',
    extraHeaders: {},
    signature: {
      header: 'X-Webhook-Signature',
      signedContent: '{timestamp}.{body}',
      key: 'utf8',
      encoding: 'hex',
      format: { style: 'single', prefix: 'sha256=' },
    },
  },
  unsigned: { extraHeaders: {} },
});

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

function lookUpProfile(name: string, extraProfiles: Record<string, SignatureProfile> = {}): SignatureProfile | undefined {
  // Built-ins win so that `standard-webhooks` means the same thing in every deployment; hasOwn keeps `constructor` & co. out.
  if (Object.hasOwn(builtInProfiles, name)) return builtInProfiles[name as BuiltInProfileName];
  return Object.hasOwn(extraProfiles, name) ? extraProfiles[name] : undefined;
}

export function isKnownProfile(name: string, extraProfiles?: Record<string, SignatureProfile>): boolean {
  return lookUpProfile(name, extraProfiles) !== undefined;
}

/**
 * A copy of `profile` with the endpoint's header names. Naming an id or timestamp header the profile does
 * not send adds it, so a receiver can get e.g. a delivery id next to a `body-hex` signature.
 */
export function withHeaderNames(profile: SignatureProfile, overrides: HeaderNameOverrides = {}): SignatureProfile {
  if (overrides.signature && !profile.signature) throw new Error('a signature header name was given for a profile that does not sign');
  return {
    ...profile,
    idHeader: overrides.id ?? profile.idHeader,
    timestampHeader: overrides.timestamp ?? profile.timestampHeader,
    signature: profile.signature && { ...profile.signature, header: overrides.signature ?? profile.signature.header },
  };
}

export function resolveProfile(settings: SignatureSettings, extraProfiles?: Record<string, SignatureProfile>): SignatureProfile {
  const profile = lookUpProfile(settings.profile, extraProfiles);
  if (!profile) throw new Error(`unknown signature profile "${settings.profile}"`);
  return withHeaderNames(profile, settings.headers);
}

/** The names of the headers `profile` writes: id, timestamp, client id, signature and its extra headers. */
export function profileHeaderNames(profile: SignatureProfile): string[] {
  return [profile.idHeader, profile.timestampHeader, profile.clientIdHeader, profile.signature?.header, ...Object.keys(profile.extraHeaders ?? {})].filter(
    (name): name is string => Boolean(name),
  );
}

/** Every header name a built-in profile writes, lower-case (no endpoint's custom header may set one). */
export const builtInSignatureHeaderNames: readonly string[] = [
  ...new Set(Object.values(builtInProfiles).flatMap((profile) => profileHeaderNames(profile).map((name) => name.toLowerCase()))),
];

type SignatureSpec = NonNullable<SignatureProfile['signature']>;

function signingKey(kind: SignatureSpec['key'], secret: string): Buffer {
  // Like the standardwebhooks library: a secret without the whsec_ prefix is taken as base64 as a whole.
  const key = kind === 'utf8' ? Buffer.from(secret, 'utf8') : Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  if (key.length === 0) throw new Error('a signing secret must not be empty');
  return key;
}

const signedPrefix: Record<SignedContent, (messageId: string, timestamp: number) => string> = {
  '{id}.{timestamp}.{body}': (messageId, timestamp) => `${messageId}.${timestamp}.`,
  '{timestamp}.{body}': (_messageId, timestamp) => `${timestamp}.`,
  '{body}': () => '',
};

/** The one HMAC of the module: signing and verifying both go through it, so they cannot drift apart. */
function computeSignature(spec: SignatureSpec, secret: string, message: { messageId: string; timestamp: number; body: string | Buffer }): string {
  return createHmac('sha256', signingKey(spec.key, secret))
    .update(signedPrefix[spec.signedContent](message.messageId, message.timestamp))
    .update(message.body)
    .digest(spec.encoding);
}

function formatSignatureHeader(spec: SignatureSpec, signatures: string[], timestamp: number): string {
  switch (spec.format.style) {
    case 'versioned-list':
      return signatures.map((signature) => `v1,${signature}`).join(' ');
    case 'timestamp-and-versions':
      return [`t=${timestamp}`, ...signatures.map((signature) => `v1=${signature}`)].join(',');
    case 'single':
      return `${spec.format.prefix}${signatures[0]}`;
  }
}

export function signatureHeaders(input: {
  profile: SignatureProfile;
  /** Newest first. */
  secrets: string[];
  messageId: string;
  /** Unix seconds. */
  timestamp: number;
  body: string;
  clientId: string;
}): Record<string, string> {
  const { profile, secrets, messageId, timestamp, body, clientId } = input;
  const headers: Record<string, string> = { ...profile.extraHeaders };
  if (profile.idHeader) headers[profile.idHeader] = messageId;
  if (profile.timestampHeader) headers[profile.timestampHeader] = String(timestamp);
  if (profile.clientIdHeader && clientId) headers[profile.clientIdHeader] = clientId;
  const spec = profile.signature;
  if (spec) {
    if (secrets.length === 0) throw new Error('a signing profile needs at least one secret');
    // A single-value header has room for one signature: the newest secret's (see the `single` format).
    const signing = spec.format.style === 'single' ? secrets.slice(0, 1) : secrets;
    const signatures = signing.map((secret) => computeSignature(spec, secret, { messageId, timestamp, body }));
    headers[spec.header] = formatSignatureHeader(spec, signatures, timestamp);
  }
  return headers;
}

export type SignatureFailure = 'missing_header' | 'stale_timestamp' | 'bad_signature' | 'malformed_header';

export class WebhookSignatureError extends Error {
  constructor(
    readonly reason: SignatureFailure,
    message: string,
  ) {
    super(message);
    this.name = 'WebhookSignatureError';
  }
}

function parseTimestamp(value: string, where: string): number {
  if (!/^\d{1,12}$/.test(value)) throw new WebhookSignatureError('malformed_header', `${where} is not a unix timestamp in seconds`);
  return Number(value);
}

/** The signatures a header offers, and the timestamp when the header carries one. */
function parseSignatureHeader(spec: SignatureSpec, value: string): { candidates: string[]; timestamp?: number } {
  const malformed = (expected: string) => new WebhookSignatureError('malformed_header', `the ${spec.header} header is not of the form ${expected}`);
  switch (spec.format.style) {
    case 'versioned-list': {
      const entries = value.split(' ').filter(Boolean).map((entry) => entry.split(','));
      if (entries.length === 0 || entries.some((parts) => parts.length !== 2 || !parts[0] || !parts[1])) throw malformed('v1,<signature>');
      // Other versions (v1a: asymmetric) may sit next to v1; they are not ours to check.
      return { candidates: entries.filter(([version]) => version === 'v1').map(([, signature]) => signature!) };
    }
    case 'timestamp-and-versions': {
      // Split at the first `=` only: base64 signatures end in `=` padding.
      const pairs = value.split(',').map((part) => {
        const equals = part.indexOf('=');
        return equals > 0 ? [part.slice(0, equals).trim(), part.slice(equals + 1).trim()] : [];
      });
      if (pairs.some((pair) => pair.length !== 2)) throw malformed('t=<timestamp>,v1=<signature>');
      const timestamps = pairs.filter(([name]) => name === 't');
      const candidates = pairs.filter(([name]) => name === 'v1').map(([, signature]) => signature!);
      if (timestamps.length !== 1 || candidates.length === 0) throw malformed('t=<timestamp>,v1=<signature>');
      return { candidates, timestamp: parseTimestamp(timestamps[0]![1]!, `t= in the ${spec.header} header`) };
    }
    case 'single':
      if (!value.startsWith(spec.format.prefix)) throw malformed(`${spec.format.prefix}<signature>`);
      return { candidates: [value.slice(spec.format.prefix.length)] };
  }
}

function headerReader(headers: Record<string, string | string[] | undefined>) {
  const byLowerName = new Map(Object.entries(headers).map(([name, value]) => [name.toLowerCase(), value]));
  return {
    optional(name: string): string | undefined {
      const value = byLowerName.get(name.toLowerCase());
      // Node joins repeated headers itself; an array only comes from hand-built input, where the first one counts.
      return Array.isArray(value) ? value[0] : value;
    },
    required(name: string): string {
      const value = this.optional(name);
      if (value === undefined || value === '') throw new WebhookSignatureError('missing_header', `the ${name} header is missing`);
      return value;
    },
  };
}

/**
 * Checks a received delivery against every secret the receiver holds (several during a rotation) and
 * returns what the headers said. Throws WebhookSignatureError when the delivery must be refused.
 * The returned timestamp was held to the tolerance, but it proves freshness only when signsTimestamp(profile).
 */
export function verifySignature(input: {
  profile: SignatureProfile;
  secrets: string[];
  /** Header names in any case. */
  headers: Record<string, string | string[] | undefined>;
  body: string | Buffer;
  toleranceSeconds?: number;
  /** Unix seconds. */
  now?: number;
}): { messageId?: string; timestamp?: number } {
  const { profile, secrets, body, toleranceSeconds = 300, now = Math.floor(Date.now() / 1000) } = input;
  const spec = profile.signature;
  if (!spec) throw new Error('this profile sends no signature, so there is nothing to verify');
  if (secrets.length === 0) throw new Error('at least one secret is needed to verify a signature');
  const headers = headerReader(input.headers);

  const offered = parseSignatureHeader(spec, headers.required(spec.header));
  const messageId = profile.idHeader && (spec.signedContent.includes('{id}') ? headers.required(profile.idHeader) : headers.optional(profile.idHeader));
  const timestamp =
    offered.timestamp ?? (profile.timestampHeader ? parseTimestamp(headers.required(profile.timestampHeader), `the ${profile.timestampHeader} header`) : undefined);

  // Without a timestamp (body-hex) a replay cannot be told apart; with one, both directions count, for clock skew.
  // An unsigned one (timestamped-body's t=) is still held to the tolerance, as before, but proves nothing: see signsTimestamp.
  if (timestamp !== undefined && Math.abs(now - timestamp) > toleranceSeconds) {
    throw new WebhookSignatureError('stale_timestamp', `the timestamp is ${now - timestamp} s from now, beyond the ${toleranceSeconds} s tolerance`);
  }

  const normalise = (signature: string) => (spec.encoding === 'hex' ? signature.toLowerCase() : signature);
  const candidates = offered.candidates.map((candidate) => Buffer.from(normalise(candidate)));
  for (const secret of secrets) {
    const expected = Buffer.from(computeSignature(spec, secret, { messageId: messageId ?? '', timestamp: timestamp ?? 0, body }));
    if (candidates.some((candidate) => safeEqual(candidate, expected))) return { messageId, timestamp };
  }
  throw new WebhookSignatureError('bad_signature', 'no signature matches the body and the secret');
}
