import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  isCancellation,
  patched,
  proxyActivities,
  proxyLocalActivities,
  setCurrentDetails,
  setHandler,
  sleep,
  upsertSearchAttributes,
} from '@temporalio/workflow';
import type { HeraldActivities } from '../activities/index.js';
import { bookkeepingRetryPolicy } from './retry-policies.js';
import {
  HeraldDeliveryStatus,
  attemptFailedSignal,
  deliveryAttemptFailedType,
  deliveryFailureTypes,
  failedClosesFailedPatch,
  firstAttemptLocalPatch,
  nonRetryableDeliveryFailures,
  progressQuery,
  type AttemptFailedDetails,
  type AttemptFailedReport,
  type AttemptInput,
  type AttemptOutcome,
  type DeliveryFailureReason,
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
 *
 * A delivery that ends failed closes its workflow as Failed, with a non-retryable ApplicationFailure of a
 * deliveryFailureTypes type naming the last error (after finishing the row, the notice and the search attribute);
 * a delivered one completes with its progress. The workflow's current details (the Web UI's "Current details") say
 * where it stands while it waits for a retry; they live in the workflow's memory, not in its history.
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
    setCurrentDetails(`attempt ${report.attempt} of ${input.maxAttempts} failed (${report.error}); next at ${clockTime(report.next_attempt_at)}`);
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
    setCurrentDetails(`delivered at attempt ${outcome.attempt} of ${input.maxAttempts}`);
  } catch (error) {
    // Before finishing: a cancelled delivery finishes outside its cancelled scope, which histories from before the
    // patch never did (they replay the old way: no marker, Completed, and a cancellation taken for exhausted retries).
    const closesFailed = patched(failedClosesFailedPatch);
    const failure = error instanceof ActivityFailure ? error.cause : error;
    const type = failure instanceof ApplicationFailure ? failure.type : undefined;
    const reason: DeliveryFailureReason =
      closesFailed && isCancellation(error)
        ? 'cancelled'
        : type === nonRetryableDeliveryFailures.endpointDisabled
          ? 'endpoint_disabled'
          : type === nonRetryableDeliveryFailures.endpointGone
            ? 'endpoint_gone'
            : type === nonRetryableDeliveryFailures.deliveryNotFound
              ? 'delivery_not_found'
              : 'retries_exhausted';
    const finish = () => finishFailedDelivery({ deliveryId: input.deliveryId, reason });
    const finished = reason === 'cancelled' ? await CancellationScope.nonCancellable(finish) : await finish();
    Object.assign(progress, {
      status: 'failed',
      attempt: finished.attempts,
      next_attempt_at: null,
      last_status_code: finished.last_status_code,
      last_error: finished.last_error,
      failure_reason: reason,
    });
    setStatus('failed');
    if (closesFailed) {
      const failureMessage = failure instanceof Error ? failure.message : String(failure);
      // Exhausted retries are best named by the last attempt's error; the other reasons by their own failure.
      const lastError = reason === 'retries_exhausted' ? (finished.last_error ?? failureMessage) : failureMessage;
      const message = `delivery ${input.deliveryId} failed after ${finished.attempts} attempt${finished.attempts === 1 ? '' : 's'}: ${lastError}`;
      setCurrentDetails(message);
      // Non-retryable: the delivery has ended (the row says so); a workflow retry would only fail again.
      throw ApplicationFailure.create({ type: deliveryFailureTypes[reason], message, nonRetryable: true, details: [progress] });
    }
  }
  return progress;
}

/** `12:04:05Z` today (workflow time), `2026-12-04 12:04:05Z` on another day. */
function clockTime(iso: string): string {
  const time = `${iso.slice(11, 19)}Z`;
  return iso.slice(0, 10) === new Date().toISOString().slice(0, 10) ? time : `${iso.slice(0, 10)} ${time}`;
}

function setStatus(status: DeliveryStatus) {
  upsertSearchAttributes([{ key: HeraldDeliveryStatus, value: status }]);
}
