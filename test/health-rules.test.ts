import { describe, expect, it } from 'vitest';
import { classifyHealth, evaluateHealth, initialHealthState, type HealthAction, type HealthEvent } from '../src/core/health-rules.js';
import type { AttemptReport, HealthState } from '../workflows/contracts.js';

const at = (second: number) => new Date(Date.UTC(2026, 0, 1, 0, 0, second)).toISOString();
let attemptCounter = 0;
const report = (second: number, extra: Partial<AttemptReport> = {}): AttemptReport => ({ delivery_id: `d${++attemptCounter}`, attempt: 1, at: at(second), ...extra });
const failed = (second: number, extra: Partial<AttemptReport> = {}): HealthEvent => ({ kind: 'attempt_failed', report: report(second, extra) });
const succeeded = (second: number, extra: Partial<AttemptReport> = {}): HealthEvent => ({ kind: 'attempt_succeeded', report: report(second, extra) });

/** Runs events through the rules from a fresh state, collecting every action. */
function run(events: HealthEvent[], options = { selfCorrect: true }, start: HealthState = initialHealthState({ disable_after_failures: 3 })) {
  let state = start;
  const actions: HealthAction[] = [];
  for (const event of events) {
    const evaluation = evaluateHealth(state, event, options);
    state = evaluation.state;
    actions.push(...evaluation.actions);
  }
  return { state, actions, deactivations: actions.filter((action) => action.kind === 'deactivate') };
}

describe('health rules: streaks and deactivation', () => {
  it.each([
    ['2 failures under a threshold of 3 leave it active', [failed(1), failed(2)], 2, []],
    ['3 failures in a row deactivate it once, for consecutive_failures', [failed(1), failed(2), failed(3)], 3, ['consecutive_failures']],
    ['failures after the deactivation still count but ask nothing more', [failed(1), failed(2), failed(3), failed(4), failed(5)], 5, ['consecutive_failures']],
    ['a success ends the streak', [failed(1), failed(2), succeeded(3), failed(4), failed(5)], 2, []],
    ['a 410 Gone deactivates at once, for gone', [failed(1, { status_code: 410 })], 1, ['gone']],
    ['a late success (older than the newest failure) does not break the streak', [failed(1), failed(5), succeeded(3), failed(6)], 3, ['consecutive_failures']],
    ['a late failure (older than the newest success) does not extend it', [succeeded(5), failed(2), failed(3), failed(4)], 0, []],
  ])('%s', (_rule, events, consecutive, reasons) => {
    const { state, deactivations } = run(events);
    expect(state.consecutive_failures).toBe(consecutive);
    expect(deactivations.map((action) => action.kind === 'deactivate' && action.reason)).toEqual(reasons);
  });

  it('counts a report once: the same delivery and attempt twice changes nothing', () => {
    const duplicate = failed(1);
    const once = run([duplicate]);
    const evaluation = evaluateHealth(once.state, duplicate, { selfCorrect: true });
    expect(evaluation.counted).toBe(false);
    expect(evaluation.state).toBe(once.state);
    expect(evaluation.state.consecutive_failures).toBe(1);
  });

  it('deactivates after failing for disable_after_ms (failing_too_long), before the count is reached', () => {
    const start = initialHealthState({ disable_after_failures: 100, disable_after_ms: 10_000 });
    expect(run([failed(0), failed(5), failed(9)], undefined, start).deactivations).toEqual([]);
    expect(run([failed(0), failed(5), failed(10)], undefined, start).deactivations).toEqual([{ kind: 'deactivate', reason: 'failing_too_long' }]);
  });

  it("applies the thresholds each report carries (the endpoint's current settings)", () => {
    const { deactivations, state } = run([failed(1), failed(2, { disable_after_failures: 2 })]);
    expect(state.disable_after_failures).toBe(2);
    expect(deactivations).toHaveLength(1);
  });

  it('a success ends the streak with the time of that success; an enable with the time it arrived', () => {
    expect(run([failed(1), succeeded(2)]).actions).toEqual([{ kind: 'streak_ended', at: at(2) }]);
    expect(run([{ kind: 'enabled', now: at(9) }]).actions).toEqual([{ kind: 'streak_ended', at: at(9) }]);
  });
});

describe('health rules: re-enable', () => {
  it('enabling resets the streak, so the endpoint is deactivated again after as many failures as the first time', () => {
    const { deactivations, state } = run([failed(1), failed(2), failed(3), { kind: 'enabled', now: at(10), enabledAt: at(10) }, failed(11), failed(12), failed(13)]);
    expect(deactivations).toHaveLength(2);
    expect(state).toMatchObject({ disabled: true, disabled_reason: 'consecutive_failures', consecutive_failures: 3 });
  });

  it('a report made after a re-enable the workflow never heard of re-enables it before counting (selfCorrect)', () => {
    const reenabledAt = at(10);
    const events = [failed(1), failed(2), failed(3), failed(11, { endpoint_enabled_at: reenabledAt }), failed(12, { endpoint_enabled_at: reenabledAt }), failed(13, { endpoint_enabled_at: reenabledAt })];
    const corrected = run(events);
    expect(corrected.deactivations).toHaveLength(2);
    expect(corrected.state.consecutive_failures).toBe(3);
    // Without the rule (histories recorded before it): the streak just grows and nothing happens.
    const legacy = run(events, { selfCorrect: false });
    expect(legacy.deactivations).toHaveLength(1);
    expect(legacy.state.consecutive_failures).toBe(6);
  });

  it('a late report from before its own deactivation does not re-enable it', () => {
    const earlierEnable = at(0);
    const { state, deactivations } = run([failed(5), failed(6), failed(7), failed(4, { endpoint_enabled_at: earlierEnable })]);
    expect(state.disabled).toBe(true);
    expect(deactivations).toHaveLength(1);
  });

  it('a disable by someone else is remembered with its time, and a report after a later re-enable corrects it', () => {
    const { state } = run([{ kind: 'disabled', reason: 'manual', now: at(20), disabledAt: at(20) }, failed(31, { endpoint_enabled_at: at(30) })]);
    expect(state).toMatchObject({ disabled: false, consecutive_failures: 1 });
  });
});

describe('health colours', () => {
  it.each([
    [{ disabled: true, consecutive_failures: 0, recent_failures: 0 }, 'disabled', 'red'],
    [{ disabled: false, consecutive_failures: 5, recent_failures: 5 }, 'failing', 'red'],
    [{ disabled: false, consecutive_failures: 4, recent_failures: 4 }, 'degraded', 'yellow'],
    [{ disabled: false, consecutive_failures: 0, recent_failures: 1 }, 'degraded', 'yellow'],
    [{ disabled: false, consecutive_failures: 0, recent_failures: 0 }, 'healthy', 'green'],
  ])('%o is %s (%s) with a threshold of 10', (input, status, colour) => {
    expect(classifyHealth({ ...input, disable_after_failures: 10 })).toEqual({ status, colour });
  });
});
