import type { Sql } from '../db/client.js';

/** Read models of events, deliveries and attempts, as the API shows them. */
export interface DeliveryView {
  id: string;
  tenant_id: string;
  event_id: string;
  endpoint_id: string;
  event_type: string;
  status: string;
  attempts: number;
  max_attempts: number;
  next_attempt_at: Date | null;
  last_status_code: number | null;
  last_error: string | null;
  failure_reason: string | null;
  replay_of: string | null;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
}

export interface AttemptView {
  delivery_id: string | null;
  endpoint_id: string | null;
  attempt: number;
  kind: string;
  started_at: Date;
  duration_ms: number;
  status_code: number | null;
  success: boolean;
  error_class: string | null;
  error_message: string | null;
  response_headers: Record<string, string> | null;
  response_body: string | null;
}

const deliveryColumns = (sql: Sql) =>
  sql`id, tenant_id, event_id, endpoint_id, event_type, status, attempts, max_attempts, next_attempt_at, last_status_code, last_error, failure_reason, replay_of, created_at, updated_at, completed_at`;
const attemptColumns = (sql: Sql) =>
  sql`delivery_id, endpoint_id, attempt, kind, started_at, duration_ms, status_code, success, error_class, error_message, response_headers, response_body`;

export interface DeliveryFilter {
  endpoint_id?: string;
  event_id?: string;
  event_type?: string;
  status?: string;
  since?: Date;
  until?: Date;
  cursor?: string;
  limit: number;
}

/** Newest first; the cursor is the last id of the previous page. */
export async function listDeliveries(sql: Sql, tenantId: string, filter: DeliveryFilter): Promise<DeliveryView[]> {
  return sql<DeliveryView[]>`
    select ${deliveryColumns(sql)} from deliveries
    where tenant_id = ${tenantId}
      ${filter.endpoint_id ? sql`and endpoint_id = ${filter.endpoint_id}` : sql``}
      ${filter.event_id ? sql`and event_id = ${filter.event_id}` : sql``}
      ${filter.event_type ? sql`and event_type = ${filter.event_type}` : sql``}
      ${filter.status ? sql`and status = ${filter.status}` : sql``}
      ${filter.since ? sql`and created_at >= ${filter.since}` : sql``}
      ${filter.until ? sql`and created_at < ${filter.until}` : sql``}
      ${filter.cursor ? sql`and id < ${filter.cursor}` : sql``}
    order by id desc limit ${filter.limit}`;
}

export async function getDelivery(sql: Sql, tenantId: string, deliveryId: string): Promise<DeliveryView | undefined> {
  const [row] = await sql<DeliveryView[]>`select ${deliveryColumns(sql)} from deliveries where tenant_id = ${tenantId} and id = ${deliveryId}`;
  return row;
}

/** Every delivery of an event, replays included, in id order. */
export async function listEventDeliveries(sql: Sql, eventId: string): Promise<DeliveryView[]> {
  return sql<DeliveryView[]>`select ${deliveryColumns(sql)} from deliveries where event_id = ${eventId} order by id`;
}

export async function listAttempts(sql: Sql, deliveryId: string): Promise<AttemptView[]> {
  return sql<AttemptView[]>`select ${attemptColumns(sql)} from attempts where delivery_id = ${deliveryId} and kind = 'delivery' order by attempt`;
}

/** An endpoint's attempt log, newest first; paged by `before` (an attempt's started_at). */
export async function listEndpointAttempts(sql: Sql, endpointId: string, page: { limit: number; before?: Date }): Promise<AttemptView[]> {
  return sql<AttemptView[]>`
    select ${attemptColumns(sql)} from attempts
    where endpoint_id = ${endpointId} ${page.before ? sql`and started_at < ${page.before}` : sql``}
    order by started_at desc, id desc limit ${page.limit}`;
}

export async function getEvent(sql: Sql, tenantId: string, eventId: string) {
  const [event] = await sql<{ id: string; tenant_id: string; event_type: string; schema_version: string; trace_id: string; data: unknown; created_at: Date }[]>`
    select id, tenant_id, event_type, schema_version, trace_id, data, created_at from events where tenant_id = ${tenantId} and id = ${eventId}`;
  return event;
}
