import { allHandlersFinished, condition, continueAsNew, patched, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { HeraldActivities } from '../activities/index.js';
import { bookkeepingRetryPolicy } from './retry-policies.js';
import {
  attemptFailedHealthSignal,
  attemptSucceededSignal,
  endpointDisabledSignal,
  endpointEnabledSignal,
  healthQuery,
  settingsChangedSignal,
  healthContinueFirstPatch,
  healthSelfCorrectPatch,
  type EndpointHealthInput,
} from './contracts.js';
import { classifyHealth, evaluateHealth, initialHealthState, type HealthEvent } from '../src/core/health-rules.js';

/**
 * One long-running workflow per endpoint counts consecutive failed attempts across all of its
 * deliveries and deactivates the endpoint when a rule trips (samples-typescript: safe-message-handlers).
 */

const { deactivateEndpoint, clearHealthAttention } = proxyActivities<HeraldActivities>({ startToCloseTimeout: '1m', retry: bookkeepingRetryPolicy });

export async function endpointHealthWorkflow(input: EndpointHealthInput): Promise<void> {
  let state = input.state ?? initialHealthState();
  const maxReports = input.maxReportsPerRun ?? 5000;
  let reports = 0;
  let pendingDeactivation: { reason: string } | undefined;
  /** Set when the failure streak ended: failures recorded before this instant no longer need attention. */
  let streakEndedAt: string | undefined = input.streakEndedAt;

  /** Applies the health rules (src/core/health-rules.ts) to an event and takes note of what they ask for. */
  const apply = (event: HealthEvent) => {
    const evaluation = evaluateHealth(state, event, { selfCorrect: event.kind.startsWith('attempt_') && patched(healthSelfCorrectPatch) });
    if (!evaluation.counted) return;
    state = evaluation.state;
    if (event.kind.startsWith('attempt_')) reports++;
    for (const action of evaluation.actions) {
      if (action.kind === 'streak_ended') streakEndedAt = action.at;
      else pendingDeactivation ??= { reason: action.reason };
    }
  };

  setHandler(attemptSucceededSignal, (report) => apply({ kind: 'attempt_succeeded', report }));
  setHandler(attemptFailedHealthSignal, (report) => apply({ kind: 'attempt_failed', report }));
  setHandler(endpointEnabledSignal, (enabled) => {
    pendingDeactivation = undefined;
    apply({ kind: 'enabled', now: new Date().toISOString(), enabledAt: enabled?.at });
  });
  setHandler(endpointDisabledSignal, ({ reason, at }) => apply({ kind: 'disabled', reason, now: new Date().toISOString(), disabledAt: at }));
  setHandler(settingsChangedSignal, (settings) => apply({ kind: 'settings_changed', settings }));
  setHandler(healthQuery, () => ({
    ...classifyHealth({ ...state, recent_failures: state.window.filter((outcome) => outcome === 0).length }),
    consecutive_failures: state.consecutive_failures,
    last_success_at: state.last_success_at,
    last_failure_at: state.last_failure_at,
    last_error: state.last_error,
    failing_since: state.failing_since,
    disabled_reason: state.disabled_reason,
    window: { attempts: state.window.length, successes: state.window.reduce((sum, outcome) => sum + outcome, 0) },
  }));

  const runIsFull = () => reports >= maxReports || workflowInfo().continueAsNewSuggested;
  for (;;) {
    await condition(() => pendingDeactivation !== undefined || streakEndedAt !== undefined || runIsFull());
    // A full run continues as new before it clears a streak (the next run does): under a steady stream of reports an
    // activity per success would otherwise keep the run busy, and its history growing, for as long as they come.
    const streakWaitsForNextRun = runIsFull() && patched(healthContinueFirstPatch);
    if (streakEndedAt !== undefined && !streakWaitsForNextRun) {
      const before = streakEndedAt;
      streakEndedAt = undefined;
      // Given up after its retries: the flag stays set, which only means successes keep being reported.
      if (state.consecutive_failures === 0) await clearHealthAttention({ endpointId: input.endpointId, before }).catch(() => {});
      continue;
    }
    if (pendingDeactivation) {
      const { reason } = pendingDeactivation;
      pendingDeactivation = undefined;
      try {
        await deactivateEndpoint({
          endpointId: input.endpointId,
          tenantId: input.tenantId,
          reason,
          consecutiveFailures: state.consecutive_failures,
          lastError: state.last_error,
        });
      } catch {
        // Given up after its retries: the endpoint is still active, so the next failure tries again.
        state = { ...state, disabled: false, disabled_reason: null, disabled_since: null };
      }
      continue;
    }
    await condition(allHandlersFinished);
    return continueAsNew<typeof endpointHealthWorkflow>({ ...input, state, streakEndedAt });
  }
}
