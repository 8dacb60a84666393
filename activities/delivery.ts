import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ActivityDeps } from './index.js';
import { loadEndpointForDelivery } from '../src/core/endpoints.js';
import type { HttpAttemptResult } from '../src/core/http-delivery.js';
import { nextRetryDelayMs, parseRetryAfter, retryDelaysMs } from '../src/core/retry-schedule.js';
import { sendSignedRequest } from '../src/core/signed-request.js';
import { publishOperationalEvent } from '../src/core/publish.js';
import { dispatchEventBatch } from '../src/core/dispatch.js';
import { reportAttemptToHealth } from './health.js';
import { keepAlive } from './keep-alive.js';
import { isDependencyUnavailable } from '../src/api/errors.js';
import {
  attemptFailedSignal,
  deliveryAttemptFailedType,
  deliveryWorkflowId,
  nonRetryableDeliveryFailures,
  type AttemptFailedDetails,
  type AttemptFailedReport,
  type AttemptInput,
  type DeliveryStatus,
} from '../workflows/delivery.js';

export interface AttemptOutcome {
  attempt: number;
  status_code: number | null;
}

const statusesWithRetryAfter = new Set([429, 503]);

/** How long an attempt waits for PostgreSQL to come back before it fails (and uses up one attempt). */
const databasePatienceMs = 40_000;

/**
 * Runs one database step of an attempt; while PostgreSQL is unreachable it waits and heartbeats instead of
 * failing, because every failure is an attempt to Temporal: a short outage would otherwise use up a
 * delivery's whole schedule (retried every second) without the receiver ever being called.
 */
async function whileDatabaseDown<T>(context: Context, step: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + databasePatienceMs;
  const stopKeepingAlive = keepAlive(context);
  try {
    for (;;) {
      try {
        return await step();
      } catch (error) {
        if (!isDependencyUnavailable(error) || Date.now() > deadline) throw error;
        await context.sleep(1000);
      }
    }
  } finally {
    stopKeepingAlive();
  }
}

