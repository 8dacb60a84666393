import { pino, type Logger } from 'pino';

/** Paths that may carry secrets; pino replaces their values before anything is written. */
export const redactedPaths = [
  'secret',
  '*.secret',
  'signing_secret',
  '*.signing_secret',
  'headers',
  '*.headers',
  'api_key',
  '*.api_key',
  'authorization',
  '*.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
];

export function createLogger(level: string, name: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, name, redact: { paths: redactedPaths, censor: '[redacted]' } }, destination);
}

export type { Logger };
