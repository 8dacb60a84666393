import type { Sql } from '../db/client.js';
import { Conflict, Invalid, NotFound } from './errors.js';
import { subscribedEndpoints } from './endpoints.js';
import { parseDuration, durationPattern } from './durations.js';
import { deliveryIdFor, newId } from './ids.js';
import { retryDelaysMs, type RetrySchedule } from './retry-schedule.js';
import { startDeliveryWorkflows, type DispatchDeps } from './dispatch.js';
import { publishOperationalEvent } from './publish.js';
import { recoverWorkflowId, runningDeliveryStatuses } from '../../workflows/contracts.js';
import { countRecoverable, countRecoveryReplays, deliveryTenantId, deliveryToReplay, insertReplays, replayExists, latestEventDeliveries, recoverableDeliveries } from './deliveries.js';

/**
 * Replays: a new attempt series for an (event, endpoint) pair that already had one, with a fresh delivery
 * id and workflow, linked to the delivery it repeats (`replay_of`). The API, the recovery workflow's
 * activity and scripts/replay.ts all go through here: a delivery row first, then its workflow.
 */

export interface ReplayTarget {
  /** The delivery being repeated, or null when the endpoint never had one for this event. */
  replay_of: string | null;
  event_id: string;
  endpoint_id: string;
  event_type: string;
  /** The new delivery's id when the caller minted it (idFor: a retried caller finds its own row); else chosen here. */
  id?: string;
}

export interface Replay {
  delivery_id: string;
  endpoint_id: string;
  replay_of: string | null;
}

/**
 * Stores one pending delivery per target (max_attempts from the endpoint's current schedule) and starts
 * their workflows. With `recoveryId`, ids are derived from (recovery, original) and a second call for the
 * same originals inserts nothing and only (re)starts what is not started yet.
 */
export async function createReplays(deps: DispatchDeps, tenantId: string, targets: ReplayTarget[], options: { recoveryId?: string } = {}): Promise<Replay[]> {
  if (targets.length === 0) return [];
  const { sql } = deps;
  const { recoveryId } = options;
  const endpointIds = [...new Set(targets.map((target) => target.endpoint_id))];
  const schedules = await sql<{ id: string; retry_schedule: RetrySchedule }[]>`select id, retry_schedule from endpoints where id = any(${sql.array(endpointIds)}::text[])`;
  const maxAttempts = new Map(schedules.map((endpoint) => [endpoint.id, retryDelaysMs(endpoint.retry_schedule).length + 1]));
  const rows = targets.map((target) => ({
    ...target,
    id: replayId(target, recoveryId),
    max_attempts: maxAttempts.get(target.endpoint_id) ?? 1,
  }));
  const pending = await insertReplays(sql, tenantId, rows, recoveryId);
  await startDeliveryWorkflows(deps, pending);
  return rows.map((row) => ({ delivery_id: row.id, endpoint_id: row.endpoint_id, replay_of: row.replay_of }));
}

/**
 * A recovery's replay of a delivery has an id derived from both, so replaying a batch again inserts nothing.
 * An endpoint that never had a delivery of the event gets the one publish would have given it.
 */
function replayId(target: ReplayTarget, recoveryId: string | undefined): string {
  if (target.id) return target.id;
  if (!target.replay_of) return deliveryIdFor(target.event_id, target.endpoint_id);
  return recoveryId ? deliveryIdFor(recoveryId, target.replay_of) : newId('delivery');
}

export interface ReplayOneInput {
  tenantId: string;
  deliveryId: string;
  /** Replay even though the endpoint is disabled (the new delivery then fails as endpoint_disabled). */
  force?: boolean;
  /** The replay's id, minted by a caller that may run twice (the replayDelivery workflow's activity); else a new one. */
  replayId?: string;
}

/** `POST .../deliveries/:id/replay`: 404 unknown or another tenant's, 409 while running or (without force) when the endpoint is disabled. */
export async function replayDelivery(deps: DispatchDeps, input: ReplayOneInput): Promise<Replay> {
  const original = await deliveryToReplay(deps.sql, input.tenantId, input.deliveryId);
  if (!original) throw new NotFound('Delivery');
  // A caller retried after its replay committed finishes that replay (starting its workflow if need be): no second
  // replay, and no 409 for its own work.
  const resumed = input.replayId !== undefined && (await replayExists(deps.sql, input.replayId, original.id));
  if (!resumed) {
    if ((runningDeliveryStatuses as readonly string[]).includes(original.status)) {
      throw new Conflict(`Delivery ${original.id} is still ${original.status}; replay it once it has ended`, { status: original.status });
    }
    if (original.endpoint_deleted) throw new Conflict(`Endpoint ${original.endpoint_id} was deleted; its deliveries cannot be replayed`, { endpoint_id: original.endpoint_id });
    if (!original.endpoint_active && !input.force) {
      throw new Conflict(`Endpoint ${original.endpoint_id} is disabled; enable it first, or replay with force: true`, { endpoint_id: original.endpoint_id });
    }
  }
  const [replay] = await createReplays(deps, input.tenantId, [
    { replay_of: original.id, event_id: original.event_id, endpoint_id: original.endpoint_id, event_type: original.event_type, id: input.replayId },
  ]);
  return replay!;
}

