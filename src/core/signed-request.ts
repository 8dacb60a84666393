import { buildEnvelope, type EnvelopeKind } from './envelope.js';
import type { Dispatcher } from 'undici';
import { postWebhook, type HttpAttemptResult } from './http-delivery.js';
import { resolveProfile, signatureHeaders, type SignatureProfile, type SignatureSettings } from './signing.js';
import { renderTemplate, TemplateRenderError, type EndpointTemplate } from './templates.js';
import { heraldVersion } from '../version.js';
import type { ClaimedDelivery } from './deliveries.js';

/**
 * One signed webhook request, the way every Herald request is made: the body's exact bytes (the endpoint's template
 * rendered, or its envelope), Herald's own headers, the endpoint's custom headers, the profile's signature headers
 * (which win), then one POST under the endpoint's timeout. Delivery attempts, test sends and template previews
 * (prepareSignedRequest alone) all go through here.
 */
export interface SignedRequestTarget {
  tenant_id: string;
  url: string;
  headers: Record<string, string>;
  signature: SignatureSettings;
  envelope: EnvelopeKind;
  /** When set, the body is this template rendered over the envelope's fields, sent with its content type. */
  template?: EndpointTemplate | null;
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

/** A request ready to send: every header as sent, and the body whose bytes were signed. */
export interface PreparedRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  signatureHeaders: Record<string, string>;
}

/** Builds and signs the request without sending it. Throws TemplateRenderError when the endpoint's template fails. */
export async function prepareSignedRequest(
  target: SignedRequestTarget,
  content: EnvelopeContent,
  options: { extraProfiles?: Record<string, SignatureProfile>; now?: Date } = {},
): Promise<PreparedRequest> {
  const body = target.template ? renderTemplate(target.template, content) : buildEnvelope(target.envelope, content);
  const signed = signatureHeaders({
    profile: resolveProfile(target.signature, options.extraProfiles),
    secrets: target.secrets,
    messageId: content.deliveryId,
    timestamp: Math.floor((options.now ?? new Date()).getTime() / 1000),
    body,
    clientId: target.signature.client_id ?? target.tenant_id,
  });
  const headers: Record<string, string> = {
    'content-type': target.template?.content_type ?? 'application/json',
    'user-agent': target.signature.user_agent ?? `Herald-Webhooks/${heraldVersion}`,
    ...target.headers,
    ...signed,
  };
  return { url: target.url, headers, body, signatureHeaders: signed };
}

/**
 * Prepares and sends. A template that fails to render makes no request: the result is a failure of error class
 * `template` naming what went wrong (the same event fails the same way again, so it is not worth retrying).
 */
export async function sendSignedRequest(
  target: SignedRequestTarget,
  content: EnvelopeContent,
  /** dispatcher: createDeliveryAgent(policy), which applies the URL policy at connect time (strict policy when absent). */
  options: { extraProfiles?: Record<string, SignatureProfile>; signal?: AbortSignal; dispatcher?: Dispatcher } = {},
): Promise<SignedRequestOutcome> {
  const started = performance.now();
  let prepared: PreparedRequest;
  try {
    prepared = await prepareSignedRequest(target, content, options);
  } catch (error) {
    if (!(error instanceof TemplateRenderError)) throw error;
    return {
      result: { ok: false, statusCode: null, durationMs: Math.round(performance.now() - started), headers: {}, body: '', errorClass: 'template', errorMessage: error.message },
      signatureHeaders: {},
    };
  }
  const result = await postWebhook(prepared.url, prepared.headers, prepared.body, target.timeout_ms, options.signal, { dispatcher: options.dispatcher });
  return { result, signatureHeaders: prepared.signatureHeaders };
}
