import { buildEnvelope, type EnvelopeKind } from './envelope.js';
import type { Dispatcher } from 'undici';
import { postWebhook, type HttpAttemptResult } from './http-delivery.js';
import { resolveProfile, signatureHeaders, type SignatureProfile, type SignatureSettings } from './signing.js';
import { heraldVersion } from '../version.js';
import type { ClaimedDelivery } from './deliveries.js';

/**
 * One signed webhook request, the way every Herald request is made: the envelope's exact bytes, Herald's
 * own headers, the endpoint's custom headers, the profile's signature headers (which win), then one POST
 * under the endpoint's timeout. Delivery attempts and test sends both go through here.
 */
export interface SignedRequestTarget {
  tenant_id: string;
  url: string;
  headers: Record<string, string>;
  signature: SignatureSettings;
  envelope: EnvelopeKind;
  /** Newest first. */
  secrets: string[];
  timeout_ms: number;
}

export type EnvelopeContent = Parameters<typeof buildEnvelope>[1];

/** A delivery's envelope content: its event as stored, under the delivery's id. */
export function deliveryEnvelopeContent(delivery: Pick<ClaimedDelivery, 'id' | 'event_id' | 'event_type' | 'schema_version' | 'trace_id' | 'created_at' | 'data'>): EnvelopeContent {
  return {
    eventId: delivery.event_id,
    deliveryId: delivery.id,
    eventType: delivery.event_type,
    schemaVersion: delivery.schema_version,
    traceId: delivery.trace_id,
    createdAt: delivery.created_at,
    data: delivery.data,
  };
}

export interface SignedRequestOutcome {
  result: HttpAttemptResult;
  /** What the signature profile wrote (id, timestamp, signature, client id); custom headers are not repeated. */
  signatureHeaders: Record<string, string>;
}

/** The request Herald sends for `content` to `target`: URL, headers (signature included) and the envelope's exact bytes. */
export function prepareSignedRequest(
  target: SignedRequestTarget,
  content: EnvelopeContent,
  options: { extraProfiles?: Record<string, SignatureProfile>; timestamp?: Date } = {},
): { url: string; headers: Record<string, string>; body: string; signatureHeaders: Record<string, string> } {
  const body = buildEnvelope(target.envelope, content);
  const signed = signatureHeaders({
    profile: resolveProfile(target.signature, options.extraProfiles),
    secrets: target.secrets,
    messageId: content.deliveryId,
    timestamp: Math.floor((options.timestamp?.getTime() ?? Date.now()) / 1000),
    body,
    clientId: target.signature.client_id ?? target.tenant_id,
  });
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': target.signature.user_agent ?? `Herald-Webhooks/${heraldVersion}`,
    ...target.headers,
    ...signed,
  };
  return { url: target.url, headers, body, signatureHeaders: signed };
}

export async function sendSignedRequest(
  target: SignedRequestTarget,
  content: EnvelopeContent,
  /** dispatcher: createDeliveryAgent(policy), which applies the URL policy at connect time (strict policy when absent). */
  options: { extraProfiles?: Record<string, SignatureProfile>; signal?: AbortSignal; dispatcher?: Dispatcher } = {},
): Promise<SignedRequestOutcome> {
  const { headers, body, signatureHeaders: signed } = prepareSignedRequest(target, content, options);
  const result = await postWebhook(target.url, headers, body, target.timeout_ms, options.signal, { dispatcher: options.dispatcher });
  return { result, signatureHeaders: signed };
}
