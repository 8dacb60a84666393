import { createHash } from 'node:crypto';
import type { Sql } from '../db/client.js';
import { Conflict, Invalid } from './errors.js';
import { subscribedEndpoints } from './endpoints.js';
import { schemaVersionOf, validateEventData } from './event-catalog.js';
import { isOperationalEventType, noticeKey, reservedIdempotencyKeyPrefix, type OperationalNotice, type PublishedOperationalType } from './operational-events.js';
import { deliveryIdFor, newId } from './ids.js';
import { retryDelaysMs } from './retry-schedule.js';
import { dispatchEvent, type DispatchDeps, type DeliveryToStart } from './dispatch.js';
import { insertEventDeliveries, publishedDeliveries } from './deliveries.js';
import { recordChannelOccurrences, startChannelMessages } from './channels.js';

export interface PublishInput {
  tenantId: string;
  eventType: string;
  data: unknown;
  traceId?: string;
  idempotencyKey?: string;
  /** Endpoints that must not receive this event even if subscribed (an endpoint is not told about itself). */
  excludeEndpointIds?: string[];
}

export interface PublishResult {
  event_id: string;
  trace_id: string;
  delivery_count: number;
  deliveries: { delivery_id: string; endpoint_id: string }[];
}

const listedDeliveries = 100;
const idempotencyWindowHours = 24;

/**
 * Whose idempotency namespace a publish uses. A tenant's reused key with another body is a conflict; Herald's keys
 * name the state change a notice announces, so a reused one means the notice is already out.
 */
type Idempotency = { scope: 'tenant'; key: string } | { scope: 'herald'; key: string };

class IdempotencyRace extends Error {}

/** A stable hash of what was asked, so a reused Idempotency-Key with another body is caught. */
export function publishRequestHash(input: Pick<PublishInput, 'eventType' | 'data' | 'traceId'>): string {
  return createHash('sha256').update(JSON.stringify([input.eventType, input.data, input.traceId ?? null])).digest('hex');
}

/** A tenant's publish: its answer, and when its type was deprecated (null if it is not), which the answer's body omits. */
export interface TenantPublishResult extends PublishResult {
  deprecatedSince: Date | null;
}

/**
 * A tenant's publish. Herald's operational event types are refused (receivers must be able to trust them), and so
 * are idempotency keys in Herald's reserved `herald:` prefix; `data` must match its type's schema in the catalog.
 * A deprecated type is published like any other; the result says since when it is deprecated.
 */
export async function publishEvent(deps: DispatchDeps, input: PublishInput): Promise<TenantPublishResult> {
  if (isOperationalEventType(input.eventType)) {
    throw Invalid.field('body.event_type', `${input.eventType} is one of Herald's operational event types; only Herald publishes it`, 'reserved_event_type');
  }
  if (input.idempotencyKey?.startsWith(reservedIdempotencyKeyPrefix)) {
    throw Invalid.field('headers.idempotency-key', `keys starting with "${reservedIdempotencyKeyPrefix}" are reserved for Herald`, 'reserved_idempotency_key');
  }
  const eventType = await validateEventData(deps.sql, input.eventType, input.data);
  const published = await publish(deps, input, input.idempotencyKey === undefined ? undefined : { scope: 'tenant', key: input.idempotencyKey });
  // Channels that carry this type: not awaited, like dispatch (the occurrences are rows; the sweeper starts what is left).
  void startChannelMessages(deps, published.event_id).catch(() => {});
  return { ...published, deprecatedSince: eventType.deprecated_at };
}

/** Herald's own notice (endpoint disabled, delivery failed…): published once per occurrence, however often it is retried. */
/**
 * The notice also reaches the tenant's notification channels (src/core/channels.ts): its occurrences are stored with the
 * event, and their digest windows' workflows are started here, awaited, so a caller that retries (an activity) also
 * completes a start that failed; a repeated notice starts nothing new.
 */
export async function publishOperationalEvent<T extends PublishedOperationalType>(deps: DispatchDeps, notice: OperationalNotice<T>): Promise<PublishResult> {
  const published = await publish(
    deps,
    { tenantId: notice.tenantId, eventType: notice.type, data: notice.data, excludeEndpointIds: notice.excludeEndpointIds },
    { scope: 'herald', key: noticeKey(notice) },
  );
  await startChannelMessages(deps, published.event_id);
  return published;
}

/**
 * Stores the event and one delivery per subscribed endpoint in one transaction (the outbox), then
 * dispatches. Subscribed endpoints that are disabled get a delivery recorded as failed
 * (`endpoint_disabled`), never attempted, so it can be replayed once the endpoint is re-enabled.
 */
