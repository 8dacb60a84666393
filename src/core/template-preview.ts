import type { Sql } from '../db/client.js';
import type { SecretBox } from './crypto.js';
import { getEvent } from './deliveries.js';
import { loadEndpointForDelivery } from './endpoints.js';
import { Invalid, NotFound } from './errors.js';
import { schemaVersionOf } from './event-catalog.js';
import { deliveryIdFor, newId } from './ids.js';
import { deliveryEnvelopeContent, prepareSignedRequest, type PreparedRequest } from './signed-request.js';
import type { SignatureProfile } from './signing.js';
import { assertTemplateCompiles, TemplateRenderError, type EndpointTemplate } from './templates.js';

/**
 * A template preview: the request an endpoint would be sent for an event, built, rendered and signed by the same code
 * as a delivery attempt (prepareSignedRequest), and not sent. The event is a stored one of the tenant (its delivery id is
 * the one its delivery to this endpoint has or would have) or a sample {event_type, data} with fresh ids. A draft
 * `template` previews instead of the saved one (null: the envelope), so a template can be tried before it is saved.
 */
export type PreviewEvent = { event_id: string } | { event_type: string; data: unknown };

export interface TemplatePreview extends PreparedRequest {
  event_id: string;
  delivery_id: string;
  /** The endpoint's custom header names (their values are secrets an answer masks). */
  custom_headers: string[];
}

export async function previewEndpointRequest(
  deps: { sql: Sql; box: SecretBox; extraProfiles?: Record<string, SignatureProfile> },
  input: { tenantId: string; endpointId: string; event: PreviewEvent; template?: EndpointTemplate | null },
): Promise<TemplatePreview> {
  const endpoint = await loadEndpointForDelivery(deps.sql, deps.box, input.endpointId);
  if (!endpoint || endpoint.deleted || endpoint.tenant_id !== input.tenantId) throw new NotFound('Endpoint');
  if (input.template !== undefined) assertTemplateCompiles(input.template);

  // A stored event of the tenant, or a sample with fresh ids; either way under the delivery id it has (or would have) here.
  let event: { id: string; event_type: string; schema_version: string; trace_id: string; created_at: Date; data: unknown };
  if ('event_id' in input.event) {
    const stored = await getEvent(deps.sql, input.tenantId, input.event.event_id);
    if (!stored) throw new NotFound('Event');
    event = stored;
  } else {
    event = {
      id: newId('event'),
      event_type: input.event.event_type,
      schema_version: schemaVersionOf(input.event.event_type),
      trace_id: newId('trace'),
      created_at: new Date(),
      data: input.event.data,
    };
  }
  const content = deliveryEnvelopeContent({ ...event, id: deliveryIdFor(event.id, endpoint.id), event_id: event.id });

  const target = input.template === undefined ? endpoint : { ...endpoint, template: input.template };
  try {
    const prepared = await prepareSignedRequest(target, content, { extraProfiles: deps.extraProfiles });
    return { event_id: content.eventId, delivery_id: content.deliveryId, custom_headers: Object.keys(endpoint.headers), ...prepared };
  } catch (error) {
    // What a delivery attempt would record as a failed attempt (error_class template) is the preview's 422.
    if (error instanceof TemplateRenderError) throw Invalid.field('body', error.message, 'template_render_failed');
    throw error;
  }
}
