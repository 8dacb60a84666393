import nodemailer, { type Transporter } from 'nodemailer';
import type { Dispatcher } from 'undici';
import type { Config } from '../config.js';
import type { Sql } from '../db/client.js';
import type { SecretBox } from './crypto.js';
import { postWebhook } from './http-delivery.js';
import {
  channelMessage,
  endpointForNotice,
  getChannel,
  markChannelMessageFailed,
  messageChannel,
  messageOccurrences,
  recordChannelAttempt,
  type ChannelRecord,
} from './channels.js';
import { renderNotice, renderTestNotice, type RenderedNotice } from './channel-messages.js';

/**
 * Sending a channel message: email through SMTP (nodemailer, HERALD_SMTP_URL, HERALD_EMAIL_FROM) and Slack through its
 * incoming webhook (Block Kit JSON; Slack answers 200 `ok`), every try in the channel's attempt log. Slack requests go
 * through the URL policy's dispatcher, like webhooks.
 */
export interface ChannelSendDeps {
  sql: Sql;
  box: SecretBox;
  config: Pick<Config, 'HERALD_SMTP_URL' | 'HERALD_EMAIL_FROM' | 'HERALD_PUBLIC_URL' | 'HERALD_API_HOST' | 'HERALD_API_PORT'>;
  httpAgent?: Dispatcher;
}

export interface ChannelSendOutcome {
  success: boolean;
  status_code: number | null;
  error: string | null;
  response: string | null;
  duration_ms: number;
  /** A failure that will not change with retries (a refused recipient, a Slack webhook that is gone). */
  permanent: boolean;
}

/** A send that failed; `permanent` when retrying cannot help. */
export class ChannelSendFailed extends Error {
  constructor(
    message: string,
    readonly permanent: boolean,
  ) {
    super(message);
    this.name = 'ChannelSendFailed';
  }
}

const slackTimeoutMs = 10_000;
const transports = new Map<string, Transporter>();

function mailer(smtpUrl: string): Transporter {
  let transport = transports.get(smtpUrl);
  if (!transport) {
    transport = nodemailer.createTransport(smtpUrl);
    transports.set(smtpUrl, transport);
  }
  return transport;
}

/** `<HERALD_PUBLIC_URL or the API's address>/portal/`. */
export function portalUrl(config: ChannelSendDeps['config']): string {
  const base = config.HERALD_PUBLIC_URL ?? `http://${config.HERALD_API_HOST.includes(':') ? `[${config.HERALD_API_HOST}]` : config.HERALD_API_HOST}:${config.HERALD_API_PORT}`;
  return `${base.replace(/\/+$/, '')}/portal/`;
}

/** One try: the outcome, never a throw. */
export async function sendToChannel(deps: ChannelSendDeps, channel: ChannelRecord, notice: RenderedNotice, messageId?: string): Promise<ChannelSendOutcome> {
  const started = performance.now();
  const elapsed = () => Math.round(performance.now() - started);
  if (channel.type === 'email') {
    if (!deps.config.HERALD_SMTP_URL) return { success: false, status_code: null, error: 'HERALD_SMTP_URL is not set', response: null, duration_ms: 0, permanent: true };
    try {
      const info = await mailer(deps.config.HERALD_SMTP_URL).sendMail({
        from: deps.config.HERALD_EMAIL_FROM,
        to: channel.to ?? [],
        subject: notice.subject,
        text: notice.text,
        html: notice.html,
        headers: { 'X-Herald-Channel': channel.id, ...(messageId ? { 'X-Herald-Message': messageId } : {}) },
      });
      const rejected = (info.rejected ?? []).map(String);
      const refused = rejected.length > 0 && (info.accepted ?? []).length === 0;
      return {
        success: !refused,
        status_code: null,
        error: refused ? `every recipient was refused: ${rejected.join(', ')}` : null,
        response: info.response ?? null,
        duration_ms: elapsed(),
        permanent: refused,
      };
    } catch (error) {
      const err = error as Error & { responseCode?: number; response?: string };
      // SMTP 5xx is permanent (a refused recipient or sender); 4xx and connection errors are worth retrying.
      return { success: false, status_code: err.responseCode ?? null, error: err.message, response: err.response ?? null, duration_ms: elapsed(), permanent: (err.responseCode ?? 0) >= 500 };
    }
  }
  const result = await postWebhook(channel.webhook_url!, { 'content-type': 'application/json' }, JSON.stringify(notice.slack), slackTimeoutMs, undefined, { dispatcher: deps.httpAgent });
  // Slack answers 200 "ok"; 400 invalid_payload, 403, 404 channel_not_found and 410 channel_is_archived will not change.
  const success = result.statusCode === 200 && result.body.trim() === 'ok';
  const status = result.statusCode ?? 0;
  return {
    success,
    status_code: result.statusCode,
    error: success ? null : result.statusCode !== null ? `Slack answered ${result.statusCode}: ${result.body.slice(0, 200)}` : (result.errorMessage ?? 'no answer'),
    response: result.body.slice(0, 2000),
    duration_ms: result.durationMs,
    permanent: !success && status >= 400 && status < 500 && status !== 429 && status !== 408,
  };
}

/**
 * One try at sending a message (the activity's attempt `attempt`), recorded in the attempt log. A message already
 * sent is not sent again; a failure throws ChannelSendFailed (permanent or not) for the workflow's retry policy.
 */
export async function sendChannelMessage(deps: ChannelSendDeps, messageId: string, attempt: number): Promise<void> {
  const message = await channelMessage(deps.sql, messageId);
  if (!message || message.status === 'sent' || message.status === 'failed') return;
  const channel = await messageChannel(deps.sql, deps.box, messageId);
  if (!channel) return;
  const { total, rows } = await messageOccurrences(deps.sql, messageId);
  const [tenant] = await deps.sql<{ name: string }[]>`select name from tenants where id = ${message.tenant_id}`;
  const notice = renderNotice({
    kind: message.kind,
    endpointId: message.endpoint_id,
    endpoint: message.endpoint_id ? await endpointForNotice(deps.sql, message.endpoint_id) : undefined,
    total,
    occurrences: rows,
    windowStart: message.window_start,
    windowEnd: message.window_end,
    portalUrl: portalUrl(deps.config),
    tenantName: tenant?.name,
  });
  const startedAt = new Date();
  const outcome = await sendToChannel(deps, channel, notice, messageId);
  await recordChannelAttempt(deps.sql, {
    messageId,
    attempt,
    startedAt,
    durationMs: outcome.duration_ms,
    success: outcome.success,
    statusCode: outcome.status_code,
    error: outcome.error,
    response: outcome.response,
    subject: notice.subject,
  });
  if (!outcome.success) throw new ChannelSendFailed(outcome.error ?? 'not sent', outcome.permanent);
}

export async function failChannelMessage(sql: Sql, messageId: string, error: string): Promise<void> {
  await markChannelMessageFailed(sql, messageId, error);
}

/** `POST …/channels/:id/test`: a test message now, synchronously, not retried and not in the attempt log. */
export async function testChannel(deps: ChannelSendDeps, tenantId: string, channelId: string): Promise<Omit<ChannelSendOutcome, 'permanent'>> {
  const channel = await getChannel(deps.sql, deps.box, tenantId, channelId);
  const { permanent: _permanent, ...outcome } = await sendToChannel(deps, channel, renderTestNotice(portalUrl(deps.config)));
  return outcome;
}