export function createDeliveryActivities(deps: ActivityDeps) {
  const { sql, config } = deps;

  return {
    /**
     * One attempt: load, sign, POST, record. A failure that will be retried throws with the
     * schedule's next delay as nextRetryDelay (Temporal's retry policy does the waiting) and the
     * attempt's report and that delay as details (the workflow reads them when this ran as its first, local, attempt).
     */
    async attemptDelivery(input: AttemptInput): Promise<AttemptOutcome> {
      const context = Context.current();
      const [delivery] = await whileDatabaseDown(context, () => sql<
        { id: string; tenant_id: string; endpoint_id: string; attempts: number; previous_status: DeliveryStatus; last_status_code: number | null; event_id: string; event_type: string; schema_version: string; trace_id: string; created_at: Date; data: unknown }[]
      >`
        update deliveries d set status = 'delivering', next_attempt_at = null, updated_at = now()
        from events e, (select status from deliveries where id = ${input.deliveryId}) previous
        where d.id = ${input.deliveryId} and e.id = d.event_id and d.status not in ('delivered', 'failed')
        returning d.id, d.tenant_id, d.endpoint_id, d.attempts, previous.status as previous_status, d.last_status_code, e.id as event_id, e.event_type, e.schema_version, e.trace_id, e.created_at, e.data`);
      if (!delivery) {
        const [done] = await sql<{ status: DeliveryStatus; attempts: number; last_status_code: number | null }[]>`select status, attempts, last_status_code from deliveries where id = ${input.deliveryId}`;
        if (done?.status === 'delivered') return { attempt: done.attempts, status_code: done.last_status_code };
        throw ApplicationFailure.nonRetryable(`delivery ${input.deliveryId} is ${done ? done.status : 'missing'}`, nonRetryableDeliveryFailures.deliveryNotFound);
      }
      // A retry's number is Temporal's. The local first attempt has none that survives a crash (its workflow task
      // is simply run again), so it counts from the log: after the recorded attempts, and after one that started
      // (the delivery was left `delivering`) but was never recorded.
      const attempt = context.info.isLocal
        ? delivery.attempts + 1 + (delivery.previous_status === 'delivering' ? 1 : 0)
        : (input.attemptsBefore ?? 0) + context.info.attempt;
      if (attempt > delivery.attempts + 1) {
        // Attempts that started but never got recorded: their worker died mid-request.
        await sql`
          insert into attempts (delivery_id, tenant_id, endpoint_id, attempt, started_at, duration_ms, success, error_class, error_message)
          select ${delivery.id}, ${delivery.tenant_id}, ${delivery.endpoint_id}, n, now(), 0, false, 'interrupted', 'the worker running this attempt stopped before recording it'
          from generate_series(${delivery.attempts + 1}::int, ${attempt - 1}::int) as n
          on conflict (delivery_id, attempt) where kind = 'delivery' do nothing`;
      }

      if (attempt > input.maxAttempts) {
        throw ApplicationFailure.create({ message: `attempt ${attempt - 1} was interrupted and was the last`, type: deliveryAttemptFailedType, nonRetryable: true });
      }

      const endpoint = await loadEndpointForDelivery(sql, deps.secretBox, delivery.endpoint_id);
      if (!endpoint || endpoint.deleted || !endpoint.active) {
        throw ApplicationFailure.nonRetryable(`endpoint ${delivery.endpoint_id} is disabled or deleted`, nonRetryableDeliveryFailures.endpointDisabled);
      }

      const startedAt = new Date();
      const stopKeepingAlive = keepAlive(context);
      let result: HttpAttemptResult;
      try {
        ({ result } = await sendSignedRequest(
          endpoint,
          {
            eventId: delivery.event_id,
            deliveryId: delivery.id,
            eventType: delivery.event_type,
            schemaVersion: delivery.schema_version,
            traceId: delivery.trace_id,
            createdAt: delivery.created_at,
            data: delivery.data,
          },
          {
            extraProfiles: deps.extraSignatureProfiles,
            // The SDK cancels a stopping worker's activities after the grace time, not its local ones: Herald does.
            signal: context.info.isLocal && deps.shutdownSignal ? AbortSignal.any([context.cancellationSignal, deps.shutdownSignal]) : context.cancellationSignal,
            dispatcher: deps.httpAgent,
          },
        ));
      } finally {
        stopKeepingAlive();
      }

      const gone = result.statusCode === 410;
      const isLast = attempt >= input.maxAttempts || gone;
      const retryAfterMs = result.statusCode !== null && statusesWithRetryAfter.has(result.statusCode) ? parseRetryAfter(result.retryAfter) : undefined;
      const delayMs = result.ok || isLast ? undefined : nextRetryDelayMs(retryDelaysMs(endpoint.retry_schedule), attempt, { jitter: config.HERALD_RETRY_JITTER, retryAfterMs });
      const nextAttemptAt = delayMs === undefined ? null : new Date(Date.now() + delayMs);
      const status: DeliveryStatus = result.ok ? 'delivered' : nextAttemptAt ? 'retrying' : 'delivering';

      const [recorded] = await whileDatabaseDown(context, () => sql<{ health_attention: boolean }[]>`
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
        returning (select health_attention from endpoints where id = ${delivery.endpoint_id}) as health_attention`);

      // A success while the endpoint has no failure streak changes nothing in its health workflow, so
      // it is not reported: healthy endpoints cost their health workflow nothing.
      // An attempt cancelled by a stopping worker (`interrupted`) says nothing about the receiver.
      const reportNeeded = result.errorClass !== 'interrupted' && (!result.ok || recorded?.health_attention !== false);
      if (reportNeeded) await reportAttemptToHealth(deps, endpoint, result.ok, {
        delivery_id: delivery.id,
        attempt,
        at: startedAt.toISOString(),
        status_code: result.statusCode,
        error_class: result.errorClass,
        error: result.errorMessage,
        disable_after_failures: endpoint.disable_after_failures,
        disable_after_ms: endpoint.disable_after_ms,
      });

      if (result.ok) return { attempt, status_code: result.statusCode };
      const message = `attempt ${attempt} failed: ${result.errorMessage}`;
      if (gone) throw ApplicationFailure.nonRetryable(`${message} (410 Gone: the receiver asked to stop)`, nonRetryableDeliveryFailures.endpointGone);
      if (!nextAttemptAt) throw ApplicationFailure.create({ message, type: deliveryAttemptFailedType, nonRetryable: true });
      const report: AttemptFailedReport = { attempt, status_code: result.statusCode, error: result.errorMessage ?? 'failed', next_attempt_at: nextAttemptAt.toISOString() };
      // A regular activity's retries happen inside Temporal, unseen by the workflow: the signal keeps its progress live.
      if (!context.info.isLocal) {
        await deps.temporal.workflow
          .getHandle(deliveryWorkflowId(delivery.id))
          .signal(attemptFailedSignal, report)
          .catch((error) => deps.logger.warn({ err: error, delivery_id: delivery.id }, 'could not report progress to the delivery workflow'));
      }
      const details: AttemptFailedDetails = [report, delayMs!];
      throw ApplicationFailure.create({ message, type: deliveryAttemptFailedType, nextRetryDelay: delayMs, details });
    },

    /** Ends a series as failed (the dead-letter set) and tells the tenant's subscribers, once. */
    async finishFailedDelivery(input: { deliveryId: string; reason: string }): Promise<{ attempts: number; last_status_code: number | null; last_error: string | null }> {
      const [delivery] = await sql<{ tenant_id: string; event_id: string; endpoint_id: string; event_type: string; attempts: number; last_status_code: number | null; last_error: string | null }[]>`
        update deliveries set
          status = 'failed', failure_reason = coalesce(failure_reason, ${input.reason}), next_attempt_at = null,
          completed_at = coalesce(completed_at, now()), updated_at = now()
        where id = ${input.deliveryId}
        returning tenant_id, event_id, endpoint_id, event_type, attempts, last_status_code, last_error`;
      if (!delivery) return { attempts: 0, last_status_code: null, last_error: null };
      // A failed delivery_failed notice never announces itself, or a dead receiver would loop forever.
      if (input.reason !== 'endpoint_disabled' && delivery.event_type !== 'v1.webhook.delivery_failed') {
        await publishOperationalEvent(deps.dispatch, {
          tenantId: delivery.tenant_id,
          type: 'v1.webhook.delivery_failed',
          data: {
            delivery_id: input.deliveryId,
            event_id: delivery.event_id,
            endpoint_id: delivery.endpoint_id,
            event_type: delivery.event_type,
            attempts: delivery.attempts,
            last_error: delivery.last_error,
          },
          occurrence: input.deliveryId,
        });
      }
      return { attempts: delivery.attempts, last_status_code: delivery.last_status_code, last_error: delivery.last_error };
    },

    async dispatchEventDeliveries(input: { eventId: string; afterDeliveryId?: string; limit: number }) {
      return dispatchEventBatch(deps.dispatch, input.eventId, input.afterDeliveryId, input.limit);
    },
  };
}
