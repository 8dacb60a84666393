import { z } from 'zod';
import { durationPattern, parseDuration } from './durations.js';

/**
 * An endpoint's retry schedule: the delays between attempts. Stored as the caller wrote it and
 * resolved to milliseconds for the delivery workflow (which must not parse strings itself).
 * The default schedule is endpointDefaults.retrySchedule (endpoint-defaults.ts).
 */

/**
 * Temporal waits at least one second before retrying an activity, whatever nextRetryDelay asks for,
 * so shorter delays are refused rather than silently stretched.
 */
export const minimumRetryDelayMs = 1000;
const maximumRetryDelayMs = 7 * 86_400_000;

const duration = z
  .string()
  .regex(durationPattern, 'must be a duration with a unit, such as 250ms, 10s, 5m, 2h or 3d')
  .refine((text) => !durationPattern.test(text) || parseDuration(text) >= minimumRetryDelayMs, 'retry delays must be at least 1s')
  .refine((text) => !durationPattern.test(text) || parseDuration(text) <= maximumRetryDelayMs, 'retry delays must be at most 7d');

export const retryScheduleSchema = z.union([
  z.array(duration).max(50, 'at most 50 retries'),
  z
    .object({
      exponential: z
        .object({
          initial: duration,
          factor: z.number().min(1).max(10).default(2),
          retries: z.number().int().min(0).max(50),
          max: duration.optional(),
        })
        .strict(),
    })
    .strict(),
]);

export type RetrySchedule = z.infer<typeof retryScheduleSchema>;

/** Delays in ms before retry 1, 2, …; its length is the number of retries (attempts = length + 1). */
export function retryDelaysMs(schedule: RetrySchedule): number[] {
  if (Array.isArray(schedule)) return schedule.map(parseDuration);
  const { initial, factor, retries, max } = schedule.exponential;
  const first = parseDuration(initial);
  const cap = max ? parseDuration(max) : Number.POSITIVE_INFINITY;
  return Array.from({ length: retries }, (_, index) => Math.min(cap, Math.round(first * factor ** index)));
}

/**
 * The wait before the retry that follows failed attempt `attempt` (1-based), or undefined when the
 * schedule is exhausted. Jitter spreads retries of many deliveries (±10 %); a receiver's Retry-After
 * (429/503) is honoured but clamped between the scheduled delay and twice that, so a receiver can
 * neither hammer itself sooner nor park a delivery forever.
 */
export function nextRetryDelayMs(
  delaysMs: number[],
  attempt: number,
  options: { jitter: boolean; retryAfterMs?: number; random?: () => number },
): number | undefined {
  const scheduled = delaysMs[attempt - 1];
  if (scheduled === undefined) return undefined;
  if (options.retryAfterMs !== undefined) return Math.min(Math.max(options.retryAfterMs, scheduled), 2 * scheduled);
  if (!options.jitter) return scheduled;
  const random = options.random ?? Math.random;
  return Math.max(1, Math.round(scheduled * (0.9 + 0.2 * random())));
}

/** Retry-After as seconds or an HTTP date, in ms from `now`; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
