/**
 * The receiver toolkit: what a service that receives Herald's webhooks needs to check them, and nothing of
 * Herald's server (no database, no Temporal), so it can be imported on its own.
 */
import express, { type Request, type RequestHandler, type Response } from 'express';
import type { HeraldEnvelope } from '../core/envelope.js';
import { resolveProfile, signsTimestamp, verifySignature, withHeaderNames, WebhookSignatureError, type HeaderNameOverrides, type SignatureProfile } from '../core/signing.js';

export { WebhookSignatureError } from '../core/signing.js';
export type { CompactEnvelope, EventEnvelope, HeraldEnvelope } from '../core/envelope.js';
export type { SignatureProfile } from '../core/signing.js';

export interface VerifyOptions {
  /** A built-in profile name or a profile of your own; `standard-webhooks`, Herald's default, when left out. */
  profile?: string | SignatureProfile;
  /** The header names the endpoint was configured with, where they differ from the profile's. */
  headers?: HeaderNameOverrides;
  /** How far the delivery's timestamp may be from now, in seconds. */
  toleranceSeconds?: number;
  /** Unix seconds; for tests. */
  now?: number;
}

function profileFrom(options: VerifyOptions): SignatureProfile {
  const profile = options.profile ?? 'standard-webhooks';
  return typeof profile === 'string' ? resolveProfile({ profile, headers: options.headers }) : withHeaderNames(profile, options.headers);
}

/** What a successful verification established besides the signature (constructEvent with `withVerification: true`). */
export interface Verification {
  /**
   * `true`: the profile signs the delivery's timestamp and it was within `toleranceSeconds`, so an older replay
   * was refused. `false`: the profile signs no timestamp (`timestamped-body`, `body-hex`), so no replay check was
   * possible: a `t=` in the header is not signed and proves nothing, within the tolerance or not. Deduplicate
   * on the delivery id in the body instead.
   */
  timestamp_checked: boolean;
  /** The delivery's timestamp (unix seconds) when the headers carried one, signed or not. */
  timestamp?: number;
  /** The id header's value, when the profile sends one. */
  message_id?: string;
}

export interface VerifiedEvent<T> {
  event: T;
  verification: Verification;
}

function verify(
  rawBody: string | Buffer,
  headers: Record<string, string | string[] | undefined>,
  secretOrSecrets: string | string[],
  options: VerifyOptions,
): Verification {
  const secrets = typeof secretOrSecrets === 'string' ? [secretOrSecrets] : secretOrSecrets;
  const profile = profileFrom(options);
  const verified = verifySignature({ profile, secrets, headers, body: rawBody, toleranceSeconds: options.toleranceSeconds, now: options.now });
  return {
    // verifySignature held any timestamp to the tolerance; it is a replay check only when the signature covers it.
    timestamp_checked: signsTimestamp(profile),
    ...(verified.timestamp !== undefined ? { timestamp: verified.timestamp } : {}),
    ...(verified.messageId !== undefined ? { message_id: verified.messageId } : {}),
  };
}

/**
 * Verifies a delivery and returns its parsed body. Pass the body exactly as received: parsing and
 * re-serialising JSON changes the bytes and breaks the signature. During a secret rotation pass both secrets.
 * With `withVerification: true` it returns `{event, verification}` instead, where `verification.timestamp_checked`
 * tells whether the delivery's age was actually checked (false for profiles that do not sign a timestamp).
 */
export function constructEvent<T = HeraldEnvelope>(
  rawBody: string | Buffer,
  headers: Record<string, string | string[] | undefined>,
  secretOrSecrets: string | string[],
  options: VerifyOptions & { withVerification: true },
): VerifiedEvent<T>;
export function constructEvent<T = HeraldEnvelope>(
  rawBody: string | Buffer,
  headers: Record<string, string | string[] | undefined>,
  secretOrSecrets: string | string[],
  options?: VerifyOptions & { withVerification?: false },
): T;
export function constructEvent<T = HeraldEnvelope>(
  rawBody: string | Buffer,
  headers: Record<string, string | string[] | undefined>,
  secretOrSecrets: string | string[],
  options: VerifyOptions & { withVerification?: boolean } = {},
): T | VerifiedEvent<T> {
  const verification = verify(rawBody, headers, secretOrSecrets, options);
  const event = JSON.parse(rawBody.toString('utf8')) as T;
  return options.withVerification ? { event, verification } : event;
}

function sendError(res: Response, status: number, code: string, message: string, details: unknown = null): void {
  res.status(status).json({ error: { code, message, details } });
}

/**
 * Express middlewares for a webhook route: the raw body, then the verification, then `handler` with the
 * parsed event (and what the verification established: `verification.timestamp_checked` is false for a
 * profile that signs no timestamp). Mount them before any app-wide JSON parser sees the route. When the
 * handler does not answer, the delivery is acknowledged with 204 so Herald does not retry it.
 */
export function webhookHandler<T = HeraldEnvelope>(
  options: { secret: string | string[]; profile?: string | SignatureProfile; headers?: HeaderNameOverrides; toleranceSeconds?: number },
  handler: (event: T, req: Request, res: Response, verification: Verification) => unknown | Promise<unknown>,
): RequestHandler[] {
  // Resolving now turns a misspelt profile into an error at start-up rather than a 500 per delivery.
  const verifyOptions: VerifyOptions = { profile: profileFrom(options), toleranceSeconds: options.toleranceSeconds };
  const verifier: RequestHandler = async (req, res) => {
    if (req.body !== undefined && !Buffer.isBuffer(req.body)) {
      throw new Error('the request body was parsed before the webhook handler could see its raw bytes; mount webhookHandler before express.json()');
    }
    let verified: VerifiedEvent<T>;
    try {
      verified = constructEvent<T>(req.body ?? Buffer.alloc(0), req.headers, options.secret, { ...verifyOptions, withVerification: true });
    } catch (error) {
      if (error instanceof WebhookSignatureError) return sendError(res, 401, 'invalid_signature', error.message, { reason: error.reason });
      if (error instanceof SyntaxError) return sendError(res, 400, 'invalid_json', 'the body is signed but is not JSON');
      throw error;
    }
    await handler(verified.event, req, res, verified.verification);
    if (!res.headersSent) res.sendStatus(204);
  };
  return [express.raw({ type: '*/*', limit: '1mb' }), verifier];
}
