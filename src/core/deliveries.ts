import type { Sql } from '../db/client.js';
import { runningDeliveryStatuses, type DeliveryStatus } from '../../workflows/contracts.js';
import type { DeliveryToStart } from './dispatch.js';
import type { HttpAttemptResult } from './http-delivery.js';
import type { RecoveryRow } from './replay.js';

/**
 * The home of delivery state: every SQL statement on `deliveries` and `attempts`. Below the read models the API
 * lists; then the state changes of a delivery's life: created (by publish or as a replay), dispatched, claimed for an
 * attempt, its attempts recorded, finished as failed; and the reads those steps make.
 */

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
  /** The latest reset of its workflow (migration 010): the reason Temporal recorded, when, and how many resets so far. */
  reset_reason: string | null;
  reset_at: Date | null;
  resets: number;
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
  sql`id, tenant_id, event_id, endpoint_id, event_type, status, attempts, max_attempts, next_attempt_at, last_status_code, last_error, failure_reason, replay_of, created_at, updated_at, completed_at, reset_reason, reset_at, resets`;
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

/** What a delivery sends (its event, as stored) and when its latest attempt started: for showing the request as sent. */
export async function deliveryContent(sql: Sql, tenantId: string, deliveryId: string) {
  const [row] = await sql<(Omit<ClaimedDelivery, 'attempts' | 'previous_status' | 'last_status_code'> & { last_attempt_at: Date | null })[]>`
    select d.id, d.tenant_id, d.endpoint_id, e.id as event_id, e.event_type, e.schema_version, e.trace_id, e.created_at, e.data,
           (select max(a.started_at) from attempts a where a.delivery_id = d.id and a.kind = 'delivery') as last_attempt_at
    from deliveries d join events e on e.id = d.event_id
    where d.tenant_id = ${tenantId} and d.id = ${deliveryId}`;
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

// ---------------------------------------------------------------------------------------------------------------
// Creation

/**
 * Inserts one delivery per subscribed endpoint of a new event (in publish's transaction): `pending` for an active
 * endpoint; `failed` (`endpoint_disabled`), dispatched and completed at once for a disabled one, never attempted.
 */
export async function insertEventDeliveries(
  sql: Sql,
  event: { tenantId: string; eventId: string; eventType: string },
  rows: { id: string; endpoint_id: string; active: boolean; max_attempts: number }[],
): Promise<void> {
  if (rows.length === 0) return;
  await sql`
    insert into deliveries (id, tenant_id, event_id, endpoint_id, event_type, status, max_attempts, failure_reason, dispatched_at, completed_at)
    select d.id, ${event.tenantId}, ${event.eventId}, d.endpoint_id, ${event.eventType},
           case when d.active then 'pending' else 'failed' end, d.max_attempts,
           case when d.active then null else 'endpoint_disabled' end,
           case when d.active then null else now() end,
           case when d.active then null else now() end
    from unnest(${sql.array(rows.map((row) => row.id))}::text[], ${sql.array(rows.map((row) => row.endpoint_id))}::text[],
                ${sql.array(rows.map((row) => String(row.active)))}::boolean[], ${sql.array(rows.map((row) => row.max_attempts))}::int[])
         as d(id, endpoint_id, active, max_attempts)`;
}

/** An event's deliveries as publish answers: how many it created (replays aside) and the first `limit` of them. */
export async function publishedDeliveries(sql: Sql, eventId: string, limit: number): Promise<{ count: number; deliveries: { delivery_id: string; endpoint_id: string }[] }> {
  const [{ count }] = await sql<{ count: number }[]>`select count(*)::int as count from deliveries where event_id = ${eventId} and replay_of is null`;
  const deliveries = await sql<{ delivery_id: string; endpoint_id: string }[]>`
    select id as delivery_id, endpoint_id from deliveries where event_id = ${eventId} and replay_of is null order by id limit ${limit}`;
  return { count, deliveries: [...deliveries] };
}

/** A replay to store: a new pending delivery, linked to the one it repeats (`replay_of`, null for none). */
export interface ReplayRow {
  id: string;
  event_id: string;
  endpoint_id: string;
  event_type: string;
  max_attempts: number;
  replay_of: string | null;
}

/**
 * Stores replays (an id that exists already is left as it is) and returns those of them not dispatched yet, in id
 * order: the ones whose workflows still need starting.
 */
/** Whether delivery `replayId` exists as a replay of `originalId`. */
export async function replayExists(sql: Sql, replayId: string, originalId: string): Promise<boolean> {
  const [row] = await sql`select 1 from deliveries where id = ${replayId} and replay_of = ${originalId}`;
  return row !== undefined;
}

export async function insertReplays(sql: Sql, tenantId: string, rows: ReplayRow[], recoveryId: string | undefined): Promise<DeliveryToStart[]> {
  const column = <K extends keyof ReplayRow>(key: K) => sql.array(rows.map((row) => String(row[key] ?? '')));
  await sql`
    insert into deliveries (id, tenant_id, event_id, endpoint_id, event_type, status, max_attempts, replay_of, recovery_id)
    select u.id, ${tenantId}, u.event_id, u.endpoint_id, u.event_type, 'pending', u.max_attempts, nullif(u.replay_of, ''), ${recoveryId ?? null}
    from unnest(${column('id')}::text[], ${column('event_id')}::text[], ${column('endpoint_id')}::text[], ${column('event_type')}::text[],
                ${column('max_attempts')}::int[], ${column('replay_of')}::text[]) as u(id, event_id, endpoint_id, event_type, max_attempts, replay_of)
    on conflict do nothing`;
  return [
    ...(await sql<DeliveryToStart[]>`
      ${selectDeliveriesToStart(sql)}
      where d.id = any(${sql.array(rows.map((row) => row.id))}::text[]) and d.dispatched_at is null order by d.id`),
  ];
}

// ---------------------------------------------------------------------------------------------------------------
// Dispatch: a delivery row without `dispatched_at` is one whose workflow may not exist yet (src/core/dispatch.ts).

/** Deliveries (`d`) with what starting their workflows needs, the summary's endpoint URL and tenant name included. */
const selectDeliveriesToStart = (sql: Sql) => sql`
  select d.id, d.tenant_id, d.endpoint_id, d.event_type, d.max_attempts, en.url as endpoint_url, t.name as tenant_name
  from deliveries d join endpoints en on en.id = d.endpoint_id join tenants t on t.id = d.tenant_id`;

export async function markDispatched(sql: Sql, deliveryIds: string[]): Promise<void> {
  await sql`update deliveries set dispatched_at = now() where id = any(${deliveryIds}) and dispatched_at is null`;
}

/** One batch of an event's undispatched deliveries, in id order after `afterDeliveryId`. */
export async function undispatchedEventDeliveries(sql: Sql, eventId: string, afterDeliveryId: string | undefined, limit: number): Promise<DeliveryToStart[]> {
  return sql<DeliveryToStart[]>`
    ${selectDeliveriesToStart(sql)}
    where d.event_id = ${eventId} and d.id > ${afterDeliveryId ?? ''} and d.dispatched_at is null
    order by d.id limit ${limit}`;
}

/** Undispatched deliveries older than `graceMs`, oldest first: what the sweeper starts. */
export async function staleUndispatchedDeliveries(sql: Sql, graceMs: number, limit: number): Promise<DeliveryToStart[]> {
  return sql<DeliveryToStart[]>`
    ${selectDeliveriesToStart(sql)}
    where d.dispatched_at is null and d.created_at < now() - make_interval(secs => ${graceMs / 1000})
    order by d.created_at limit ${limit}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Attempts

/** A delivery claimed for an attempt, with the event it sends. */
export interface ClaimedDelivery {
  id: string;
  tenant_id: string;
  endpoint_id: string;
  /** Attempts recorded so far. */
  attempts: number;
  /** The status before this claim: `delivering` means an earlier attempt started and was never recorded. */
  previous_status: DeliveryStatus;
  last_status_code: number | null;
  event_id: string;
  event_type: string;
  schema_version: string;
  trace_id: string;
  created_at: Date;
  data: unknown;
}

/** Marks a delivery that has not ended `delivering` for an attempt; undefined when it has ended or does not exist. */
export async function claimAttempt(sql: Sql, deliveryId: string): Promise<ClaimedDelivery | undefined> {
  const [delivery] = await sql<ClaimedDelivery[]>`
    update deliveries d set status = 'delivering', next_attempt_at = null, updated_at = now()
    from events e, (select status from deliveries where id = ${deliveryId}) previous
    where d.id = ${deliveryId} and e.id = d.event_id and d.status not in ('delivered', 'failed')
    returning d.id, d.tenant_id, d.endpoint_id, d.attempts, previous.status as previous_status, d.last_status_code, e.id as event_id, e.event_type, e.schema_version, e.trace_id, e.created_at, e.data`;
  return delivery;
}

/** Records attempts `from`..`to` as `interrupted`: they started but their worker died before recording them. */
export async function recordInterruptedAttempts(sql: Sql, delivery: Pick<ClaimedDelivery, 'id' | 'tenant_id' | 'endpoint_id'>, from: number, to: number): Promise<void> {
  await sql`
    insert into attempts (delivery_id, tenant_id, endpoint_id, attempt, started_at, duration_ms, success, error_class, error_message)
    select ${delivery.id}, ${delivery.tenant_id}, ${delivery.endpoint_id}, n, now(), 0, false, 'interrupted', 'the worker running this attempt stopped before recording it'
    from generate_series(${from}::int, ${to}::int) as n
    on conflict (delivery_id, attempt) where kind = 'delivery' do nothing`;
}

export interface RecordedAttempt {
  delivery: Pick<ClaimedDelivery, 'id' | 'tenant_id' | 'endpoint_id'>;
  attempt: number;
  startedAt: Date;
  result: HttpAttemptResult;
  /** The delivery's status after it: delivered, retrying (at nextAttemptAt), or delivering (no retry left). */
  status: DeliveryStatus;
  nextAttemptAt: Date | null;
}

/**
 * Records an attempt (once: a repeat changes nothing in the log) and the delivery's new status; a failure also flags
 * the endpoint for health attention. Returns whether the endpoint has that flag now.
 */
export async function recordAttempt(sql: Sql, recorded: RecordedAttempt): Promise<{ health_attention: boolean } | undefined> {
  const { delivery, attempt, startedAt, result, status, nextAttemptAt } = recorded;
  const [row] = await sql<{ health_attention: boolean }[]>`
    with recorded as (
      insert into attempts (delivery_id, tenant_id, endpoint_id, attempt, started_at, duration_ms, status_code, success, error_class, error_message, response_headers, response_body)
      values (${delivery.id}, ${delivery.tenant_id}, ${delivery.endpoint_id}, ${attempt}, ${startedAt}, ${result.durationMs}, ${result.statusCode}, ${result.ok},
              ${result.errorClass}, ${result.errorMessage}, ${sql.json(result.headers)}, ${result.body})
      on conflict (delivery_id, attempt) where kind = 'delivery' do nothing
    ), flagged as (
      update endpoints set health_attention = true, health_attention_at = now()
      where id = ${delivery.endpoint_id} and ${!result.ok}
    )
    update deliveries set
      status = ${status}, attempts = greatest(attempts, ${attempt}), last_status_code = ${result.statusCode}, last_error = ${result.errorMessage},
      next_attempt_at = ${nextAttemptAt}, updated_at = now(), completed_at = ${result.ok ? sql`now()` : null}
    where id = ${delivery.id}
    returning (select health_attention from endpoints where id = ${delivery.endpoint_id}) as health_attention`;
  return row;
}

/** Records a test send in the endpoint's attempt log as kind 'test': no delivery. */
export async function recordTestAttempt(sql: Sql, endpoint: { id: string; tenant_id: string }, startedAt: Date, result: HttpAttemptResult): Promise<void> {
  await sql`
    insert into attempts (delivery_id, tenant_id, endpoint_id, attempt, kind, started_at, duration_ms, status_code, success, error_class, error_message, response_headers, response_body)
    values (null, ${endpoint.tenant_id}, ${endpoint.id}, 1, 'test', ${startedAt}, ${result.durationMs}, ${result.statusCode}, ${result.ok},
            ${result.errorClass}, ${result.errorMessage}, ${sql.json(result.headers)}, ${result.body})`;
}

/**
 * Ends a delivery as failed (the dead-letter set); the first reason sticks. Returns what the failure notice tells,
 * or undefined when the delivery does not exist.
 */
export async function markDeliveryFailed(sql: Sql, deliveryId: string, reason: string) {
  const [delivery] = await sql<{ tenant_id: string; event_id: string; endpoint_id: string; event_type: string; attempts: number; last_status_code: number | null; last_error: string | null; resets: number }[]>`
    update deliveries set
      status = 'failed', failure_reason = coalesce(failure_reason, ${reason}), next_attempt_at = null,
      completed_at = coalesce(completed_at, now()), updated_at = now()
    where id = ${deliveryId}
    returning tenant_id, event_id, endpoint_id, event_type, attempts, last_status_code, last_error, resets`;
  return delivery;
}

/**
 * Ends a delivery that is still running as failed, for a reason found outside its workflow (src/core/delivery-operations.ts):
 * its workflow is gone or was terminated, so nothing else will finish it. Also stamps it dispatched, so the outbox
 * sweeper never starts it afterwards. Returns the row as it is now, or undefined when it had already ended (or does not exist).
 */
export async function endRunningDelivery(sql: Sql, deliveryId: string, reason: string): Promise<DeliveryView | undefined> {
  const [row] = await sql<DeliveryView[]>`
    update deliveries set
      status = 'failed', failure_reason = ${reason}, next_attempt_at = null, completed_at = now(), updated_at = now(),
      dispatched_at = coalesce(dispatched_at, now())
    where id = ${deliveryId} and status = any(${sql.array([...runningDeliveryStatuses])}::text[])
    returning ${deliveryColumns(sql)}`;
  return row;
}

/**
 * Running deliveries whose workflows were started and whose rows have not changed for `staleMs`, in id order after
 * `afterId`: the ones the sweeper asks Temporal about (a retry wait of hours leaves a row unchanged too). The status
 * list is spelled out so that the partial index deliveries_running (migration 009) serves it.
 */
export async function staleRunningDeliveries(sql: Sql, staleMs: number, afterId: string | undefined, limit: number): Promise<{ id: string }[]> {
  return sql<{ id: string }[]>`
    select id from deliveries
    where status in ('pending', 'delivering', 'retrying') and dispatched_at is not null
      and updated_at < now() - make_interval(secs => ${staleMs / 1000}) and id > ${afterId ?? ''}
    order by id limit ${limit}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Replays and recoveries (src/core/replay.ts)

/** A delivery to replay, with its endpoint's state; undefined when the tenant has no such delivery. */
export async function deliveryToReplay(sql: Sql, tenantId: string, deliveryId: string) {
  const [original] = await sql<{ id: string; event_id: string; endpoint_id: string; event_type: string; status: DeliveryStatus; endpoint_active: boolean; endpoint_deleted: boolean }[]>`
    select d.id, d.event_id, d.endpoint_id, d.event_type, d.status, e.active as endpoint_active, e.deleted_at is not null as endpoint_deleted
    from deliveries d join endpoints e on e.id = d.endpoint_id
    where d.tenant_id = ${tenantId} and d.id = ${deliveryId}`;
  return original;
}

/** The tenant a delivery belongs to (undefined when it does not exist). */
export async function deliveryTenantId(sql: Sql, deliveryId: string): Promise<string | undefined> {
  const [delivery] = await sql<{ tenant_id: string }[]>`select tenant_id from deliveries where id = ${deliveryId}`;
  return delivery?.tenant_id;
}

/** The newest delivery of an event to each of the endpoints: what a replay repeats, or why it must wait. */
export async function latestEventDeliveries(sql: Sql, eventId: string, endpointIds: string[]) {
  return sql<{ id: string; endpoint_id: string; status: DeliveryStatus }[]>`
    select distinct on (endpoint_id) id, endpoint_id, status from deliveries
    where event_id = ${eventId} and endpoint_id = any(${sql.array(endpointIds)}::text[])
    order by endpoint_id, created_at desc, id desc`;
}

/** What a recovery replays: the endpoint's deliveries in the window with the status asked for, ended before the recovery began. */
type RecoveryScope = Pick<RecoveryRow, 'id' | 'endpoint_id' | 'since' | 'until' | 'delivery_status' | 'created_at'>;

function recoverableWhere(sql: Sql, recovery: RecoveryScope) {
  return sql`
    d.endpoint_id = ${recovery.endpoint_id} and d.status = ${recovery.delivery_status}
    and d.created_at >= ${recovery.since} and d.created_at < ${recovery.until}
    and d.completed_at <= ${recovery.created_at}
    and d.recovery_id is distinct from ${recovery.id}`;
}

/** A subquery: how many deliveries the recovery will replay (it is stored with the recovery, in one statement). */
export function countRecoverable(sql: Sql, recovery: RecoveryScope) {
  return sql`(select count(*)::int from deliveries d where ${recoverableWhere(sql, recovery)})`;
}

/** The next `limit` deliveries the recovery replays, in id order after `afterDeliveryId`. */
export async function recoverableDeliveries(sql: Sql, recovery: RecoveryScope, afterDeliveryId: string | undefined, limit: number) {
  return sql<{ id: string; event_id: string; endpoint_id: string; event_type: string }[]>`
    select d.id, d.event_id, d.endpoint_id, d.event_type from deliveries d
    where ${recoverableWhere(sql, recovery)} and d.id > ${afterDeliveryId ?? ''}
    order by d.id limit ${limit}`;
}

/** A subquery: how many replays the recovery has stored. */
export function countRecoveryReplays(sql: Sql, recoveryId: string) {
  return sql`(select count(*)::int from deliveries where recovery_id = ${recoveryId})`;
}

// ---------------------------------------------------------------------------------------------------------------
// Runs: the delivery loop's attempts (workflows/contracts.ts deliveryLoopPatch) claim for a workflow run

/** A delivery claimed by a run of its workflow: its budget and where the current series of attempts began. */
export interface RunClaim extends ClaimedDelivery {
  max_attempts: number;
  series_start: number;
}

/**
 * Marks a delivery that has not ended `delivering` for an attempt of run `runId`, which owns it from then on (the
 * first claim records it). Undefined when it has ended, does not exist, or another run owns it (see deliveryRun).
 */
export async function claimRunAttempt(sql: Sql, deliveryId: string, runId: string): Promise<RunClaim | undefined> {
  const [delivery] = await sql<RunClaim[]>`
    update deliveries d set status = 'delivering', next_attempt_at = null, updated_at = now(), run_id = ${runId}
    from events e, (select status from deliveries where id = ${deliveryId}) previous
    where d.id = ${deliveryId} and e.id = d.event_id and d.status not in ('delivered', 'failed') and (d.run_id is null or d.run_id = ${runId})
    returning d.id, d.tenant_id, d.endpoint_id, d.attempts, previous.status as previous_status, d.last_status_code, e.id as event_id, e.event_type,
              e.schema_version, e.trace_id, e.created_at, e.data, d.max_attempts, d.series_start`;
  return delivery;
}

/** Where a delivery stands and which run owns it (undefined when it does not exist). */
export async function deliveryRun(sql: Sql, deliveryId: string) {
  const [state] = await sql<{ status: DeliveryStatus; attempts: number; last_status_code: number | null; run_id: string | null; endpoint_id: string }[]>`
    select status, attempts, last_status_code, run_id, endpoint_id from deliveries where id = ${deliveryId}`;
  return state;
}

/**
 * Hands a delivery to run `runId` of its workflow, as long as run `fromRunId` still owns it. With `reset`, the run is a
 * reset: the delivery is reopened (pending, its failure cleared) with a fresh budget of `attemptsPerSeries` after the
 * attempts it has, and the reset recorded. False when another run took it first.
 */
export async function takeOverDelivery(
  sql: Sql,
  input: { deliveryId: string; fromRunId: string | null; runId: string; reset?: { reason: string | null; attemptsPerSeries: number } },
): Promise<boolean> {
  const { deliveryId, fromRunId, runId, reset } = input;
  const rows = await sql`
    update deliveries set run_id = ${runId}, updated_at = now()
      ${reset
        ? sql`, status = 'pending', max_attempts = attempts + ${reset.attemptsPerSeries}, series_start = attempts, failure_reason = null, completed_at = null,
              next_attempt_at = null, reset_reason = ${reset.reason}, reset_at = now(), resets = resets + 1`
        : sql``}
    where id = ${deliveryId} and run_id is not distinct from ${fromRunId}`;
  return rows.count > 0;
}
