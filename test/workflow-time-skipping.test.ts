import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure, Context } from '@temporalio/activity';
import proto from '@temporalio/proto';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { WorkflowFailedError } from '@temporalio/client';
import type { HeraldActivities } from '../activities/index.js';
import {
  attemptFailedHealthSignal,
  attemptSucceededSignal,
  deliveryAttemptFailedType,
  deliveryWorkflowId,
  endpointHealthWorkflowId,
  healthQuery,
  progressQuery,
  workflowTypes,
  type AttemptFailedDetails,
  type AttemptFailedReport,
  type AttemptInput,
  type AttemptOutcome,
  type AttemptReport,
  type DeliveryProgress,
  type DeliveryWorkflow,
  type EndpointHealth,
  type EndpointHealthWorkflow,
} from '../workflows/contracts.js';
import { nextRetryDelayMs, retryDelaysMs, type RetrySchedule } from '../src/core/retry-schedule.js';
import { healthRules } from '../src/core/health-rules.js';
import { endpointDefaults } from '../src/core/endpoint-defaults.js';
import { createTimeSkippingWorker, startTimeSkippingEnvironment, timeSkippingUnavailable } from './helpers/time-skipping.js';

/**
 * The real workflows (the run's workflow bundle) with mocked activities on Temporal's time-skipping test server:
 * a retry schedule of hours runs in seconds, and a signal storm runs against continue-as-new without a database.
 */

if (timeSkippingUnavailable) console.warn(`workflow tests in a time-skipping environment are skipped: ${timeSkippingUnavailable}`);