/** replayDelivery by the delivery id alone, its tenant looked up (the replayDelivery workflow: no tenant in sight). */
export async function replayDeliveryById(deps: DispatchDeps, input: Omit<ReplayOneInput, 'tenantId'>): Promise<Replay> {
  const tenantId = await deliveryTenantId(deps.sql, input.deliveryId);
  if (!tenantId) throw new NotFound(`Delivery ${input.deliveryId}`);
  return replayDelivery(deps, { ...input, tenantId });
}

export interface EventReplayResult {
  replays: Replay[];
  /** Endpoints left out because a delivery of this event to them is still running. */
  skipped: { endpoint_id: string; reason: 'running'; delivery_id: string }[];
}

/**
 * `POST .../events/:id/replay`: to the event type's current subscribers (active endpoints), or to the
 * listed endpoints of the tenant (422 for ids that are not; 409 for disabled ones unless `force`).
 */
export async function replayEvent(deps: DispatchDeps, input: { tenantId: string; eventId: string; endpointIds?: string[]; force?: boolean }): Promise<EventReplayResult> {
  const { sql } = deps;
  const [event] = await sql<{ id: string; event_type: string }[]>`select id, event_type from events where tenant_id = ${input.tenantId} and id = ${input.eventId}`;
  if (!event) throw new NotFound('Event');
  let endpoints: { id: string; active: boolean }[];
  if (input.endpointIds) {
    const wanted = [...new Set(input.endpointIds)];
    endpoints = [...(await sql<{ id: string; active: boolean }[]>`
      select id, active from endpoints where tenant_id = ${input.tenantId} and deleted_at is null and id = any(${sql.array(wanted)}::text[]) order by id`)];
    const found = new Set(endpoints.map((endpoint) => endpoint.id));
    const issues = input.endpointIds.flatMap((id, index) => (found.has(id) ? [] : [{ field: `body.endpoint_ids.${index}`, message: `"${id}" is not an endpoint of this tenant`, code: 'unknown_endpoint' }]));
    if (issues.length > 0) throw new Invalid(issues);
    const disabled = endpoints.filter((endpoint) => !endpoint.active).map((endpoint) => endpoint.id);
    if (disabled.length > 0 && !input.force) throw new Conflict(`Endpoint ${disabled.join(', ')} is disabled; enable it first, or replay with force: true`, { endpoint_ids: disabled });
  } else {
    endpoints = await subscribedEndpoints(sql, { tenantId: input.tenantId, eventType: event.event_type, activeOnly: true });
  }
  if (endpoints.length === 0) return { replays: [], skipped: [] };

  const latest = await latestEventDeliveries(sql, event.id, endpoints.map((endpoint) => endpoint.id));
  const byEndpoint = new Map(latest.map((row) => [row.endpoint_id, row]));
  const skipped: EventReplayResult['skipped'] = [];
  const targets: ReplayTarget[] = [];
  for (const endpoint of endpoints) {
    const previous = byEndpoint.get(endpoint.id);
    if (previous && (runningDeliveryStatuses as readonly string[]).includes(previous.status)) {
      skipped.push({ endpoint_id: endpoint.id, reason: 'running', delivery_id: previous.id });
      continue;
    }
    targets.push({ replay_of: previous?.id ?? null, event_id: event.id, endpoint_id: endpoint.id, event_type: event.event_type });
  }
  return { replays: await createReplays(deps, input.tenantId, targets), skipped };
}

/** `2h` means two hours ago; anything else must be an ISO 8601 date. */
export function parseSince(value: string, now = Date.now()): Date | undefined {
  if (durationPattern.test(value.trim())) return new Date(now - parseDuration(value));
  const date = new Date(value);
  return Number.isNaN(date.getTime()) || !/^\d{4}-\d{2}-\d{2}/.test(value.trim()) ? undefined : date;
}

export type RecoverableStatus = 'failed' | 'delivered';

export interface RecoveryRow {
  id: string;
  tenant_id: string;
  endpoint_id: string;
  since: Date;
  until: Date;
  delivery_status: RecoverableStatus;
  status: 'running' | 'completed';
  total: number;
  replayed: number;
  batch_size: number;
  /** The workflow running it: `recover-<id>` when the API started it, the operator's id from the `temporal` CLI. */
  workflow_id: string;
  created_at: Date;
  finished_at: Date | null;
}

/**
 * Stores a recovery and counts what it will replay; the caller starts its workflow (`workflowId`, default
 * `recover-<id>`), or is it (recoverWorkflow started by an operator with the `temporal` CLI). 409 when the endpoint is
 * disabled (unless force), 422 for a window that is empty by construction.
 */
