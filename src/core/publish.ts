import { createHash } from 'node:crypto';
import type { Sql } from '../db/client.js';
import { Conflict, Invalid } from './errors.js';
import { validateEventData } from './event-catalog.js';
import { isOperationalEventType, noticeKey, reservedIdempotencyKeyPrefix, type OperationalNotice, type PublishedOperationalType } from './operational-events.js';
import { deliveryIdFor, newId } from './ids.js';
import { retryDelaysMs, type RetrySchedule } from './retry-schedule.js';
import { dispatchEvent, type DispatchDeps, type DeliveryToStart } from './dispatch.js';

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

/**
 * A tenant's publish. Herald's operational event types are refused (receivers must be able to trust them), and so
 * are idempotency keys in Herald's reserved `herald:` prefix; `data` must match its type's schema in the catalog.
 */
export async function publishEvent(deps: DispatchDeps, input: PublishInput): Promise<PublishResult> {
  if (isOperationalEventType(input.eventType)) {
    throw Invalid.field('body.event_type', `${input.eventType} is one of Herald's operational event types; only Herald publishes it`, 'reserved_event_type');
  }
  if (input.idempotencyKey?.startsWith(reservedIdempotencyKeyPrefix)) {
    throw Invalid.field('headers.idempotency-key', `keys starting with "${reservedIdempotencyKeyPrefix}" are reserved for Herald`, 'reserved_idempotency_key');
  }
  await validateEventData(deps.sql, input.eventType, input.data);
  return publish(deps, input, input.idempotencyKey === undefined ? undefined : { scope: 'tenant', key: input.idempotencyKey });
}

/** Herald's own notice (endpoint disabled, delivery failed…): published once per occurrence, however often it is retried. */
export async function publishOperationalEvent<T extends PublishedOperationalType>(deps: DispatchDeps, notice: OperationalNotice<T>): Promise<PublishResult> {
  return publish(
    deps,
    { tenantId: notice.tenantId, eventType: notice.type, data: notice.data, excludeEndpointIds: notice.excludeEndpointIds },
    { scope: 'herald', key: noticeKey(notice) },
  );
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
      const { result, pending } = await storeEvent(deps.sql, input, requestHash, idempotency);
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
): Promise<{ result: PublishResult; pending: DeliveryToStart[] }> {
  return sql.begin(async (tx) => {
    if (idempotency) {
      const { scope, key } = idempotency;
      await tx`delete from idempotency_keys where tenant_id = ${input.tenantId} and scope = ${scope} and key = ${key} and created_at < now() - make_interval(hours => ${idempotencyWindowHours})`;
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
      values (${eventId}, ${input.tenantId}, ${input.eventType}, ${input.eventType.split('.')[0]!}, ${traceId},
              -- sent as text: a json or jsonb parameter would be normalised (key order) or encoded twice
              ${JSON.stringify(input.data)}::text::json)`;

    const endpoints = await tx<{ id: string; active: boolean; retry_schedule: RetrySchedule }[]>`
      select id, active, retry_schedule from endpoints
      where tenant_id = ${input.tenantId} and deleted_at is null
        and event_types && array[${input.eventType}, '*']::text[]
        ${input.excludeEndpointIds?.length ? tx`and id <> all(${input.excludeEndpointIds}::text[])` : tx``}
      order by id`;
    const rows = endpoints.map((endpoint) => ({
      id: deliveryIdFor(eventId, endpoint.id),
      endpoint_id: endpoint.id,
      active: endpoint.active,
      max_attempts: retryDelaysMs(endpoint.retry_schedule).length + 1,
    }));
    if (rows.length > 0) {
      await tx`
        insert into deliveries (id, tenant_id, event_id, endpoint_id, event_type, status, max_attempts, failure_reason, dispatched_at, completed_at)
        select d.id, ${input.tenantId}, ${eventId}, d.endpoint_id, ${input.eventType},
               case when d.active then 'pending' else 'failed' end, d.max_attempts,
               case when d.active then null else 'endpoint_disabled' end,
               case when d.active then null else now() end,
               case when d.active then null else now() end
        from unnest(${tx.array(rows.map((row) => row.id))}::text[], ${tx.array(rows.map((row) => row.endpoint_id))}::text[],
                    ${tx.array(rows.map((row) => String(row.active)))}::boolean[], ${tx.array(rows.map((row) => row.max_attempts))}::int[])
             as d(id, endpoint_id, active, max_attempts)`;
    }
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
      .map((row) => ({ id: row.id, tenant_id: input.tenantId, endpoint_id: row.endpoint_id, event_type: input.eventType, max_attempts: row.max_attempts }));
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
  const [event] = await sql<{ id: string; trace_id: string; delivery_count: number }[]>`
    select e.id, e.trace_id, (select count(*)::int from deliveries d where d.event_id = e.id and d.replay_of is null) as delivery_count
    from events e where e.id = ${eventId}`;
  const deliveries = await sql<{ delivery_id: string; endpoint_id: string }[]>`
    select id as delivery_id, endpoint_id from deliveries where event_id = ${eventId} and replay_of is null order by id limit ${listedDeliveries}`;
  return { event_id: event!.id, trace_id: event!.trace_id, delivery_count: event!.delivery_count, deliveries: [...deliveries] };
}