const hour = 3_600_000;
const uniqueId = (prefix: string) => `${prefix}-${randomBytes(5).toString('hex')}`;

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms${last ? ` (${(last as Error).message})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe.skipIf(timeSkippingUnavailable)('workflows in a time-skipping environment (Java test server)', () => {
  let env: TestWorkflowEnvironment;

  beforeAll(async () => {
    env = await startTimeSkippingEnvironment();
    // The first run on a machine installs the server with Maven (about a minute); later runs start it in under a second.
  }, 600_000);
  afterAll(async () => {
    await env?.teardown();
  });

  /**
   * A receiver that answers attempts as scripted, through mocks of the delivery activities that number attempts, fail
   * and close as activities/delivery.ts does for the delivery loop (deliveryLoopPatch): every attempt is numbered from
   * the attempt log (here: the attempts made so far), a retryable failure carries [report, delay] as details, and the
   * workflow closes through closeDelivery, which finishes a failed delivery.
   */
  function scriptedDelivery(schedule: RetrySchedule, answers: ('fails' | 'accepts')[]) {
    const delays = retryDelaysMs(schedule);
    const attempts: { attempt: number; local: boolean; at: number }[] = [];
    const finished: { deliveryId: string; reason: string }[] = [];
    const activities: Pick<HeraldActivities, 'attemptDelivery' | 'closeDelivery'> = {
      async attemptDelivery(input: AttemptInput): Promise<AttemptOutcome> {
        const context = Context.current();
        const attempt = attempts.length + 1;
        const at = await env.currentTimeMs();
        attempts.push({ attempt, local: context.info.isLocal, at });
        if (answers[attempt - 1] === 'accepts') return { attempt, status_code: 200, max_attempts: input.maxAttempts };
        const message = `attempt ${attempt} failed: HTTP 500`;
        const delayMs = attempt >= input.maxAttempts ? undefined : nextRetryDelayMs(delays, attempt, { jitter: false });
        if (delayMs === undefined) throw ApplicationFailure.create({ message, type: deliveryAttemptFailedType, nonRetryable: true });
        const report: AttemptFailedReport = { attempt, status_code: 500, error: 'HTTP 500', next_attempt_at: new Date(at + delayMs).toISOString(), max_attempts: input.maxAttempts };
        const details: AttemptFailedDetails = [report, delayMs];
        throw ApplicationFailure.create({ message, type: deliveryAttemptFailedType, nextRetryDelay: delayMs, details });
      },
      async closeDelivery(input) {
        if (!input.reason) return { send_again: false };
        finished.push({ deliveryId: input.deliveryId, reason: input.reason });
        return { send_again: false, finished: { attempts: attempts.length, last_status_code: 500, last_error: 'HTTP 500' } };
      },
    };
    return { activities, attempts, finished };
  }

  it('the delivery workflow retries an endpoint scheduled ["1s", "10h"] after 1 s and after 10 h, then marks the delivery failed, in seconds', async () => {
    const schedule = ['1s', '10h'];
    const receiver = scriptedDelivery(schedule, ['fails', 'fails', 'fails']);
    const taskQueue = uniqueId('time-skipping-delivery');
    const deliveryId = uniqueId('dlv');
    const worker = await createTimeSkippingWorker(env, { taskQueue, activities: receiver.activities });
    const realStart = Date.now();

    const { closed, waiting } = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start<DeliveryWorkflow>(workflowTypes.delivery, {
        workflowId: deliveryWorkflowId(deliveryId),
        taskQueue,
        args: [{ deliveryId, maxAttempts: 1 + schedule.length }],
      });
      // Two seconds of test time: the first attempt, its 1 s wait and the second attempt; not the 10 h after it.
      await env.sleep(2_000);
      const waiting = await eventually('the second attempt reported', async () => {
        const current = await handle.query(progressQuery);
        return current.attempt === 2 ? current : undefined;
      });
      // Awaiting the result lets the server skip the 10 h. A failed delivery closes its workflow as Failed.
      const closed = await handle.result().then(
        () => undefined,
        (error: unknown) => error,
      );
      return { waiting, closed };
    });

    expect(receiver.attempts.map(({ attempt, local }) => ({ attempt, local }))).toEqual([
      { attempt: 1, local: true },
      { attempt: 2, local: false },
      { attempt: 3, local: false },
    ]);
    const [first, second, third] = receiver.attempts.map(({ at }) => at) as [number, number, number];
    // The waits run from the end of the attempt before: at least the scheduled delay, and not much more.
    expect(second - first).toBeGreaterThanOrEqual(1_000);
    expect(second - first).toBeLessThan(1_000 + 5_000);
    expect(third - second).toBeGreaterThanOrEqual(10 * hour);
    expect(third - second).toBeLessThan(10 * hour + 30_000);

    expect(waiting).toMatchObject({ status: 'retrying', attempt: 2, last_status_code: 500, next_attempt_at: new Date(second + 10 * hour).toISOString() });
    expect(closed).toBeInstanceOf(WorkflowFailedError);
    const failure = (closed as WorkflowFailedError).cause;
    expect(failure).toBeInstanceOf(ApplicationFailure);
    expect(failure).toMatchObject({ type: 'RetriesExhausted', nonRetryable: true, message: `delivery ${deliveryId} failed after 3 attempts: HTTP 500` });
    // The failure's details are the delivery's final progress.
    expect((failure as ApplicationFailure).details?.[0]).toEqual<DeliveryProgress>({
      status: 'failed',
      attempt: 3,
      max_attempts: 3,
      next_attempt_at: null,
      last_status_code: 500,
      last_error: 'HTTP 500',
      failure_reason: 'retries_exhausted',
    });
    expect(receiver.finished).toEqual([{ deliveryId, reason: 'retries_exhausted' }]);
    // Ten hours of schedule in (much) less than a minute of real time.
    expect(Date.now() - realStart).toBeLessThan(30_000);
  });

  it('a delivery cancelled while it waits for a retry finishes failed (cancelled) and closes Failed (Cancelled); its current details said what it waited for', async () => {
    const schedule = ['10h'];
    const receiver = scriptedDelivery(schedule, ['fails', 'fails']);
    const taskQueue = uniqueId('time-skipping-delivery');
    const deliveryId = uniqueId('dlv');
    const worker = await createTimeSkippingWorker(env, { taskQueue, activities: receiver.activities });

    const { details, closed } = await worker.runUntil(async () => {
      const handle = await env.client.workflow.start<DeliveryWorkflow>(workflowTypes.delivery, {
        workflowId: deliveryWorkflowId(deliveryId),
        taskQueue,
        args: [{ deliveryId, maxAttempts: 1 + schedule.length }],
      });
      const details = await eventually('the retry wait in the current details', async () => {
        const { currentDetails } = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
        return currentDetails || undefined;
      });
      await handle.cancel();
      return { details, closed: await handle.result().then(() => undefined, (error: unknown) => error) };
    });

    expect(details).toMatch(/^attempt 1 of 2 failed \(HTTP 500\); next at (\d{4}-\d\d-\d\d )?\d\d:\d\d:\d\dZ$/);
    expect(receiver.attempts).toHaveLength(1);
    expect(receiver.finished).toEqual([{ deliveryId, reason: 'cancelled' }]);
    expect(closed).toBeInstanceOf(WorkflowFailedError);
    expect((closed as WorkflowFailedError).cause).toMatchObject({ type: 'Cancelled', nonRetryable: true });
  });

  it('a delivery whose second attempt succeeds is delivered 1 s after its failed first attempt and never marked failed', async () => {
    const schedule = ['1s', '10h'];
    const receiver = scriptedDelivery(schedule, ['fails', 'accepts']);
    const taskQueue = uniqueId('time-skipping-delivery');
    const deliveryId = uniqueId('dlv');
    const worker = await createTimeSkippingWorker(env, { taskQueue, activities: receiver.activities });

    const progress = await worker.runUntil(
      env.client.workflow.execute<DeliveryWorkflow>(workflowTypes.delivery, {
        workflowId: deliveryWorkflowId(deliveryId),
        taskQueue,
        args: [{ deliveryId, maxAttempts: 1 + schedule.length }],
      }),
    );

    expect(receiver.attempts.map(({ attempt, local }) => ({ attempt, local }))).toEqual([
      { attempt: 1, local: true },
      { attempt: 2, local: false },
    ]);
    const [first, second] = receiver.attempts.map(({ at }) => at) as [number, number];
    expect(second - first).toBeGreaterThanOrEqual(1_000);
    expect(second - first).toBeLessThan(1_000 + 5_000);
    expect(progress).toEqual<DeliveryProgress>({
      status: 'delivered',
      attempt: 2,
      max_attempts: 3,
      next_attempt_at: null,
      last_status_code: 200,
      last_error: null,
      failure_reason: null,
    });
    expect(receiver.finished).toEqual([]);
  });

  it('the endpoint health workflow continues as new through a storm of hundreds of reports, loses none, counts a duplicate once and deactivates the endpoint exactly once', async () => {
    const endpointId = uniqueId('ep');
    const tenantId = uniqueId('tn');
    const workflowId = endpointHealthWorkflowId(endpointId);
    const taskQueue = uniqueId('time-skipping-health');
    const maxReportsPerRun = 10;
    const stormWave = 25;

    const deactivations: Parameters<HeraldActivities['deactivateEndpoint']>[0][] = [];
    const cleared: Parameters<HeraldActivities['clearHealthAttention']>[0][] = [];
    const activities: Pick<HeraldActivities, 'deactivateEndpoint' | 'clearHealthAttention'> = {
      async deactivateEndpoint(input) {
        deactivations.push(input);
      },
      async clearHealthAttention(input) {
        cleared.push(input);
      },
    };

    // 300 reports of 4 failures and a success (never 10 failures in a row: the endpoint stays active), then 15
    // failures in a row (the 10th trips the default threshold). Each is a distinct (delivery, attempt), one second apart.
    const base = Date.parse('2026-01-01T00:00:00.000Z');
    const reports: { succeeded: boolean; report: AttemptReport }[] = [];
    const report = (succeeded: boolean) => {
      const n = reports.length;
      reports.push({
        succeeded,
        report: {
          delivery_id: `dlv-${n}`,
          attempt: 1,
          at: new Date(base + n * 1000).toISOString(),
          status_code: succeeded ? 200 : 500,
          error_class: succeeded ? null : 'http_status',
          error: succeeded ? null : `HTTP 500 (report ${n})`,
          disable_after_failures: endpointDefaults.disableAfterFailures,
          disable_after_ms: null,
        },
      });
    };
    for (let group = 0; group < 60; group++) {
      for (let failure = 0; failure < 4; failure++) report(false);
      report(true);
    }
    const stormEnd = reports.length;
    for (let failure = 0; failure < 15; failure++) report(false);
    // Every tenth report of the first part is reported again five reports later (a retried report): counted once.
    const sent: (typeof reports)[number][] = [];
    reports.forEach((entry, index) => {
      sent.push(entry);
      if (index < stormEnd && index >= 10 && index % 10 === 0) sent.push(reports[index - 5]!);
    });
    const successes = new Set(reports.filter(({ succeeded }) => succeeded).map(({ report }) => report.at));

    const worker = await createTimeSkippingWorker(env, { taskQueue, activities });
    const { firstRunId, health } = await worker.runUntil(async () => {
      let firstRunId: string | undefined;
      // As activities report attempts (activities/health.ts): signal-with-start, in the order the attempts happened, as
      // fast as the server takes them, in waves of more reports than a run handles. Within a wave the run's attempts to
      // continue as new race with the reports still arriving (the server refuses them while signals are pending).
      for (let start = 0; start < sent.length; start += stormWave) {
        let waveRun: string | undefined;
        for (const { succeeded, report } of sent.slice(start, start + stormWave)) {
          const handle = await env.client.workflow.signalWithStart<EndpointHealthWorkflow, [AttemptReport]>(workflowTypes.endpointHealth, {
            workflowId,
            taskQueue,
            args: [{ endpointId, tenantId, maxReportsPerRun }],
            signal: succeeded ? attemptSucceededSignal : attemptFailedHealthSignal,
            signalArgs: [report],
          });
          waveRun ??= handle.signaledRunId;
        }
        firstRunId ??= waveRun;
        // A run that got more than maxReportsPerRun reports continues as new once the wave is over.
        await eventually(`a new run after reports ${start}..${start + stormWave - 1}`, async () =>
          (await env.client.workflow.getHandle(workflowId).describe()).runId !== waveRun ? true : undefined,
        );
      }
      const last = reports.at(-1)!.report;
      const health = await eventually('the last report counted', async () => {
        const current = await env.client.workflow.getHandle(workflowId).query(healthQuery);
        return current.last_failure_at === last.at ? current : undefined;
      });
      await eventually('the deactivation', async () => (deactivations.length > 0 ? true : undefined));
      return { firstRunId: firstRunId!, health };
    });

    // Nothing lost, the duplicates not counted: 15 failures in a row, and the window holds the last 100 distinct
    // reports (the 15 failures and 85 of the first part, of which 17 successes).
    expect(health).toEqual<EndpointHealth>({
      status: 'disabled',
      colour: 'red',
      consecutive_failures: 15,
      last_success_at: reports[stormEnd - 1]!.report.at,
      last_failure_at: reports.at(-1)!.report.at,
      last_error: reports.at(-1)!.report.error!,
      failing_since: reports[stormEnd]!.report.at,
      disabled_reason: 'consecutive_failures',
      window: { attempts: healthRules.windowSize, successes: 17 },
    });
    expect(deactivations).toHaveLength(1);
    expect(deactivations[0]).toMatchObject({ endpointId, tenantId, reason: 'consecutive_failures' });
    // When the streak reached the threshold: in the last part (reports of the same workflow task may have joined it).
    expect(deactivations[0]!.consecutiveFailures).toBeGreaterThanOrEqual(endpointDefaults.disableAfterFailures);
    expect(reports.slice(stormEnd).map(({ report }) => report.error)).toContain(deactivations[0]!.lastError);
    // Ended streaks clear the attention flag (successes that arrive together may share one call).
    expect(cleared.length).toBeGreaterThan(0);
    expect(cleared.length).toBeLessThanOrEqual(successes.size);
    for (const call of cleared) {
      expect(call.endpointId).toBe(endpointId);
      expect(successes.has(call.before)).toBe(true);
    }

    // The chain of runs, first to current: every signal is in exactly one run's history, the endpoint was deactivated
    // by exactly one activity in all of them, and the workflow continued as new many times.
    const runs: string[] = [];
    let signals = 0;
    let deactivationsScheduled = 0;
    /** Workflow tasks the server refused because reports arrived while they completed (e.g. with continue-as-new). */
    let refused = 0;
    for (let runId: string | undefined = firstRunId; runId; ) {
      runs.push(runId);
      const history = await env.client.workflow.getHandle(workflowId, runId).fetchHistory();
      let next: string | undefined;
      for (const event of history.events ?? []) {
        if (event.workflowExecutionSignaledEventAttributes) signals++;
        if (event.workflowTaskFailedEventAttributes?.cause === proto.temporal.api.enums.v1.WorkflowTaskFailedCause.WORKFLOW_TASK_FAILED_CAUSE_UNHANDLED_COMMAND) refused++;
        if (event.activityTaskScheduledEventAttributes?.activityType?.name === 'deactivateEndpoint') deactivationsScheduled++;
        next = event.workflowExecutionContinuedAsNewEventAttributes?.newExecutionRunId ?? next;
      }
      runId = next ?? undefined;
    }
    const current = await env.client.workflow.getHandle(workflowId).describe();
    expect(current.status.name).toBe('RUNNING');
    expect(current.runId).toBe(runs.at(-1));
    expect(current.runId).not.toBe(firstRunId);
    expect(runs.length).toBeGreaterThan(Math.floor(sent.length / stormWave));
    expect(runs.length).toBeLessThanOrEqual(Math.ceil(reports.length / maxReportsPerRun) + 1);
    expect(signals).toBe(sent.length);
    expect(deactivationsScheduled).toBe(1);
    console.log(`health storm: ${sent.length} signals (${sent.length - reports.length} duplicates) over ${runs.length} runs; ${refused} workflow tasks refused for reports that arrived meanwhile`);

    await env.client.workflow.getHandle(workflowId).terminate('test over');
  });
});
