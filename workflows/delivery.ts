import { ActivityFailure, ApplicationFailure, patched, proxyActivities, proxyLocalActivities, setHandler, sleep, upsertSearchAttributes } from '@temporalio/workflow';
import type { HeraldActivities } from '../activities/index.js';
import { bookkeepingRetryPolicy } from './retry-policies.js';
import {
  HeraldDeliveryStatus,
  attemptFailedSignal,
  deliveryAttemptFailedType,
  firstAttemptLocalPatch,
  nonRetryableDeliveryFailures,
  progressQuery,
  type AttemptFailedDetails,
  type AttemptFailedReport,
  type AttemptInput,
  type AttemptOutcome,
  type DeliveryProgress,
  type DeliveryStatus,
  type DeliveryWorkflowInput,
} from './contracts.js';

const { finishFailedDelivery } = proxyActivities<HeraldActivities>({ startToCloseTimeout: '1m', retry: bookkeepingRetryPolicy });

/** The endpoint's schedule as a Temporal retry policy: failed attempts name their own nextRetryDelay. */
const attemptActivity = (maximumAttempts: number) =>
  proxyActivities<HeraldActivities>({
    // Endpoint timeouts are at most 30 s; the margin covers loading, signing and recording.
    startToCloseTimeout: '60s',
    heartbeatTimeout: '10s',
    retry: {
      maximumAttempts,
      // Used only when a retry follows a crash or timeout rather than an attempt's own nextRetryDelay.
      initialInterval: '1s',
      backoffCoefficient: 1,
      nonRetryableErrorTypes: Object.values(nonRetryableDeliveryFailures),
    },
  }).attemptDelivery;

/**
 * The first attempt runs as a local activity inside the workflow's first task, so a delivery that succeeds at
 * once costs Temporal one workflow task and no activity task (the bench measures what that is worth). It is
 * tried once: a failure moves on to the regular activity and its retry policy.
 */
const firstAttemptActivity = proxyLocalActivities<HeraldActivities>({
  startToCloseTimeout: '60s',
  retry: { maximumAttempts: 1 },
}).attemptDelivery;

/**
 * One delivery: an (event, endpoint) pair. The first attempt is local; retries run as one activity under a
 * Temporal retry policy that encodes the endpoint's schedule (each failure names its own nextRetryDelay), so
 * the history holds one marker and at most one activity however many retries it takes, plus one `attemptFailed`
 * signal per retry (the activity's report, which keeps the progress query live between retries).
 */
export async function deliveryWorkflow(input: DeliveryWorkflowInput): Promise<DeliveryProgress> {
  const progress: DeliveryProgress = {
    status: 'delivering',
    attempt: 0,
    max_attempts: input.maxAttempts,
    next_attempt_at: null,
    last_status_code: null,
    last_error: null,
    failure_reason: null,
  };
  const recordFailedAttempt = (report: AttemptFailedReport) => {
    // Reports may arrive late or twice; only a newer attempt moves progress forward.
    if (report.attempt < progress.attempt || progress.status === 'delivered' || progress.status === 'failed') return;
    Object.assign(progress, {
      status: 'retrying',
      attempt: report.attempt,
      next_attempt_at: report.next_attempt_at,
      last_status_code: report.status_code,
      last_error: report.error,
    });
    setStatus('retrying');
  };
  setHandler(progressQuery, () => progress);
  setHandler(attemptFailedSignal, recordFailedAttempt);

  // The starter sets HeraldDeliveryStatus to delivering: no upsert (one visibility write) needed here.

  try {
    const attempt: AttemptInput = { deliveryId: input.deliveryId, maxAttempts: input.maxAttempts, attemptsBefore: 0 };
    let outcome: AttemptOutcome | undefined;
    if (patched(firstAttemptLocalPatch)) {
      try {
        outcome = await firstAttemptActivity(attempt);
      } catch (error) {
        const failure = error instanceof ActivityFailure ? error.cause : error;
        if (failure instanceof ApplicationFailure && failure.nonRetryable) throw error;
        const details = failure instanceof ApplicationFailure && failure.type === deliveryAttemptFailedType ? (failure.details as AttemptFailedDetails) : undefined;
        // Usually 1; more when a crashed first attempt was counted as interrupted.
        attempt.attemptsBefore = details?.[0].attempt ?? 1;
        if (details) recordFailedAttempt(details[0]);
        // The delay the attempt chose (as Temporal's retry policy would wait it), from now: the attempt's end.
        // Without one the attempt crashed or timed out: retry after a second, as the retry policy would.
        await sleep(details ? Math.max(1, details[1]) : 1000);
      }
    }
    // At least 1: Temporal reads 0 as unlimited (the activity itself refuses attempts past the budget).
    outcome ??= await attemptActivity(Math.max(1, input.maxAttempts - attempt.attemptsBefore!))(attempt);
    Object.assign(progress, { status: 'delivered', attempt: outcome.attempt, next_attempt_at: null, last_status_code: outcome.status_code, last_error: null });
    setStatus('delivered');
  } catch (error) {
    const failure = error instanceof ActivityFailure ? error.cause : error;
    const type = failure instanceof ApplicationFailure ? failure.type : undefined;
    const reason =
      type === nonRetryableDeliveryFailures.endpointDisabled
        ? 'endpoint_disabled'
        : type === nonRetryableDeliveryFailures.endpointGone
          ? 'endpoint_gone'
          : type === nonRetryableDeliveryFailures.deliveryNotFound
            ? 'delivery_not_found'
            : 'retries_exhausted';
    const finished = await finishFailedDelivery({ deliveryId: input.deliveryId, reason });
    Object.assign(progress, {
      status: 'failed',
      attempt: finished.attempts,
      next_attempt_at: null,
      last_status_code: finished.last_status_code,
      last_error: finished.last_error,
      failure_reason: reason,
    });
    setStatus('failed');
  }
  return progress;
}

function setStatus(status: DeliveryStatus) {
  upsertSearchAttributes([{ key: HeraldDeliveryStatus, value: status }]);
}
