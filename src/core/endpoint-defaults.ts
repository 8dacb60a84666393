/**
 * What an endpoint gets for a setting its creator leaves out, defined once. The API's create schema shows and applies
 * them, createEndpoint inserts them as explicit values (the column DEFAULTs of 001_init.sql stay for history; no code
 * relies on them), and the health workflow falls back to `disableAfterFailures` for a report without thresholds.
 * Plain constants with no imports, so workflow code may import this file.
 */
export const endpointDefaults = Object.freeze({
  description: '',
  active: true,
  signatureProfile: 'standard-webhooks',
  envelope: 'herald',
  /** Delays between attempts: 8 attempts over about 28 hours. */
  retrySchedule: Object.freeze(['5s', '5m', '30m', '2h', '5h', '10h', '10h']) as readonly string[],
  timeoutMs: 15_000,
  /** Consecutive failed attempts, across deliveries, that disable the endpoint. */
  disableAfterFailures: 10,
  /** Disable once failing without a success for this long: null, no time limit. */
  disableAfterMs: null,
} as const);
