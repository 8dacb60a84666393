import { allHandlersFinished, condition, continueAsNew, defineQuery, defineSignal, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { HeraldActivities } from '../activities/index.js';
import { bookkeepingRetryPolicy } from './retry-policies.js';

/**
 * One long-running workflow per endpoint counts consecutive failed attempts across all of its
 * deliveries and deactivates the endpoint when a rule trips (samples-typescript: safe-message-handlers).
 */

export interface AttemptReport {
  delivery_id: string;
  attempt: number;
  at: string;
  status_code?: number | null;
  error_class?: string | null;
  error?: string | null;
  /** The endpoint's current rules travel with every report, so a changed setting applies at once. */
  disable_after_failures?: number;
  disable_after_ms?: number | null;
}

export interface HealthSettings {
  disable_after_failures: number;
  disable_after_ms: number | null;
}

export type HealthStatus = 'healthy' | 'degraded' | 'failing' | 'disabled';
export type HealthColour = 'green' | 'yellow' | 'red';

export interface EndpointHealth {
  status: HealthStatus;
  colour: HealthColour;
  consecutive_failures: number;
  last_success_at: string | null;
  last_failure_at: string | null;
  last_error: string | null;
  failing_since: string | null;
  disabled_reason: string | null;
  window: { attempts: number; successes: number };
}

export const attemptSucceededSignal = defineSignal<[AttemptReport]>('attemptSucceeded');
export const attemptFailedHealthSignal = defineSignal<[AttemptReport]>('attemptFailed');
export const endpointEnabledSignal = defineSignal('enabled');
export const endpointDisabledSignal = defineSignal<[{ reason: string }]>('disabled');
export const settingsChangedSignal = defineSignal<[HealthSettings]>('settingsChanged');
export const healthQuery = defineQuery<EndpointHealth>('health');

export const endpointHealthWorkflowId = (endpointId: string) => `endpoint-health-${endpointId}`;

/** The thresholds behind the colours, in one place (README: "Endpoint health"). */
export const healthRules = {
  defaultDisableAfterFailures: 10,
  /** Outcomes remembered for the success-rate window of the query. */
  windowSize: 100,
  /** (delivery, attempt) pairs remembered to drop duplicate reports. */
  dedupSize: 1000,
};

export interface HealthState extends HealthSettings {
  consecutive_failures: number;
  last_success_at: string | null;
  last_failure_at: string | null;
  last_error: string | null;
  failing_since: string | null;
  disabled: boolean;
  disabled_reason: string | null;
  /** Recent outcomes, oldest first: 1 success, 0 failure. */
  window: number[];
  seen: string[];
}

export interface EndpointHealthInput {
  endpointId: string;
  tenantId: string;
  state?: HealthState;
  /** Reports handled before continuing as new; small in tests, large in production. */
  maxReportsPerRun?: number;
}

/**
 * The colours, in one place. green = healthy: no failed attempt recently. yellow = degraded: some
 * recent failures, but fewer in a row than half the threshold. red = failing (at least half the
 * threshold in a row) or disabled. "Recently" is the workflow's window of reports, or the attempt
 * log's last 24 h when the API asks.
 */
export function classifyHealth(input: { disabled: boolean; consecutive_failures: number; disable_after_failures: number; recent_failures: number }): { status: HealthStatus; colour: HealthColour } {
  if (input.disabled) return { status: 'disabled', colour: 'red' };
  if (input.consecutive_failures > 0 && input.consecutive_failures >= Math.ceil(input.disable_after_failures / 2)) return { status: 'failing', colour: 'red' };
  if (input.consecutive_failures > 0 || input.recent_failures > 0) return { status: 'degraded', colour: 'yellow' };
  return { status: 'healthy', colour: 'green' };
}

export function initialHealthState(settings: Partial<HealthSettings> = {}): HealthState {
  return {
    disable_after_failures: settings.disable_after_failures ?? healthRules.defaultDisableAfterFailures,
    disable_after_ms: settings.disable_after_ms ?? null,
    consecutive_failures: 0,
    last_success_at: null,
    last_failure_at: null,
    last_error: null,
    failing_since: null,
    disabled: false,
    disabled_reason: null,
    window: [],
    seen: [],
  };
}

const { deactivateEndpoint, clearHealthAttention } = proxyActivities<HeraldActivities>({ startToCloseTimeout: '1m', retry: bookkeepingRetryPolicy });

export async function endpointHealthWorkflow(input: EndpointHealthInput): Promise<void> {
  const state = input.state ?? initialHealthState();
  const maxReports = input.maxReportsPerRun ?? 5000;
  let reports = 0;
  let pendingDeactivation: { reason: string } | undefined;
  /** Set when the failure streak ended: failures recorded before this instant no longer need attention. */
  let streakEndedAt: string | undefined;

  const remember = (report: AttemptReport): boolean => {
    const key = `${report.delivery_id}#${report.attempt}`;
    if (state.seen.includes(key)) return false;
    state.seen.push(key);
    if (state.seen.length > healthRules.dedupSize) state.seen.shift();
    reports++;
    if (report.disable_after_failures !== undefined) state.disable_after_failures = report.disable_after_failures;
    if (report.disable_after_ms !== undefined) state.disable_after_ms = report.disable_after_ms;
    return true;
  };
  const record = (outcome: 0 | 1) => {
    state.window.push(outcome);
    if (state.window.length > healthRules.windowSize) state.window.shift();
  };

  setHandler(attemptSucceededSignal, (report) => {
    if (!remember(report)) return;
    record(1);
    if (!state.last_success_at || report.at > state.last_success_at) state.last_success_at = report.at;
    // A success older than the newest failure arrived late: it does not break the newer failure run.
    if (state.last_failure_at && report.at < state.last_failure_at) return;
    state.consecutive_failures = 0;
    state.failing_since = null;
    streakEndedAt = report.at;
  });

  setHandler(attemptFailedHealthSignal, (report) => {
    if (!remember(report)) return;
    record(0);
    if (!state.last_failure_at || report.at > state.last_failure_at) {
      state.last_failure_at = report.at;
      state.last_error = report.error ?? report.error_class ?? null;
    }
    // A failure older than the newest success arrived late: the endpoint has worked since.
    if (state.last_success_at && report.at < state.last_success_at) return;
    state.consecutive_failures++;
    state.failing_since ??= report.at;
    if (state.disabled || pendingDeactivation) return;
    if (report.status_code === 410) pendingDeactivation = { reason: 'gone' };
    else if (state.consecutive_failures >= state.disable_after_failures) pendingDeactivation = { reason: 'consecutive_failures' };
    else if (state.disable_after_ms !== null && Date.parse(report.at) - Date.parse(state.failing_since) >= state.disable_after_ms) {
      pendingDeactivation = { reason: 'failing_too_long' };
    }
  });

  setHandler(endpointEnabledSignal, () => {
    Object.assign(state, { disabled: false, disabled_reason: null, consecutive_failures: 0, failing_since: null });
    pendingDeactivation = undefined;
    streakEndedAt = new Date().toISOString();
  });
  setHandler(endpointDisabledSignal, ({ reason }) => {
    Object.assign(state, { disabled: true, disabled_reason: reason });
  });
  setHandler(settingsChangedSignal, (settings) => {
    Object.assign(state, settings);
  });
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

  for (;;) {
    await condition(() => pendingDeactivation !== undefined || streakEndedAt !== undefined || reports >= maxReports || workflowInfo().continueAsNewSuggested);
    if (streakEndedAt !== undefined) {
      const before = streakEndedAt;
      streakEndedAt = undefined;
      // Given up after its retries: the flag stays set, which only means successes keep being reported.
      if (state.consecutive_failures === 0) await clearHealthAttention({ endpointId: input.endpointId, before }).catch(() => {});
      continue;
    }
    if (pendingDeactivation) {
      const { reason } = pendingDeactivation;
      pendingDeactivation = undefined;
      state.disabled = true;
      state.disabled_reason = reason;
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
        Object.assign(state, { disabled: false, disabled_reason: null });
      }
      continue;
    }
    await condition(allHandlersFinished);
    return continueAsNew<typeof endpointHealthWorkflow>({ ...input, state });
  }
}
