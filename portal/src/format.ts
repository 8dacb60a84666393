import type { DeliveryStatus, HealthStatus } from './types.js';

const dateTime = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
const dateOnly = new Intl.DateTimeFormat(undefined, { year: 'numeric', month: 'short', day: 'numeric' });

export function formatDateTime(value: string | null | undefined): string {
  if (!value) return '—';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : dateTime.format(date);
}

export function formatDate(value: string | null | undefined): string {
  if (!value) return '—';
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : dateOnly.format(date);
}

/** "in 42 s", "3 min ago": for next retries and last deliveries. */
export function relativeTime(value: string | null | undefined, now = Date.now()): string {
  if (!value) return '';
  const ms = new Date(value).getTime() - now;
  if (Number.isNaN(ms)) return '';
  const abs = Math.abs(ms);
  const text = abs < 1000 ? 'now' : abs < 60_000 ? `${Math.round(abs / 1000)} s` : abs < 3_600_000 ? `${Math.round(abs / 60_000)} min` : abs < 86_400_000 ? `${Math.round(abs / 3_600_000)} h` : `${Math.round(abs / 86_400_000)} d`;
  if (text === 'now') return 'now';
  return ms > 0 ? `in ${text}` : `${text} ago`;
}

export function formatRate(rate: number | null | undefined): string {
  if (rate === null || rate === undefined) return 'No deliveries';
  const percent = rate * 100;
  return `${percent >= 99.95 || percent === 0 ? percent.toFixed(0) : percent.toFixed(1)}%`;
}

export const healthWords: Record<HealthStatus, string> = { healthy: 'Healthy', degraded: 'Degraded', failing: 'Failing', disabled: 'Disabled' };
export const healthExplanations: Record<HealthStatus, string> = {
  healthy: 'delivering',
  degraded: 'some failures',
  failing: 'failing',
  disabled: 'disabled',
};

export const deliveryStatusWords: Record<DeliveryStatus, string> = {
  pending: 'Pending',
  delivering: 'Delivering',
  retrying: 'Retrying',
  delivered: 'Delivered',
  failed: 'Failed',
};

export const inFlight = (status: DeliveryStatus) => status === 'pending' || status === 'delivering' || status === 'retrying';

/** Why Herald (or someone) deactivated an endpoint, as a sentence fragment. */
export function reasonText(reason: string | null | undefined, failures?: number): string {
  switch (reason) {
    case 'consecutive_failures':
      return failures ? `${failures} consecutive failed attempts` : 'too many consecutive failed attempts';
    case 'gone':
      return 'the receiver answered 410 Gone';
    case 'failing_too_long':
      return 'it failed without a success for too long';
    case 'manual':
      return 'deactivated by hand';
    case null:
    case undefined:
    case '':
      return 'no reason given';
    default:
      return reason.replace(/_/g, ' ');
  }
}

/** Deactivated by Herald's health rules (not by a person). */
export const deactivatedByHerald = (endpoint: { active: boolean; disabled_reason: string | null }) =>
  !endpoint.active && endpoint.disabled_reason !== null && endpoint.disabled_reason !== 'manual';

export function pretty(value: unknown): string {
  if (typeof value === 'string') return value;
  try {
    return JSON.stringify(value, null, 2);
  } catch {
    return String(value);
  }
}

/** "15s" → 15, "500ms" → 0.5, "2m" → 120. */
export function durationToSeconds(value: string | null | undefined): number | undefined {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value ?? '');
  if (!match) return undefined;
  const unit = { ms: 0.001, s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Number(match[1]) * unit;
}

/** 15 → "15s", 0.5 → "500ms". */
export function secondsToDuration(seconds: number): string {
  return Number.isInteger(seconds) ? `${seconds}s` : `${Math.round(seconds * 1000)}ms`;
}
