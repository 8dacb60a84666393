import { endpointDefaults } from './endpoint-defaults.js';
import type { AttemptReport, HealthColour, HealthSettings, HealthState, HealthStatus } from '../../workflows/contracts.js';

/**
 * Endpoint health rules: pure TypeScript, with no Node or Temporal import, so the endpoint health workflow and the
 * API (src/core/endpoint-health.ts) apply the same ones.
 */

/** The thresholds behind the colours, in one place (README: "Endpoint health"). */
export const healthRules = {
  /** Outcomes remembered for the success-rate window of the query. */
  windowSize: 100,
  /** (delivery, attempt) pairs remembered to drop duplicate reports. */
  dedupSize: 1000,
};

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
    disable_after_failures: settings.disable_after_failures ?? endpointDefaults.disableAfterFailures,
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

/** What happens to an endpoint's health: an attempt's outcome, a change of its activation or of its rules. */
export type HealthEvent =
  | { kind: 'attempt_succeeded'; report: AttemptReport }
  | { kind: 'attempt_failed'; report: AttemptReport }
  /** `now`: the workflow's clock (the streak ends then); `enabledAt`: the row's enabled_at when known. */
  | { kind: 'enabled'; now: string; enabledAt?: string }
  | { kind: 'disabled'; reason: string; now: string; disabledAt?: string }
  | { kind: 'settings_changed'; settings: HealthSettings };

export type DeactivationReason = 'gone' | 'consecutive_failures' | 'failing_too_long';

/** What the health workflow must do about an event: deactivate the endpoint, or note that a failure streak ended. */
export type HealthAction = { kind: 'deactivate'; reason: DeactivationReason } | { kind: 'streak_ended'; at: string };

export interface HealthEvaluation {
  state: HealthState;
  actions: HealthAction[];
  /** False for a duplicate report (the same delivery and attempt twice), which changes nothing. */
  counted: boolean;
}

export interface HealthRuleOptions {
  /**
   * Whether a report made after a re-enable the workflow missed (its endpoint_enabled_at is newer than the workflow's
   * deactivation) re-enables the state before it counts. Off when replaying histories recorded before the rule.
   */
  selfCorrect: boolean;
}

/**
 * The health rules as one pure function: the state after `event`, and what to do about it. Rules:
 * - reports are counted once per (delivery, attempt); the endpoint's current thresholds travel with each report;
 * - a success ends the failure streak, unless it is older than the newest failure (a late report);
 * - a failure extends the streak, unless it is older than the newest success;
 * - the endpoint is deactivated (once) on a 410 Gone, after `disable_after_failures` failures in a row, or when it has
 *   been failing for `disable_after_ms`;
 * - enabling resets the streak; a report newer than a re-enable the workflow missed counts as one (selfCorrect).
 */
export function evaluateHealth(current: HealthState, event: HealthEvent, options: HealthRuleOptions): HealthEvaluation {
  const state: HealthState = { ...current, window: current.window, seen: current.seen };
  const actions: HealthAction[] = [];
  const record = (outcome: 0 | 1) => {
    state.window = [...state.window, outcome].slice(-healthRules.windowSize);
  };

  switch (event.kind) {
    case 'settings_changed':
      Object.assign(state, event.settings);
      return { state, actions, counted: true };
    case 'enabled':
      Object.assign(state, { disabled: false, disabled_reason: null, disabled_since: null, consecutive_failures: 0, failing_since: null });
      return { state, actions: [{ kind: 'streak_ended', at: event.now }], counted: true };
    case 'disabled':
      Object.assign(state, { disabled: true, disabled_reason: event.reason, disabled_since: event.disabledAt ?? event.now });
      return { state, actions, counted: true };
  }

  const report = event.report;
  const key = `${report.delivery_id}#${report.attempt}`;
  if (state.seen.includes(key)) return { state: current, actions, counted: false };
  state.seen = [...state.seen, key].slice(-healthRules.dedupSize);
  if (report.disable_after_failures !== undefined) state.disable_after_failures = report.disable_after_failures;
  if (report.disable_after_ms !== undefined) state.disable_after_ms = report.disable_after_ms;

  const reEnabledSinceDeactivation =
    options.selfCorrect && state.disabled && !!report.endpoint_enabled_at && (!state.disabled_since || report.endpoint_enabled_at > state.disabled_since);
  if (reEnabledSinceDeactivation) {
    Object.assign(state, { disabled: false, disabled_reason: null, disabled_since: null, consecutive_failures: 0, failing_since: null });
  }

  if (event.kind === 'attempt_succeeded') {
    record(1);
    if (!state.last_success_at || report.at > state.last_success_at) state.last_success_at = report.at;
    // A success older than the newest failure arrived late: it does not break the newer failure run.
    if (state.last_failure_at && report.at < state.last_failure_at) return { state, actions, counted: true };
    state.consecutive_failures = 0;
    state.failing_since = null;
    return { state, actions: [{ kind: 'streak_ended', at: report.at }], counted: true };
  }

  record(0);
  if (!state.last_failure_at || report.at > state.last_failure_at) {
    state.last_failure_at = report.at;
    state.last_error = report.error ?? report.error_class ?? null;
  }
  // A failure older than the newest success arrived late: the endpoint has worked since.
  if (state.last_success_at && report.at < state.last_success_at) return { state, actions, counted: true };
  state.consecutive_failures++;
  state.failing_since ??= report.at;
  if (state.disabled) return { state, actions, counted: true };
  const reason: DeactivationReason | undefined =
    report.status_code === 410
      ? 'gone'
      : state.consecutive_failures >= state.disable_after_failures
        ? 'consecutive_failures'
        : state.disable_after_ms !== null && Date.parse(report.at) - Date.parse(state.failing_since) >= state.disable_after_ms
          ? 'failing_too_long'
          : undefined;
  if (reason) {
    // Disabled from now on, so later failures do not ask again; the workflow undoes it if the deactivation fails.
    Object.assign(state, { disabled: true, disabled_reason: reason, disabled_since: report.at });
    actions.push({ kind: 'deactivate', reason });
  }
  return { state, actions, counted: true };
}