async function publish(deps: DispatchDeps, input: Omit<PublishInput, 'idempotencyKey'>, idempotency: Idempotency | undefined): Promise<PublishResult> {
  const requestHash = publishRequestHash(input);
  for (let tries = 0; ; tries++) {
    try {
      const { result, pending } = await storeEvent(deps.sql, input, requestHash, idempotency, deps.channelDigestWindowMs);
      // Not awaited: the rows are the promise. If Temporal is slow or down the answer is not held
      // up, and whatever fails to start here stays undispatched for the sweeper.
      if (pending.length > 0) void dispatchEvent(deps, result.event_id, pending).catch(() => {});
      return result;
    } catch (error) {
      if (error instanceof IdempotencyRace && tries < 3) continue;
      throw error;
    }
  }
}

async function storeEvent(
  sql: Sql,
  input: Omit<PublishInput, 'idempotencyKey'>,
  requestHash: string,
  idempotency: Idempotency | undefined,
  channelDigestWindowMs: number | undefined,
): Promise<{ result: PublishResult; pending: DeliveryToStart[] }> {
  return sql.begin(async (tx) => {
    if (idempotency) {
      const { scope, key } = idempotency;
      // A tenant's key is remembered for 24 h; Herald's name a change for good (a notice is never sent twice).
      if (scope === 'tenant') {
        await tx`delete from idempotency_keys where tenant_id = ${input.tenantId} and scope = 'tenant' and key = ${key} and created_at < now() - make_interval(hours => ${idempotencyWindowHours})`;
      }
      const [earlier] = await tx<{ request_hash: string; event_id: string }[]>`
        select request_hash, event_id from idempotency_keys where tenant_id = ${input.tenantId} and scope = ${scope} and key = ${key}`;
      if (earlier) {
        if (earlier.request_hash !== requestHash && scope === 'tenant') {
          throw new Conflict('This Idempotency-Key was used with a different request body', { idempotency_key: key, event_id: earlier.event_id });
        }
        return { result: await describePublishedEvent(tx as unknown as Sql, earlier.event_id), pending: [] };
      }
    }

    const eventId = newId('event');
    const traceId = input.traceId ?? newId('trace');
    await tx`
      insert into events (id, tenant_id, event_type, schema_version, trace_id, data)
      values (${eventId}, ${input.tenantId}, ${input.eventType}, ${schemaVersionOf(input.eventType)}, ${traceId},
              -- sent as text: a json or jsonb parameter would be normalised (key order) or encoded twice
              ${JSON.stringify(input.data)}::text::json)`;
    // Notification channels carrying this type: one occurrence each, named by the notice (Herald's) or the event.
    await recordChannelOccurrences(tx as unknown as Sql, {
      tenantId: input.tenantId,
      eventId,
      eventType: input.eventType,
      data: input.data,
      occurrence: idempotency?.scope === 'herald' ? `herald:${idempotency.key}` : eventId,
      windowMs: channelDigestWindowMs,
    });

    const endpoints = await subscribedEndpoints(tx as unknown as Sql, { tenantId: input.tenantId, eventType: input.eventType, excludeEndpointIds: input.excludeEndpointIds });
    const rows = endpoints.map((endpoint) => ({
      id: deliveryIdFor(eventId, endpoint.id),
      endpoint_id: endpoint.id,
      active: endpoint.active,
      max_attempts: retryDelaysMs(endpoint.retry_schedule).length + 1,
      endpoint_url: endpoint.url,
      tenant_name: endpoint.tenant_name,
    }));
    await insertEventDeliveries(tx as unknown as Sql, { tenantId: input.tenantId, eventId, eventType: input.eventType }, rows);
    if (idempotency) {
      const stored = await tx`
        insert into idempotency_keys (tenant_id, scope, key, request_hash, event_id)
        values (${input.tenantId}, ${idempotency.scope}, ${idempotency.key}, ${requestHash}, ${eventId})
        on conflict do nothing returning key`;
      // Another request with the same key committed first: roll back and answer as it did.
      if (stored.length === 0) throw new IdempotencyRace();
    }
    const pending = rows
      .filter((row) => row.active)
      .map((row) => ({
        id: row.id,
        tenant_id: input.tenantId,
        endpoint_id: row.endpoint_id,
        event_type: input.eventType,
        max_attempts: row.max_attempts,
        endpoint_url: row.endpoint_url,
        tenant_name: row.tenant_name,
      }));
    return {
      result: {
        event_id: eventId,
        trace_id: traceId,
        delivery_count: rows.length,
        deliveries: rows.slice(0, listedDeliveries).map((row) => ({ delivery_id: row.id, endpoint_id: row.endpoint_id })),
      },
      pending,
    };
  });
}

/** The publish response for an event already stored (idempotent replays answer with it). */
export async function describePublishedEvent(sql: Sql, eventId: string): Promise<PublishResult> {
  const [event] = await sql<{ id: string; trace_id: string }[]>`select id, trace_id from events where id = ${eventId}`;
  const { count, deliveries } = await publishedDeliveries(sql, eventId, listedDeliveries);
  return { event_id: event!.id, trace_id: event!.trace_id, delivery_count: count, deliveries };
}
