import { ApplicationFailure, Context } from '@temporalio/activity';
import type { ActivityDeps } from './index.js';
import { loadEndpointForDelivery } from '../src/core/endpoints.js';
import type { HttpAttemptResult } from '../src/core/http-delivery.js';
import { nextRetryDelayMs, parseRetryAfter, retryDelaysMs, type RetrySchedule } from '../src/core/retry-schedule.js';
import { deliveryEnvelopeContent, sendSignedRequest } from '../src/core/signed-request.js';
import { publishOperationalEvent } from '../src/core/publish.js';
import {
  claimAttempt,
  claimRunAttempt,
  deliveryRun,
  markDeliveryFailed,
  recordAttempt,
  recordInterruptedAttempts,
  takeOverDelivery,
  type ClaimedDelivery,
  type RunClaim,
} from '../src/core/deliveries.js';
import { reportAttemptToHealth } from './health.js';
import { keepAlive } from './keep-alive.js';
import { isDependencyUnavailable } from '../src/core/errors.js';
import {
  attemptFailedSignal,
  deliveryAttemptFailedType,
  deliveryWorkflowId,
  nonRetryableDeliveryFailures,
  type AttemptFailedDetails,
  type AttemptFailedReport,
  type AttemptInput,
  type AttemptOutcome,
  type DeliveryStatus,
} from '../workflows/contracts.js';

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
      // The delivery loop's attempts (input.loop) claim for their workflow run: number, budget and schedule come from the row.
      const run = input.loop ? context.info.workflowExecution : undefined;
      const delivery: (ClaimedDelivery & Partial<RunClaim>) | undefined = await whileDatabaseDown(context, () =>
        run ? claimForRun(input.deliveryId, run) : claimAttempt(sql, input.deliveryId),
      );
      if (!delivery) {
        const done = await deliveryRun(sql, input.deliveryId);
        if (done?.status === 'delivered') return { attempt: done.attempts, status_code: done.last_status_code };
        throw ApplicationFailure.nonRetryable(`delivery ${input.deliveryId} is ${done ? done.status : 'missing'}`, nonRetryableDeliveryFailures.deliveryNotFound);
      }
      // A retry's number is Temporal's. The local first attempt has none that survives a crash (its workflow task
      // is simply run again), so it counts from the log: after the recorded attempts, and after one that started
      // (the delivery was left `delivering`) but was never recorded. So does every attempt of the loop.
      const attempt =
        context.info.isLocal || run
          ? delivery.attempts + 1 + (delivery.previous_status === 'delivering' ? 1 : 0)
          : (input.attemptsBefore ?? 0) + context.info.attempt;
      if (attempt > delivery.attempts + 1) {
        // Attempts that started but never got recorded: their worker died mid-request.
        await recordInterruptedAttempts(sql, delivery, delivery.attempts + 1, attempt - 1);
      }
      // A reset starts the schedule again after the attempts made before it (series_start), under a fresh budget.
      const maxAttempts = delivery.max_attempts ?? input.maxAttempts;
      const seriesAttempt = attempt - (delivery.series_start ?? 0);

      if (attempt > maxAttempts) {
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
          deliveryEnvelopeContent(delivery),
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
      // A template that fails to render fails the same way for the same event: no retry.
      const templateFailed = result.errorClass === 'template';
      const isLast = attempt >= maxAttempts || gone || templateFailed;
      const retryAfterMs = result.statusCode !== null && statusesWithRetryAfter.has(result.statusCode) ? parseRetryAfter(result.retryAfter) : undefined;
      const delayMs = result.ok || isLast ? undefined : nextRetryDelayMs(retryDelaysMs(endpoint.retry_schedule), seriesAttempt, { jitter: config.HERALD_RETRY_JITTER, retryAfterMs });
      const nextAttemptAt = delayMs === undefined ? null : new Date(Date.now() + delayMs);
      const status: DeliveryStatus = result.ok ? 'delivered' : nextAttemptAt ? 'retrying' : 'delivering';

      const recorded = await whileDatabaseDown(context, () => recordAttempt(sql, { delivery, attempt, startedAt, result, status, nextAttemptAt }));

      // A success while the endpoint has no failure streak changes nothing in its health workflow, so
      // it is not reported: healthy endpoints cost their health workflow nothing.
      // An attempt cancelled by a stopping worker (`interrupted`), or that never reached it (`template`), says nothing about the receiver.
      const reportNeeded = result.errorClass !== 'interrupted' && !templateFailed && (!result.ok || recorded?.health_attention !== false);
      if (reportNeeded) await reportAttemptToHealth(deps, endpoint, result.ok, {
        delivery_id: delivery.id,
        attempt,
        at: startedAt.toISOString(),
        status_code: result.statusCode,
        error_class: result.errorClass,
        error: result.errorMessage,
        disable_after_failures: endpoint.disable_after_failures,
        disable_after_ms: endpoint.disable_after_ms,
        endpoint_enabled_at: endpoint.enabled_at?.toISOString() ?? null,
      });

      if (result.ok) return { attempt, status_code: result.statusCode, ...(run ? { max_attempts: maxAttempts } : {}) };
      const message = `attempt ${attempt} failed: ${result.errorMessage}`;
      if (gone) throw ApplicationFailure.nonRetryable(`${message} (410 Gone: the receiver asked to stop)`, nonRetryableDeliveryFailures.endpointGone);
      if (templateFailed) throw ApplicationFailure.nonRetryable(message, nonRetryableDeliveryFailures.templateError);
      if (!nextAttemptAt) throw ApplicationFailure.create({ message, type: deliveryAttemptFailedType, nonRetryable: true });
      const report: AttemptFailedReport = {
        attempt,
        status_code: result.statusCode,
        error: result.errorMessage ?? 'failed',
        next_attempt_at: nextAttemptAt.toISOString(),
        ...(run ? { max_attempts: maxAttempts } : {}),
      };
      // A regular activity's retries happen inside Temporal, unseen by the workflow: the signal keeps its progress live.
      // The loop's workflow sees every attempt's failure itself.
      if (!context.info.isLocal && !run) {
        await deps.temporal.workflow
          .getHandle(deliveryWorkflowId(delivery.id))
          .signal(attemptFailedSignal, report)
          .catch((error) => deps.logger.warn({ err: error, delivery_id: delivery.id }, 'could not report progress to the delivery workflow'));
      }
      const details: AttemptFailedDetails = [report, delayMs!];
      throw ApplicationFailure.create({ message, type: deliveryAttemptFailedType, nextRetryDelay: delayMs, details });
    },

    /** Ends a series as failed (the dead-letter set) and tells the tenant's subscribers, once. */
    async finishFailedDelivery(input: { deliveryId: string; reason: string }): Promise<FinishedDelivery> {
      return finishFailed(input.deliveryId, input.reason);
    },

    /**
     * The delivery loop's last step, a local activity in the workflow task that closes the workflow (so a reset always
     * runs it again, never inherits its answer): when another run owns the delivery and this run is a reset of the
     * workflow, the delivery has ended in the run this one was reset from (its outcome is in the history this run
     * inherited). It is handed to this run reopened and `send_again` says so. Otherwise a `reason` finishes it failed
     * as finishFailedDelivery does.
     */
    async closeDelivery(input: { deliveryId: string; reason?: string }): Promise<{ send_again: boolean; finished?: FinishedDelivery }> {
      const run = Context.current().info.workflowExecution!;
      const state = await deliveryRun(sql, input.deliveryId);
      // A cancelled run ends, reset or not.
      if (state?.run_id && state.run_id !== run.runId && input.reason !== 'cancelled' && (await handOver(input.deliveryId, state, run)) === 'reset') {
        return { send_again: true };
      }
      return { send_again: false, ...(input.reason ? { finished: await finishFailed(input.deliveryId, input.reason) } : {}) };
    },
  };

  async function finishFailed(deliveryId: string, reason: string): Promise<FinishedDelivery> {
    const delivery = await markDeliveryFailed(sql, deliveryId, reason);
    if (!delivery) return { attempts: 0, last_status_code: null, last_error: null };
    // A failed delivery_failed notice never announces itself, or a dead receiver would loop forever.
    if (reason !== 'endpoint_disabled' && delivery.event_type !== 'v1.webhook.delivery_failed') {
      await publishOperationalEvent(deps.dispatch, {
        tenantId: delivery.tenant_id,
        type: 'v1.webhook.delivery_failed',
        data: {
          delivery_id: deliveryId,
          event_id: delivery.event_id,
          endpoint_id: delivery.endpoint_id,
          event_type: delivery.event_type,
          attempts: delivery.attempts,
          last_error: delivery.last_error,
        },
        // One notice per series: a delivery sent again by a reset that fails again is a new failure to announce.
        occurrence: delivery.resets === 0 ? deliveryId : `${deliveryId}:reset-${delivery.resets}`,
      });
    }
    return { attempts: delivery.attempts, last_status_code: delivery.last_status_code, last_error: delivery.last_error };
  }

  /**
   * Claims a delivery for an attempt of a workflow run; when another run owns it (or none does and it has ended), it is
   * handed over first (handOver). Undefined: missing, ended, or not this run's to send.
   */
  async function claimForRun(deliveryId: string, run: WorkflowRun): Promise<RunClaim | undefined> {
    for (let round = 0; round < 3; round++) {
      const claimed = await claimRunAttempt(sql, deliveryId, run.runId);
      if (claimed) return claimed;
      const state = await deliveryRun(sql, deliveryId);
      if (!state || state.run_id === run.runId || !(await handOver(deliveryId, state, run))) return undefined;
    }
    return undefined;
  }

  /**
   * Hands a delivery owned by another run (or by none) to this one. A reset of the workflow (its history's
   * WorkflowTaskFailed event with cause RESET_WORKFLOW) reopens it, under a fresh budget from the endpoint's current
   * schedule and with the reset's reason; a run that is no reset takes over a delivery that is still running only.
   */
  async function handOver(deliveryId: string, state: { status: DeliveryStatus; run_id: string | null; endpoint_id: string }, run: WorkflowRun): Promise<'reset' | 'taken' | undefined> {
    const reason = await resetReason(run);
    if (reason === undefined && (state.status === 'delivered' || state.status === 'failed')) return undefined;
    const reset = reason === undefined ? undefined : { reason, attemptsPerSeries: await attemptsPerSeries(state.endpoint_id) };
    await takeOverDelivery(sql, { deliveryId, fromRunId: state.run_id, runId: run.runId, reset });
    if (!reset) return 'taken';
    deps.logger.info({ delivery_id: deliveryId, run_id: run.runId, reason }, 'delivery workflow reset: sending the delivery again');
    return 'reset';
  }

  /** The reason of the latest reset that made this run, from its history; undefined when the run is no reset. */
  async function resetReason(run: WorkflowRun): Promise<string | null | undefined> {
    const history = await deps.temporal.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
    const resets = (history.events ?? []).filter(({ workflowTaskFailedEventAttributes: failed }) => failed && isResetCause(failed.cause));
    if (resets.length === 0) return undefined;
    return resets.at(-1)!.workflowTaskFailedEventAttributes!.failure?.message || null;
  }

  async function attemptsPerSeries(endpointId: string): Promise<number> {
    const [endpoint] = await sql<{ retry_schedule: RetrySchedule }[]>`select retry_schedule from endpoints where id = ${endpointId}`;
    return endpoint ? retryDelaysMs(endpoint.retry_schedule).length + 1 : 1;
  }
}

type FinishedDelivery = { attempts: number; last_status_code: number | null; last_error: string | null };
type WorkflowRun = { workflowId: string; runId: string };

/** WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW (temporal.api.enums.v1.WorkflowTaskFailedCause), as a number or by name. */
function isResetCause(cause: unknown): boolean {
  return cause === 20 || cause === 'WORKFLOW_TASK_FAILED_CAUSE_RESET_WORKFLOW';
}
