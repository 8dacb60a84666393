import { z } from 'zod';
import { durationPattern, parseDuration } from './durations.js';

/**
 * An endpoint's retry schedule: the delays between attempts. Stored as the caller wrote it and
 * resolved to milliseconds for the delivery workflow (which must not parse strings itself).
 */
export const defaultRetrySchedule = ['5s', '5m', '30m', '2h', '5h', '10h', '10h'];

const duration = z.string().regex(durationPattern, 'must be a duration with a unit, such as 250ms, 10s, 5m, 2h or 3d');

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
