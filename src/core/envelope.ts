import { z } from 'zod';

/**
 * How an endpoint wants an event wrapped. Envelopes are data (a key and a value source per field, in
 * order), so a vendor shape is one line here rather than a code path:
 * - `herald` (default, seed 000): {event_id, delivery_id, event_type, schema_version, trace_id, created_at, data};
 * - `compact` (seed 003): {id: delivery id, type, created: unix seconds, data};
 * - `event` (seed 001): {id: event id, type, created_at: ISO seconds, data}, the event itself as an object;
 * - `bare`: the published `data` as is, for any vendor-defined shape (seed 004's {type, status, data}).
 *
 * Event type names: the catalog's names are versioned (`v1.case.completed`) and the `herald` envelope sends
 * them so, next to `schema_version`. `compact` and `event` exist to reproduce vendor contracts whose `type` is
 * the unversioned `resource.action` (seed 001: `document.updated`, seed 003: `kyc.session.processed`), so
 * their `type` is the catalog name without its `vN.` prefix, by definition. An endpoint on these envelopes
 * that must tell two majors of a type apart subscribes to one of them (event_types lists versioned names).
 */
export const envelopeKindSchema = z.enum(['herald', 'compact', 'event', 'bare']);
export type EnvelopeKind = z.infer<typeof envelopeKindSchema>;

/** What a receiver of the `herald` envelope gets, key for key. */
export interface HeraldEnvelope<Data = unknown> {
  event_id: string;
  delivery_id: string;
  event_type: string;
  schema_version: string;
  trace_id: string;
  /** ISO 8601 with milliseconds, UTC. */
  created_at: string;
  data: Data;
}

export interface CompactEnvelope<Data = unknown> {
  /** The delivery id: stable across retries, so receivers can deduplicate on it. */
  id: string;
  /** Unversioned: `case.completed` for the catalog's `v1.case.completed`. */
  type: string;
  /** Unix seconds. */
  created: number;
  data: Data;
}

export interface EventEnvelope<Data = unknown> {
  /** The event id (`evt_…`): the same for every endpoint the event goes to, and across retries. */
  id: string;
  /** Unversioned: `case.completed` for the catalog's `v1.case.completed`. */
  type: string;
  /** ISO 8601 in whole seconds, UTC (`2026-03-28T12:00:00Z`). */
  created_at: string;
  data: Data;
}

export interface EnvelopeInput {
  eventId: string;
  deliveryId: string;
  eventType: string;
  schemaVersion: string;
  traceId: string;
  createdAt: Date;
  data: unknown;
}

/** `case.completed` of `v1.case.completed`. */
export function unversionedTypeName(eventType: string): string {
  return eventType.replace(/^v\d+\./, '');
}

const valueSources = {
  event_id: (input: EnvelopeInput) => input.eventId,
  delivery_id: (input: EnvelopeInput) => input.deliveryId,
  event_type: (input: EnvelopeInput) => input.eventType,
  unversioned_type: (input: EnvelopeInput) => unversionedTypeName(input.eventType),
  schema_version: (input: EnvelopeInput) => input.schemaVersion,
  trace_id: (input: EnvelopeInput) => input.traceId,
  iso_ms: (input: EnvelopeInput) => input.createdAt.toISOString(),
  iso_seconds: (input: EnvelopeInput) => input.createdAt.toISOString().replace(/\.\d{3}Z$/, 'Z'),
  unix_seconds: (input: EnvelopeInput) => Math.floor(input.createdAt.getTime() / 1000),
  // A missing payload becomes `null` rather than dropping the `data` key.
  data: (input: EnvelopeInput) => input.data ?? null,
} satisfies Record<string, (input: EnvelopeInput) => unknown>;

/** Key order is part of the contract (receivers diff and log these): fields are listed in the order sent. */
const envelopeFields: Record<Exclude<EnvelopeKind, 'bare'>, [key: string, source: keyof typeof valueSources][]> = {
  herald: [
    ['event_id', 'event_id'],
    ['delivery_id', 'delivery_id'],
    ['event_type', 'event_type'],
    ['schema_version', 'schema_version'],
    ['trace_id', 'trace_id'],
    ['created_at', 'iso_ms'],
    ['data', 'data'],
  ],
  compact: [
    ['id', 'delivery_id'],
    ['type', 'unversioned_type'],
    ['created', 'unix_seconds'],
    ['data', 'data'],
  ],
  event: [
    ['id', 'event_id'],
    ['type', 'unversioned_type'],
    ['created_at', 'iso_seconds'],
    ['data', 'data'],
  ],
};

/** The envelope as a value, keys in the order sent. */
export function envelopeValue(kind: EnvelopeKind, input: EnvelopeInput): unknown {
  if (kind === 'bare') return valueSources.data(input);
  return Object.fromEntries(envelopeFields[kind].map(([key, source]) => [key, valueSources[source](input)]));
}

/** The exact bytes to send and sign. */
export function buildEnvelope(kind: EnvelopeKind, input: EnvelopeInput): string {
  return JSON.stringify(envelopeValue(kind, input));
}

/** The `herald` envelope's fields: what a payload template (templates.ts) is rendered over. */
export function buildHeraldFields(input: EnvelopeInput): Record<string, unknown> {
  return envelopeValue('herald', input) as Record<string, unknown>;
}