export async function createRecovery(
  sql: Sql,
  input: {
    tenantId: string;
    endpointId: string;
    since: Date;
    until?: Date;
    deliveryStatus: RecoverableStatus;
    batchSize: number;
    force?: boolean;
    workflowId?: string;
    /** The recovery's id when the caller minted it (idFor): a retried caller gets its own row back. */
    id?: string;
  },
): Promise<RecoveryRow> {
  if (input.id) {
    const existing = await getRecovery(sql, input.id);
    if (existing) return existing;
  }
  const [endpoint] = await sql<{ id: string; active: boolean }[]>`select id, active from endpoints where tenant_id = ${input.tenantId} and id = ${input.endpointId} and deleted_at is null`;
  if (!endpoint) throw new NotFound('Endpoint');
  if (!endpoint.active && !input.force) throw new Conflict(`Endpoint ${endpoint.id} is disabled; enable it first, or recover with force: true`, { endpoint_id: endpoint.id });
  const [{ now }] = await sql<{ now: Date }[]>`select now()`;
  const until = input.until && input.until < now ? input.until : now;
  if (input.since >= until) throw Invalid.field('body.since', 'must be before until (and before now)', 'invalid_window');
  const recovery = { id: input.id ?? newId('recovery'), endpoint_id: endpoint.id, since: input.since, until, delivery_status: input.deliveryStatus, created_at: now };
  const [row] = await sql<RecoveryRow[]>`
    insert into recoveries (id, tenant_id, endpoint_id, since, until, delivery_status, total, batch_size, workflow_id, created_at)
    select ${recovery.id}, ${input.tenantId}, ${endpoint.id}, ${input.since}, ${until}, ${input.deliveryStatus},
           ${countRecoverable(sql, recovery)}, ${input.batchSize}, ${input.workflowId ?? recoverWorkflowId(recovery.id)}, ${now}
    returning *`;
  return row!;
}

export async function getRecovery(sql: Sql, recoveryId: string, scope?: { tenantId: string; endpointId: string }): Promise<RecoveryRow | undefined> {
  const [row] = await sql<RecoveryRow[]>`
    select * from recoveries where id = ${recoveryId}
    ${scope ? sql`and tenant_id = ${scope.tenantId} and endpoint_id = ${scope.endpointId}` : sql``}`;
  return row;
}

/**
 * One batch of a recovery: the next `limit` matching deliveries after `afterDeliveryId` (ascending ids),
 * replayed idempotently. Running it twice for the same cursor (an activity retry, a worker killed
 * mid-batch) replays nothing twice: the replay ids are derived from (recovery, original).
 */
export async function replayRecoveryBatch(deps: DispatchDeps, input: { recoveryId: string; afterDeliveryId?: string; limit: number }) {
  const recovery = await getRecovery(deps.sql, input.recoveryId);
  if (!recovery) return { count: 0, lastDeliveryId: undefined };
  const originals = await recoverableDeliveries(deps.sql, recovery, input.afterDeliveryId, input.limit);
  await createReplays(
    deps,
    recovery.tenant_id,
    originals.map((original) => ({ replay_of: original.id, event_id: original.event_id, endpoint_id: original.endpoint_id, event_type: original.event_type })),
    { recoveryId: recovery.id },
  );
  await deps.sql`update recoveries set replayed = ${countRecoveryReplays(deps.sql, recovery.id)} where id = ${recovery.id}`;
  return { count: originals.length, lastDeliveryId: originals.at(-1)?.id };
}

/**
 * Marks a recovery completed and announces it (`v1.endpoint.recovery_finished`, to the tenant's other endpoints and
 * its notification channels), once: the notice's key is the recovery, so a retried finish is "already sent".
 */
export async function finishRecovery(deps: DispatchDeps, recoveryId: string): Promise<void> {
  const [finished] = await deps.sql<Pick<RecoveryRow, 'tenant_id' | 'endpoint_id' | 'total' | 'replayed'>[]>`
    update recoveries set status = 'completed', finished_at = coalesce(finished_at, now()),
      replayed = ${countRecoveryReplays(deps.sql, recoveryId)}
    where id = ${recoveryId}
    returning tenant_id, endpoint_id, total, replayed`;
  if (!finished) return;
  await publishOperationalEvent(deps, {
    tenantId: finished.tenant_id,
    type: 'v1.endpoint.recovery_finished',
    data: { endpoint_id: finished.endpoint_id, recovery_id: recoveryId, total: finished.total, replayed: finished.replayed },
    occurrence: recoveryId,
    excludeEndpointIds: [finished.endpoint_id],
  });
}

export const sinceMessage = 'must be an ISO 8601 date (2026-05-01T12:00:00Z) or a duration meaning "that long ago" (2h, 30m, 7d)';
