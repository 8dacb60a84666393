import { dateMessage, dateOrAgoMessage, parseApiDate, parseApiDateOrAgo } from '../core/dates.js';
import { z } from './openapi.js';

/** The zod schemas of the dates the API accepts (the rules are in src/core/dates.ts, which activities share). */
/** A date parameter or field: an ISO 8601 string, parsed to a Date, 422 `validation_failed` naming the field otherwise. */
export const apiDate = z
  .string()
  .max(64)
  .transform((text, context) => {
    const date = parseApiDate(text);
    if (!date) {
      context.addIssue({ code: 'custom', message: dateMessage });
      return z.NEVER;
    }
    return date;
  })
  .openapi({ type: 'string', format: 'date-time', description: 'ISO 8601, 1970-01-01T00:00:00Z to 9999-12-31T23:59:59Z', example: '2026-05-01T12:00:00Z' });

/** As apiDate, or a duration meaning that long ago (`2h`): for windows such as a recovery's `since`. */
export const apiDateOrAgo = (description: string) =>
  z
    .string()
    .min(1)
    .max(64)
    .transform((text, context) => {
      const date = parseApiDateOrAgo(text);
      if (!date) {
        context.addIssue({ code: 'custom', message: dateOrAgoMessage });
        return z.NEVER;
      }
      return date;
    })
    .openapi({ type: 'string', description: `${description}: an ISO 8601 date (1970 to 9999), or a duration meaning that long ago`, example: '2h' });
