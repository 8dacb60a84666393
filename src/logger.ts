import { pino, type Logger } from 'pino';

/**
 * Paths that may carry secrets; pino replaces their values before anything is written. Endpoint
 * secrets (`secret`, `secrets`) and custom headers (`headers`, whole objects) at the top level and up
 * to two levels down (`{endpoint: {...}}`, `{err: {cause: {...}}}`), request headers, postgres error
 * parameters (postgres.js attaches a query's values to its errors), bodies echoed by body-parser
 * errors, and the configuration's own keys should a config object ever be logged.
 */
const nestable = ['secret', 'secrets', 'signing_secret', 'headers', 'api_key', 'authorization', 'parameters'];
export const redactedPaths = [
  ...nestable.flatMap((name) => [name, `*.${name}`, `*.*.${name}`]),
  'req.headers.authorization',
  'req.headers.cookie',
  'err.body',
  '*.HERALD_ADMIN_KEY',
  '*.HERALD_ENCRYPTION_KEY',
  '*.TEMPORAL_API_KEY',
  '*.DATABASE_URL',
];

export function createLogger(level: string, name: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, name, redact: { paths: redactedPaths, censor: '[redacted]' } }, destination);
}

export type { Logger };
