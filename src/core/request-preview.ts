import type { Sql } from '../db/client.js';
import { maskHeaders, type SecretBox } from './crypto.js';
import { deliveryContent } from './deliveries.js';
import { loadEndpointForDelivery } from './endpoints.js';
import { Conflict, NotFound } from './errors.js';
import { TemplateRenderError } from './templates.js';
import { deliveryEnvelopeContent, prepareSignedRequest } from './signed-request.js';
import type { SignatureProfile } from './signing.js';

export interface RequestAsSent {
  method: 'POST';
  url: string;
  /** Every header Herald sends; the endpoint's custom header values and the signatures masked as every answer masks header values (maskHeaderValue). */
  headers: Record<string, string>;
  /** The exact bytes of the body (the endpoint's template rendered, or its envelope). */
  body: string;
  /** The timestamp the headers were signed with: the latest attempt's start (now, before any attempt). */
  signed_at: Date;
}

/**
 * A delivery's request as Herald sends it (its latest attempt, or its next one): the same envelope and headers, built
 * by the code that sends it, with what a viewer must not learn masked. Signatures are recomputed with the endpoint's
 * current secret, so they are masked too: a receiver's team sees the headers' shape, never a usable signature.
 */
export async function deliveryRequestAsSent(
  deps: { sql: Sql; secretBox: SecretBox; extraProfiles?: Record<string, SignatureProfile> },
  tenantId: string,
  deliveryId: string,
): Promise<RequestAsSent> {
  const delivery = await deliveryContent(deps.sql, tenantId, deliveryId);
  if (!delivery) throw new NotFound('Delivery');
  const endpoint = await loadEndpointForDelivery(deps.sql, deps.secretBox, delivery.endpoint_id);
  if (!endpoint) throw new NotFound('Endpoint');
  const signedAt = delivery.last_attempt_at ?? new Date();
  let prepared;
  try {
    prepared = await prepareSignedRequest(endpoint, deliveryEnvelopeContent(delivery), { extraProfiles: deps.extraProfiles, now: signedAt });
  } catch (error) {
    // Its attempts failed the same way (error_class template): there was no request to show.
    if (error instanceof TemplateRenderError) throw new Conflict(`The endpoint's template does not render for this delivery, so nothing was sent: ${error.message}`);
    throw error;
  }
  const signatureNames = Object.keys(prepared.signatureHeaders).filter((name) => /signature/i.test(name));
  const headers = maskHeaders(prepared.headers, [...Object.keys(endpoint.headers), ...signatureNames]);
  return { method: 'POST', url: prepared.url, headers, body: prepared.body, signed_at: signedAt };
}
