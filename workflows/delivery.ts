import {
  ActivityFailure,
  ApplicationFailure,
  CancellationScope,
  allHandlersFinished,
  condition,
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
  deliveryLoopPatch,
  notWaitingForRetry,
  retryNowUpdate,
  type RetryNowOutcome,
  failedClosesFailedPatch,
  firstAttemptLocalPatch,
  templateErrorPatch,
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

/** The delivery loop's closing step (deliveryLoopPatch), local: it runs in the workflow task that closes the workflow. */
const { closeDelivery } = proxyLocalActivities<HeraldActivities>({ startToCloseTimeout: '1m', retry: bookkeepingRetryPolicy });

/** One attempt of the delivery loop (deliveryLoopPatch): tried once, the loop itself waits and tries again. */
const loopAttemptActivity = proxyActivities<HeraldActivities>({
  startToCloseTimeout: '60s',
  heartbeatTimeout: '10s',
  retry: { maximumAttempts: 1 },
}).attemptDelivery;

/**
 * One delivery: an (event, endpoint) pair. The first attempt is local; retries run as one activity under a
 * Temporal retry policy that encodes the endpoint's schedule (each failure names its own nextRetryDelay), so
 * the history holds one marker and at most one activity however many retries it takes, plus one `attemptFailed`
 * signal per retry (the activity's report, which keeps the progress query live between retries). That is how workflows
 * started before the delivery-loop patch go on; newer ones run deliveryLoop below (a timer and one activity per retry,
 * so `retryNow` can cut a wait short, and resets that send again).
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
      max_attempts: report.max_attempts ?? progress.max_attempts,
      next_attempt_at: report.next_attempt_at,
      last_status_code: report.status_code,
      last_error: report.error,
    });
    setStatus('retrying');
    setCurrentDetails(`attempt ${report.attempt} of ${progress.max_attempts} failed (${report.error}); next at ${clockTime(report.next_attempt_at)}`);
  };
  setHandler(progressQuery, () => progress);
  setHandler(attemptFailedSignal, recordFailedAttempt);

  // The delivery loop (deliveryLoopPatch); histories from before it replay the single retry activity below.
  const retry: RetryState = { waiting: false, requested: false, attemptsSeen: 0, last: undefined };
  setHandler(
    retryNowUpdate,
    async () => {
      const seen = retry.attemptsSeen;
      retry.requested = true;
      await condition(() => retry.attemptsSeen > seen);
      if (retry.last!.status !== 'failed') return retry.last!;
      // The last attempt failed, or the delivery ended: answer once the row is finished, with its final state.
      await condition(() => progress.status === 'failed' || progress.status === 'delivered');
      return { attempt: progress.attempt, status_code: progress.last_status_code, status: progress.status, ...(progress.last_error ? { error: progress.last_error } : {}) };
    },
    {
      validator: () => {
        if (retry.waiting) return;
        const why = notWaitingForRetry(input.deliveryId, progress.status);
        // A delivery started before the loop retries under its activity's retry policy: nothing can cut that wait short.
        throw new Error(progress.status === 'retrying' ? `${why} under a retry policy (its workflow started before retryNow existed)` : why);
      },
    },
  );
  if (patched(deliveryLoopPatch)) return deliveryLoop(input, progress, recordFailedAttempt, retry);

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
    const reason = failureReason(error, closesFailed);
    const finished = await finishFailed(input.deliveryId, reason);
    markFailed(progress, finished, reason);
    if (closesFailed) throw closingFailure(input.deliveryId, progress, finished, reason, error);
  }
  return progress;
}

/** What `retryNow` waits on: whether the loop waits for a retry, was asked to stop waiting, and the attempts it saw. */
interface RetryState {
  waiting: boolean;
  requested: boolean;
  attemptsSeen: number;
  last: RetryNowOutcome | undefined;
}

type FinishedDelivery = Awaited<ReturnType<typeof finishFailedDelivery>>;

/**
 * The delivery loop (deliveryLoopPatch). Each attempt is one activity (the first a local one) whose number, budget and
 * schedule come from the row; a failed attempt that will be retried is followed by a timer for its delay, which
 * `retryNow` cuts short. Per retry the history holds a timer and an activity, and no signal: the workflow sees
 * each failure itself.
 *
 * Resets: each attempt claims the delivery for this workflow run, and a reset run's first claim reopens it (activities:
 * claimForRun). A run reset to a point after the delivery ended has inherited the outcome it closes with; so a
 * workflow closes through closeDelivery, a local activity in its last workflow task, which a reset always runs again:
 * it answers `send_again` (the row reopened for this run) when another run owns the delivery and this run is a reset,
 * and the loop sends again. Local first attempts need no such check: their outcome is recorded in that same task.
 */
async function deliveryLoop(
  input: DeliveryWorkflowInput,
  progress: DeliveryProgress,
  recordFailedAttempt: (report: AttemptFailedReport) => void,
  retry: RetryState,
): Promise<DeliveryProgress> {
  const made = (result: { attempt?: number; status_code: number | null }, status: DeliveryStatus, error?: string) => {
    retry.last = { attempt: result.attempt ?? progress.attempt, status_code: result.status_code, status, ...(error ? { error } : {}) };
    retry.attemptsSeen++;
  };
  /** The series' outcome, and whether it came from the local first attempt. */
  const series = async (): Promise<{ outcome: AttemptOutcome; local: boolean }> => {
    for (let local = true; ; local = false) {
      const attempt: AttemptInput = { deliveryId: input.deliveryId, maxAttempts: progress.max_attempts, loop: true };
      try {
        const outcome = await (local ? firstAttemptActivity : loopAttemptActivity)(attempt);
        made(outcome, 'delivered');
        return { outcome, local };
      } catch (error) {
        const failure = error instanceof ActivityFailure ? error.cause : error;
        const details = failure instanceof ApplicationFailure && failure.type === deliveryAttemptFailedType ? (failure.details as AttemptFailedDetails | undefined) : undefined;
        if (isCancellation(error) || (failure instanceof ApplicationFailure && failure.nonRetryable)) {
          made({ status_code: null }, 'failed', failure instanceof Error ? failure.message : undefined);
          throw error;
        }
        if (details) recordFailedAttempt(details[0]);
        made(details ? details[0] : { status_code: null }, 'retrying', details?.[0].error ?? (failure instanceof Error ? failure.message : undefined));
        // The delay the attempt chose, from its end; an attempt that crashed or timed out is tried again after a second.
        retry.waiting = true;
        await condition(() => retry.requested, details ? Math.max(1, details[1]) : 1000);
        retry.waiting = false;
        retry.requested = false;
      }
    }
  };
  for (;;) {
    let delivered: { outcome: AttemptOutcome; local: boolean } | undefined;
    let error: unknown;
    try {
      delivered = await series();
    } catch (thrown) {
      error = thrown;
    }
    if (delivered) {
      const { outcome } = delivered;
      if (!delivered.local && (await closeDelivery({ deliveryId: input.deliveryId })).send_again) {
        sendAgain(progress);
        continue;
      }
      Object.assign(progress, {
        status: 'delivered',
        attempt: outcome.attempt,
        max_attempts: outcome.max_attempts ?? progress.max_attempts,
        next_attempt_at: null,
        last_status_code: outcome.status_code,
        last_error: null,
      });
      setStatus('delivered');
      setCurrentDetails(`delivered at attempt ${outcome.attempt} of ${progress.max_attempts}`);
      await handlersFinished();
      return progress;
    }
    const reason = failureReason(error, true);
    const close = () => closeDelivery({ deliveryId: input.deliveryId, reason });
    const closed = reason === 'cancelled' ? await CancellationScope.nonCancellable(close) : await close();
    if (closed.send_again) {
      sendAgain(progress);
      continue;
    }
    markFailed(progress, closed.finished!, reason);
    const closing = closingFailure(input.deliveryId, progress, closed.finished!, reason, error);
    await handlersFinished();
    throw closing;
  }
}

/** Waits for a `retryNow` still answering (a cancelled workflow too: its scope would refuse the wait). */
async function handlersFinished() {
  if (!allHandlersFinished()) await CancellationScope.nonCancellable(() => condition(allHandlersFinished));
}

/** A reset run sends a delivery that had ended again: its progress starts over (the attempt's claim reopens the row). */
function sendAgain(progress: DeliveryProgress) {
  Object.assign(progress, { status: 'delivering', next_attempt_at: null, failure_reason: null });
  setStatus('delivering');
  setCurrentDetails('reset: sending again');
}

/** Why a delivery ended failed, from the error that ended its attempts (a cancellation only once failed-closes-failed applies). */
function failureReason(error: unknown, cancellable: boolean): DeliveryFailureReason {
  const failure = error instanceof ActivityFailure ? error.cause : error;
  const type = failure instanceof ApplicationFailure ? failure.type : undefined;
  return cancellable && isCancellation(error)
    ? 'cancelled'
    : type === nonRetryableDeliveryFailures.endpointDisabled
      ? 'endpoint_disabled'
      : type === nonRetryableDeliveryFailures.endpointGone
        ? 'endpoint_gone'
        : type === nonRetryableDeliveryFailures.deliveryNotFound
          ? 'delivery_not_found'
          : // patched only on this path: histories without a template failure never meet it, so they gain no marker.
            type === nonRetryableDeliveryFailures.templateError && patched(templateErrorPatch)
            ? 'template_error'
            : 'retries_exhausted';
}

/** Finishes the row as failed; a cancelled delivery finishes outside its cancelled scope. */
async function finishFailed(deliveryId: string, reason: DeliveryFailureReason): Promise<FinishedDelivery> {
  const finish = () => finishFailedDelivery({ deliveryId, reason });
  return reason === 'cancelled' ? CancellationScope.nonCancellable(finish) : finish();
}

function markFailed(progress: DeliveryProgress, finished: FinishedDelivery, reason: DeliveryFailureReason) {
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

/** The failure a failed delivery's workflow closes with (failed-closes-failed), also set as its current details. */
function closingFailure(deliveryId: string, progress: DeliveryProgress, finished: FinishedDelivery, reason: DeliveryFailureReason, error: unknown): ApplicationFailure {
  const failure = error instanceof ActivityFailure ? error.cause : error;
  const failureMessage = failure instanceof Error ? failure.message : String(failure);
  // Exhausted retries are best named by the last attempt's error; the other reasons by their own failure.
  const lastError = reason === 'retries_exhausted' ? (finished.last_error ?? failureMessage) : failureMessage;
  const message = `delivery ${deliveryId} failed after ${finished.attempts} attempt${finished.attempts === 1 ? '' : 's'}: ${lastError}`;
  setCurrentDetails(message);
  // Non-retryable: the delivery has ended (the row says so); a workflow retry would only fail again.
  return ApplicationFailure.create({ type: deliveryFailureTypes[reason], message, nonRetryable: true, details: [progress] });
}

/** `12:04:05Z` today (workflow time), `2026-12-04 12:04:05Z` on another day. */
function clockTime(iso: string): string {
  const time = `${iso.slice(11, 19)}Z`;
  return iso.slice(0, 10) === new Date().toISOString().slice(0, 10) ? time : `${iso.slice(0, 10)} ${time}`;
}

function setStatus(status: DeliveryStatus) {
  upsertSearchAttributes([{ key: HeraldDeliveryStatus, value: status }]);
}
