import { z } from 'zod';
import path from 'node:path';
import { builtInProfileNames, signatureProfileSchema } from './core/signing.js';
import { parseCidr } from './core/url-policy.js';
import { durationPattern, parseDuration } from './core/durations.js';

/**
 * Every setting Herald reads, from the environment, in one schema.
 * Defaults are the ones `herald dev` needs; production overrides them.
 */
const booleanFromEnv = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((value) => value === 'true' || value === '1' || value === 'yes');

/** A duration setting (`15m`, `8h`, `2d`, or a number of milliseconds) in milliseconds. */
const durationSetting = z
  .string()
  .trim()
  .refine((text) => /^\d+$/.test(text) || durationPattern.test(text), 'must be a duration such as 30m, 8h or 2d (or milliseconds)')
  .transform((text) => (/^\d+$/.test(text) ? Number(text) : parseDuration(text)));

const port = z.coerce.number().int().min(0).max(65535);

export const configSchema = z.object({
  HERALD_HOME: z.string().default(path.resolve('.herald')),
  HERALD_API_HOST: z.string().default('127.0.0.1'),
  HERALD_API_PORT: port.default(8080),
  HERALD_LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  HERALD_ADMIN_KEY: z.string().min(24, 'must be at least 24 characters').optional(),
  HERALD_ENCRYPTION_KEY: z
    .string()
    .refine((value) => Buffer.from(value, 'base64').length === 32, 'must be 32 bytes, base64-encoded (openssl rand -base64 32)'),
  HERALD_ALLOW_HTTP: booleanFromEnv.default(false),
  HERALD_DEV_MODE: booleanFromEnv.default(false),
  /** CIDRs of internal receivers that the URL policy allows outside dev mode, comma-separated: 10.20.0.0/16,fd12::/48. */
  HERALD_URL_ALLOWLIST: z
    .string()
    .transform((text, context) => {
      const entries = text.split(',').map((entry) => entry.trim()).filter(Boolean);
      for (const entry of entries) {
        try {
          parseCidr(entry);
        } catch (error) {
          context.addIssue({ code: 'custom', message: (error as Error).message });
        }
      }
      return entries;
    })
    .default([]),
  /**
   * Failed authentications per minute, counted per client address and per presented key prefix across all API
   * processes (in PostgreSQL), before requests without a valid key are answered 429. A valid key is never refused.
   */
  HERALD_AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(20),
  /**
   * Which proxies may set X-Forwarded-For (Express's `trust proxy`): empty (default) trusts none, so the client
   * address is the socket's; a number of hops; or comma-separated addresses, CIDRs or `loopback`, `linklocal`, `uniquelocal`.
   */
  HERALD_TRUST_PROXY: z
    .string()
    .transform((text, context): false | number | string[] => {
      const value = text.trim();
      if (value === '' || value === 'false' || value === 'none') return false;
      if (/^\d+$/.test(value)) return Number(value);
      const entries = value.split(',').map((entry) => entry.trim()).filter(Boolean);
      for (const entry of entries) {
        if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) continue;
        try {
          parseCidr(entry.includes('/') ? entry : `${entry}/${entry.includes(':') ? 128 : 32}`);
        } catch (error) {
          context.addIssue({ code: 'custom', message: `${entry}: ${(error as Error).message}` });
        }
      }
      return entries;
    })
    .default(false),
  /** How long a portal session lasts once its link is opened (`8h`, `30m`). */
  HERALD_PORTAL_SESSION_TTL: durationSetting.prefault('8h'),
  /** The portal's built files (`npm run build:portal`; `herald dev` builds them on first start). */
  HERALD_PORTAL_DIR: z.string().default(path.resolve('dist/portal')),
  /**
   * The address customers reach Herald at (`https://webhooks.example.com`), used in portal links and in notification
   * links to the portal. Unset: the address the request that asked for the link came to (the API's own for notices).
   */
  HERALD_PUBLIC_URL: z.string().url().optional(),
  /** Deepest nesting of arrays and objects a JSON request body may have (422 too_deep beyond, before it is parsed). */
  HERALD_MAX_JSON_DEPTH: z.coerce.number().int().min(8).max(1000).default(64),
  /** Test sends (`POST …/endpoints/:id/test` and `/v1/webhooks/test`) per tenant per minute. */
  HERALD_TEST_SENDS_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(10),
  /** Active (unrevoked) API keys a tenant may have. */
  HERALD_MAX_API_KEYS_PER_TENANT: z.coerce.number().int().min(1).max(10_000).default(20),
  /** HTTP server timeouts: the request's headers, the whole request, and an idle keep-alive connection. */
  HERALD_HTTP_HEADERS_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(10_000),
  HERALD_HTTP_REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(3_600_000).default(30_000),
  HERALD_HTTP_KEEP_ALIVE_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(5_000),
  /** How long a stopping worker lets attempts run (then cancels and hands them back), and a stopping API drains requests. */
  HERALD_SHUTDOWN_GRACE_MS: z.coerce.number().int().min(0).max(600_000).default(35_000),
  HERALD_MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(10 * 1024 * 1024).default(256 * 1024),
  HERALD_RETRY_JITTER: booleanFromEnv.default(true),
  /** Where email channels send: smtp://user:pass@host:587 or smtps://…:465 (nodemailer's URL form). Unset: email channels cannot be created. */
  HERALD_SMTP_URL: z.string().regex(/^smtps?:\/\//, 'must be an smtp:// or smtps:// URL').optional(),
  /** The From of notification emails: "Herald <herald@example.com>" or an address. */
  HERALD_EMAIL_FROM: z.string().min(3).default('Herald <herald@localhost>'),
  /** A channel sends at most one message per endpoint and kind per window: what happened in it comes as one digest with a count. */
  HERALD_CHANNEL_DIGEST_WINDOW_MS: z.coerce.number().int().min(1000).max(86_400_000).default(15 * 60_000),
  /** Extra named signature profiles, as JSON: {"acme": {…profile…}}; built-in names cannot be redefined. */
  HERALD_SIGNATURE_PROFILES: z
    .string()
    .transform((text, context) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        context.addIssue({ code: 'custom', message: 'must be JSON' });
        return z.NEVER;
      }
    })
    .pipe(
      z
        .record(z.string().regex(/^[a-z0-9-]+$/, 'profile names are lowercase words with dashes'), signatureProfileSchema)
        .superRefine((profiles, context) => {
          for (const name of builtInProfileNames.filter((builtIn) => Object.hasOwn(profiles, builtIn))) {
            context.addIssue({ code: 'custom', message: `"${name}" is a built-in profile and cannot be redefined` });
          }
        }),
    )
    .optional(),
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, 'must be a postgres:// URL'),
  DATABASE_POOL_SIZE: z.coerce.number().int().min(1).max(200).default(10),
  TEMPORAL_ADDRESS: z.string().default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().default('default'),
  TEMPORAL_TASK_QUEUE: z.string().default('herald'),
  TEMPORAL_API_KEY: z.string().optional(),
  TEMPORAL_TLS: booleanFromEnv.default(false),
  TEMPORAL_TLS_CERT_PATH: z.string().optional(),
  TEMPORAL_TLS_KEY_PATH: z.string().optional(),
  TEMPORAL_TLS_CA_PATH: z.string().optional(),
  // Used by `herald dev` only: where the embedded stack listens (taken when free, else any free port).
  HERALD_DEV_PG_PORT: port.default(54329),
  HERALD_DEV_TEMPORAL_PORT: port.default(7233),
  HERALD_DEV_TEMPORAL_UI_PORT: port.default(8233),
  /** `herald dev`'s SMTP catcher: email channels send there and the dev process prints what it receives. */
  HERALD_DEV_SMTP_PORT: port.default(2525),
  HERALD_WORKER_MAX_ACTIVITIES: z.coerce.number().int().min(1).max(10000).default(200),
  HERALD_WORKER_MAX_WORKFLOW_TASKS: z.coerce.number().int().min(2).max(10000).default(100),
  HERALD_WORKER_MAX_CACHED_WORKFLOWS: z.coerce.number().int().min(0).max(100000).default(500),
});

export type Config = z.infer<typeof configSchema>;

export class ConfigError extends Error {
  constructor(readonly issues: { variable: string; message: string }[]) {
    super(
      `Invalid configuration:\n${issues.map((issue) => `  ${issue.variable}: ${issue.message}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  return parseEnv(configSchema, env);
}

/** Parses the environment with the config schema or a part of it (`configSchema.pick`). */
export function parseEnv<Schema extends z.ZodType>(schema: Schema, env: NodeJS.ProcessEnv): z.infer<Schema> {
  // An empty variable means "unset", as it does in docker-compose files.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== undefined && value !== ''));
  const parsed = schema.safeParse(present);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((issue) => ({
        variable: String(issue.path[0] ?? '(root)'),
        message: issue.code === 'invalid_type' && issue.input === undefined ? 'is required' : issue.message,
      })),
    );
  }
  return parsed.data;
}
