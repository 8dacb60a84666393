import { durationPattern, parseDuration } from './durations.js';

/**
 * Dates the API accepts (`?since=`, `?until=`, `?before=`, the recover window): ISO 8601 calendar dates, checked
 * field by field (no 2026-02-30 rolled over into March) and kept within the years Herald can have data for,
 * 1970 to 9999. JavaScript's Date reaches ±275,760 years and PostgreSQL's timestamptz 4713 BC to 294276 AD, so
 * anything further out would otherwise reach the database and fail there; here it is a 422 naming the field.
 * Every route takes its dates through the schemas below, never through z.coerce.date().
 */

export const earliestDate = new Date('1970-01-01T00:00:00.000Z');
export const latestDate = new Date('9999-12-31T23:59:59.999Z');

export const dateMessage = 'must be an ISO 8601 date between 1970-01-01T00:00:00Z and 9999-12-31T23:59:59Z, such as 2026-05-01T12:00:00Z';
export const dateOrAgoMessage = `${dateMessage}, or a duration meaning "that long ago" (2h, 30m, 7d)`;

/** `2026-05-01`, `2026-05-01T12:00`, `2026-05-01T12:00:00.123Z`, `2026-05-01 12:00:00+02:00`; no offset means UTC. */
const isoPattern = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?([Zz]|[+-]\d{2}(?::?\d{2})?)?)?$/;

const daysIn = (year: number, month: number) => new Date(Date.UTC(year, month, 0)).getUTCDate();

/** The instant `text` names, or undefined when it is not a real ISO 8601 date within 1970..9999. */
export function parseApiDate(text: string): Date | undefined {
  const match = isoPattern.exec(text);
  if (!match) return undefined;
  const [, year, month, day, hour = '00', minute = '00', second = '00', fraction = '', offset = 'Z'] = match;
  const [y, mo, d, h, mi, s] = [year, month, day, hour, minute, second].map(Number) as [number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > daysIn(y, mo) || h > 23 || mi > 59 || s > 59) return undefined;
  let offsetMs = 0;
  if (offset !== 'Z' && offset !== 'z') {
    const digits = offset.slice(1).replace(':', '');
    const [offsetHours, offsetMinutes] = [Number(digits.slice(0, 2)), Number(digits.slice(2) || '0')];
    if (offsetHours > 23 || offsetMinutes > 59) return undefined;
    offsetMs = (offset.startsWith('-') ? -1 : 1) * (offsetHours * 60 + offsetMinutes) * 60_000;
  }
  const millis = fraction ? Math.floor(Number(`0${fraction}`) * 1000) : 0;
  // Date.UTC maps years 0..99 to 1900..1999; setUTCFullYear does not (they are refused below anyway).
  const utc = new Date(Date.UTC(2000, mo - 1, d, h, mi, s, millis));
  utc.setUTCFullYear(y);
  return withinRange(new Date(utc.getTime() - offsetMs));
}

/** `parseApiDate`, or a duration (`2h`, `7d`) meaning that long before `now`. */
export function parseApiDateOrAgo(text: string, now = Date.now()): Date | undefined {
  const trimmed = text.trim();
  if (durationPattern.test(trimmed)) return withinRange(new Date(now - parseDuration(trimmed)));
  return parseApiDate(trimmed);
}

function withinRange(date: Date): Date | undefined {
  const time = date.getTime();
  return Number.isFinite(time) && time >= earliestDate.getTime() && time <= latestDate.getTime() ? date : undefined;
}
