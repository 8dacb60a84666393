import { z } from 'zod';

/** How an endpoint wants an event wrapped: Herald's envelope, the compact `id,type,created,data` one (seed 003), or the payload alone. */
export const envelopeKindSchema = z.enum(['herald', 'compact', 'bare']);
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
  type: string;
  /** Unix seconds. */
  created: number;
  data: Data;
}

/**
 * The exact bytes to send and sign. Key order is part of the contract (receivers diff and log these), so
 * the objects are written out literally. A missing payload becomes `null` rather than dropping the `data` key.
 */
export function buildEnvelope(
  kind: EnvelopeKind,
  input: { eventId: string; deliveryId: string; eventType: string; schemaVersion: string; traceId: string; createdAt: Date; data: unknown },
): string {
  const data = input.data ?? null;
  switch (kind) {
    case 'herald': {
      const envelope: HeraldEnvelope = {
        event_id: input.eventId,
        delivery_id: input.deliveryId,
        event_type: input.eventType,
        schema_version: input.schemaVersion,
        trace_id: input.traceId,
        created_at: input.createdAt.toISOString(),
        data,
      };
      return JSON.stringify(envelope);
    }
    case 'compact': {
      const envelope: CompactEnvelope = { id: input.deliveryId, type: input.eventType, created: Math.floor(input.createdAt.getTime() / 1000), data };
      return JSON.stringify(envelope);
    }
    case 'bare':
      return JSON.stringify(data);
  }
}
