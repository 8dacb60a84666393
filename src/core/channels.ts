import { createHash } from 'node:crypto';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Sql } from '../db/client.js';
import type { SecretBox } from './crypto.js';
import { Invalid, NotFound } from './errors.js';
import { allEventTypes, testEventType, unknownEventTypes } from './event-catalog.js';
import { idFor, newId } from './ids.js';
import { operationalEventTypes } from './operational-events.js';
import { destinationUrlIssue } from './url-policy.js';
import { channelMessageSummary } from './workflow-summaries.js';
import type { DispatchDeps } from './dispatch.js';
import { HeraldEndpointId, HeraldEventType, HeraldTenantId, channelMessageWorkflowId, workflowTypes, type ChannelMessageInput, type ChannelMessageWorkflow } from '../../workflows/contracts.js';

/**
 * Notification channels: email recipients or a Slack incoming webhook that receive Herald's operational notices
 * (endpoint disabled / re-enabled, delivery failed, recovery finished) and, when asked, the tenant's own event types.
 * Every state change of a channel, its occurrences and its messages lives here; routes, activities and the CLI
 * call it.
 *
 * How a notice reaches a channel (one path, from publish.ts): the publish transaction that stores the event records one
 * occurrence per subscribed channel (idempotent by the notice's key), in the digest window of the moment; after commit,
 * the window's message workflow is started under an id made of the channel, the series (kind and endpoint) and the
 * window, so a storm of a thousand notices starts one workflow, which sends one message with a count when the window
 * closes (workflows/channel-message.ts).
 */

export const channelTypes = ['email', 'slack'] as const;
export type ChannelType = (typeof channelTypes)[number];

/** What a channel may carry: the notices Herald publishes (the test event is never published), and catalog types. */
export const channelOperationalEvents = Object.values(operationalEventTypes).filter((type) => type !== testEventType);

export interface ChannelRecord {
  id: string;
  tenant_id: string;
  type: ChannelType;
  description: string;
  to: string[] | null;
  /** Decrypted; routes mask it. */
  webhook_url: string | null;
  events: string[];
  active: boolean;
  created_at: Date;
  updated_at: Date;
}

export interface ChannelSettings {
  type: ChannelType;
  description: string;
  to?: string[] | null;
  webhook_url?: string | null;
  events: string[];
  active: boolean;
}

export interface ChannelRules {
  allowHttp: boolean;
  /** HERALD_SMTP_URL is set: email channels can send. */
  emailConfigured: boolean;
}

interface ChannelRow extends Omit<ChannelRecord, 'to' | 'webhook_url'> {
  email_to: string[] | null;
  slack_webhook_url: Buffer | null;
}

const toRecord = (row: ChannelRow, box: SecretBox): ChannelRecord => ({
  id: row.id,
  tenant_id: row.tenant_id,
  type: row.type,
  description: row.description,
  to: row.email_to,
  webhook_url: row.slack_webhook_url ? box.decrypt(row.slack_webhook_url) : null,
  events: row.events,
  active: row.active,
  created_at: row.created_at,
  updated_at: row.updated_at,
});

/** Checks a channel's settings; throws Invalid naming each field that is wrong. */
async function checkChannel(sql: Sql, settings: ChannelSettings, rules: ChannelRules): Promise<void> {
  const issues: { field: string; message: string; code: string }[] = [];
  if (settings.type === 'email') {
    if (!settings.to?.length) issues.push({ field: 'body.to', message: 'an email channel needs at least one recipient', code: 'required' });
    if (settings.webhook_url) issues.push({ field: 'body.webhook_url', message: 'only Slack channels have a webhook_url', code: 'not_allowed' });
    if (!rules.emailConfigured) issues.push({ field: 'body.type', message: 'email channels need HERALD_SMTP_URL to be set', code: 'smtp_not_configured' });
  } else {
    if (!settings.webhook_url) issues.push({ field: 'body.webhook_url', message: 'a Slack channel needs its incoming-webhook URL', code: 'required' });
    else {
      const problem = destinationUrlIssue(settings.webhook_url, { allowHttp: rules.allowHttp });
      if (problem) issues.push({ field: 'body.webhook_url', message: problem, code: 'invalid_url' });
    }
    if (settings.to?.length) issues.push({ field: 'body.to', message: 'only email channels have recipients', code: 'not_allowed' });
  }
  const operational = new Set<string>(channelOperationalEvents);
  const tenantTypes = settings.events.filter((name) => !operational.has(name));
  if (tenantTypes.includes(testEventType)) issues.push({ field: 'body.events', message: `${testEventType} is never published`, code: 'invalid_event_type' });
  if (tenantTypes.includes(allEventTypes)) issues.push({ field: 'body.events', message: 'name the event types; "*" is not a channel subscription', code: 'invalid_event_type' });
  const unknown = await unknownEventTypes(sql, tenantTypes.filter((name) => name !== testEventType && name !== allEventTypes));
  for (const name of unknown) issues.push({ field: 'body.events', message: `"${name}" is not in the event catalog`, code: 'unknown_event_type' });
  if (issues.length > 0) throw new Invalid(issues);
}

const channelColumns = (sql: Sql) => sql`id, tenant_id, type, description, email_to, slack_webhook_url, events, active, created_at, updated_at`;

export async function createChannel(sql: Sql, box: SecretBox, tenantId: string, settings: ChannelSettings, rules: ChannelRules): Promise<ChannelRecord> {
  await checkChannel(sql, settings, rules);
  const [tenant] = await sql`select 1 from tenants where id = ${tenantId}`;
  if (!tenant) throw new NotFound('Tenant');
  const [row] = await sql<ChannelRow[]>`
    insert into channels (id, tenant_id, type, description, email_to, slack_webhook_url, events, active)
    values (${newId('channel')}, ${tenantId}, ${settings.type}, ${settings.description},
            ${settings.type === 'email' ? [...new Set(settings.to)] : null}, ${settings.type === 'slack' ? box.encrypt(settings.webhook_url!) : null},
            ${[...new Set(settings.events)]}, ${settings.active})
    returning ${channelColumns(sql)}`;
  return toRecord(row!, box);
}

export async function getChannel(sql: Sql, box: SecretBox, tenantId: string, channelId: string): Promise<ChannelRecord> {
  const [row] = await sql<ChannelRow[]>`select ${channelColumns(sql)} from channels where tenant_id = ${tenantId} and id = ${channelId}`;
  if (!row) throw new NotFound('Channel');
  return toRecord(row, box);
}

export async function listChannels(sql: Sql, box: SecretBox, tenantId: string, page: { limit: number; cursor?: string }): Promise<ChannelRecord[]> {
  const rows = await sql<ChannelRow[]>`
    select ${channelColumns(sql)} from channels
    where tenant_id = ${tenantId} ${page.cursor ? sql`and id > ${page.cursor}` : sql``}
    order by id limit ${page.limit}`;
  return rows.map((row) => toRecord(row, box));
}

/** A PATCH: given fields replace, absent ones stay; the type never changes. */
export async function updateChannel(
  sql: Sql,
  box: SecretBox,
  tenantId: string,
  channelId: string,
  patch: Partial<Omit<ChannelSettings, 'type'>>,
  rules: ChannelRules,
): Promise<ChannelRecord> {
  const current = await getChannel(sql, box, tenantId, channelId);
  const defined = Object.fromEntries(Object.entries(patch).filter(([, value]) => value !== undefined));
  const settings: ChannelSettings = { type: current.type, description: current.description, to: current.to, webhook_url: current.webhook_url, events: current.events, active: current.active, ...defined };
  await checkChannel(sql, settings, { ...rules, emailConfigured: rules.emailConfigured || current.type !== 'email' || patch.to === undefined });
  const [row] = await sql<ChannelRow[]>`
    update channels set description = ${settings.description},
      email_to = ${settings.type === 'email' ? [...new Set(settings.to)] : null},
      slack_webhook_url = ${settings.type === 'slack' ? box.encrypt(settings.webhook_url!) : null},
      events = ${[...new Set(settings.events)]}, active = ${settings.active}, updated_at = now()
    where tenant_id = ${tenantId} and id = ${channelId}
    returning ${channelColumns(sql)}`;
  if (!row) throw new NotFound('Channel');
  return toRecord(row, box);
}

/** Deletes a channel, its messages and their attempt log; messages waiting for their window then find nothing to send. */
export async function deleteChannel(sql: Sql, tenantId: string, channelId: string): Promise<void> {
  const deleted = await sql`delete from channels where tenant_id = ${tenantId} and id = ${channelId} returning id`;
  if (deleted.length === 0) throw new NotFound('Channel');
}

// ---------------------------------------------------------------------------------------------------------------
// Occurrences and digest windows

export const defaultDigestWindowMs = 15 * 60_000;

/** A series: one kind of notice about one endpoint (or one tenant event type), digested together. */
export const seriesKeyOf = (kind: string, endpointId: string | null) => `${kind}:${endpointId ?? ''}`;
const seriesHash = (seriesKey: string) => createHash('sha256').update(seriesKey).digest('hex').slice(0, 16);

/** The endpoint a notice is about, from its data (`endpoint_id`); tenant events are about no endpoint. */
function endpointOf(eventType: string, data: unknown): string | null {
  if (!channelOperationalEvents.includes(eventType as (typeof channelOperationalEvents)[number])) return null;
  const id = (data as { endpoint_id?: unknown } | null)?.endpoint_id;
  return typeof id === 'string' ? id : null;
}

/**
 * Records, in the publish transaction, one occurrence of an event for each active channel of the tenant that carries
 * its type, in the digest window of the database's clock. `occurrence` is the notice's key (or the event id): a
 * repeated notice is already recorded.
 */
export async function recordChannelOccurrences(
  tx: Sql,
  input: { tenantId: string; eventId: string; eventType: string; data: unknown; occurrence: string; windowMs?: number },
): Promise<void> {
  if (input.eventType === testEventType) return;
  const windowMs = input.windowMs ?? defaultDigestWindowMs;
  const endpointId = endpointOf(input.eventType, input.data);
  await tx`
    insert into channel_occurrences (channel_id, occurrence, tenant_id, event_id, kind, endpoint_id, series_key, window_start, window_end, data)
    select c.id, ${input.occurrence}, ${input.tenantId}, ${input.eventId}, ${input.eventType}, ${endpointId},
           ${seriesKeyOf(input.eventType, endpointId)}, w.start, w.start + make_interval(secs => ${windowMs / 1000}), ${JSON.stringify(input.data)}::text::jsonb
    from channels c,
         lateral (select to_timestamp(floor(extract(epoch from clock_timestamp()) * 1000 / ${windowMs}) * ${windowMs} / 1000.0) as start) w
    where c.tenant_id = ${input.tenantId} and c.active and ${input.eventType} = any(c.events)
    on conflict (channel_id, occurrence) do nothing`;
}

interface PendingWindow {
  channel_id: string;
  channel_type: ChannelType;
  tenant_name: string | null;
  tenant_id: string;
  kind: string;
  endpoint_id: string | null;
  series_key: string;
  window_start: Date;
  window_end: Date;
}

/**
 * Starts the message workflow of every window an event's occurrences are in and no message has claimed yet. Safe to
 * call again (a publish retried, the sweeper): a window's workflow id is unique, a second start is "already started".
 */
export async function startChannelMessages(deps: DispatchDeps, eventId: string): Promise<void> {
  const windows = await deps.sql<PendingWindow[]>`
    select distinct o.channel_id, c.type as channel_type, t.name as tenant_name, o.tenant_id, o.kind, o.endpoint_id, o.series_key, o.window_start, o.window_end
    from channel_occurrences o join channels c on c.id = o.channel_id join tenants t on t.id = o.tenant_id
    where o.event_id = ${eventId} and o.message_id is null`;
  await startWindows(deps, windows);
}

/**
 * Windows whose occurrences no message claimed a minute after they closed: Temporal was down at publish time (the
 * window's workflow never started), or a publish committed after its window's workflow had made the message. Their
 * workflow is started under the window's id with `-late`, once: it sends what was left.
 */
export async function sweepChannelWindows(deps: DispatchDeps, limit = 200): Promise<number> {
  const windows = await deps.sql<PendingWindow[]>`
    select distinct o.channel_id, c.type as channel_type, t.name as tenant_name, o.tenant_id, o.kind, o.endpoint_id, o.series_key, o.window_start, o.window_end
    from channel_occurrences o join channels c on c.id = o.channel_id join tenants t on t.id = o.tenant_id
    where o.message_id is null and o.window_end < now() - interval '1 minute' and o.window_end > now() - interval '1 day'
    limit ${limit}`;
  await startWindows(deps, windows, '-late');
  return windows.length;
}

async function startWindows(deps: DispatchDeps, windows: PendingWindow[], idSuffix = ''): Promise<void> {
  for (const window of windows) {
    const input: ChannelMessageInput = {
      channelId: window.channel_id,
      seriesKey: window.series_key,
      windowStart: window.window_start.toISOString(),
      windowEnd: window.window_end.toISOString(),
    };
    try {
      await deps.temporal.workflow.start<ChannelMessageWorkflow>(workflowTypes.channelMessage, {
        workflowId: `${channelMessageWorkflowId(window.channel_id, seriesHash(window.series_key), window.window_start.getTime())}${idSuffix}`,
        taskQueue: deps.taskQueue,
        args: [input],
        workflowIdReusePolicy: 'REJECT_DUPLICATE',
        staticSummary: channelMessageSummary(window),
        typedSearchAttributes: [
          { key: HeraldTenantId, value: window.tenant_id },
          ...(window.endpoint_id ? [{ key: HeraldEndpointId, value: window.endpoint_id }] : []),
          { key: HeraldEventType, value: window.kind },
        ],
      });
    } catch (error) {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Messages

export type ChannelMessageStatus = 'pending' | 'sending' | 'sent' | 'failed';

export interface ChannelMessageRow {
  id: string;
  tenant_id: string;
  channel_id: string;
  kind: string;
  endpoint_id: string | null;
  series_key: string;
  window_start: Date;
  window_end: Date;
  workflow_id: string;
  status: ChannelMessageStatus;
  occurrences: number;
  attempts: number;
  subject: string | null;
  last_error: string | null;
  created_at: Date;
  sent_at: Date | null;
}

export interface ChannelAttemptRow {
  message_id: string;
  attempt: number;
  started_at: Date;
  duration_ms: number;
  success: boolean;
  status_code: number | null;
  error: string | null;
  response: string | null;
}

export interface OccurrenceRow {
  occurrence: string;
  event_id: string;
  kind: string;
  endpoint_id: string | null;
  data: Record<string, unknown>;
  created_at: Date;
}

/**
 * Makes the message of a closed window: claims the series' unclaimed occurrences of this window and any earlier one
 * (a window whose workflow never ran), under an id derived from the workflow, so a retried claim finds its own message.
 * Undefined when there is nothing to send (the channel was deleted, or deactivated after the notices).
 */
export async function claimChannelMessage(sql: Sql, input: ChannelMessageInput & { workflowId: string }): Promise<{ messageId: string; occurrences: number } | undefined> {
  const windowStart = new Date(input.windowStart);
  const messageId = idFor('channelMessage', windowStart.getTime(), `channel-message\0${input.workflowId}`);
  return sql.begin(async (transaction) => {
    const tx = transaction as unknown as Sql;
    const [channel] = await tx<{ tenant_id: string; active: boolean }[]>`select tenant_id, active from channels where id = ${input.channelId} for update`;
    if (!channel) return undefined;
    const [existing] = await tx<{ occurrences: number }[]>`select occurrences from channel_messages where id = ${messageId}`;
    if (existing) return { messageId, occurrences: existing.occurrences };
    const [first] = await tx<{ kind: string; endpoint_id: string | null }[]>`
      select kind, endpoint_id from channel_occurrences
      where channel_id = ${input.channelId} and series_key = ${input.seriesKey} and window_start <= ${windowStart} and message_id is null limit 1`;
    if (!first) return undefined;
    if (!channel.active) {
      // Deactivated since: what it would have said is dropped, not kept for a later window.
      await tx`delete from channel_occurrences where channel_id = ${input.channelId} and series_key = ${input.seriesKey} and window_start <= ${windowStart} and message_id is null`;
      return undefined;
    }
    await tx`
      insert into channel_messages (id, tenant_id, channel_id, kind, endpoint_id, series_key, window_start, window_end, workflow_id)
      values (${messageId}, ${channel.tenant_id}, ${input.channelId}, ${first.kind}, ${first.endpoint_id}, ${input.seriesKey}, ${windowStart}, ${new Date(input.windowEnd)}, ${input.workflowId})`;
    const claimed = await tx`
      update channel_occurrences set message_id = ${messageId}
      where channel_id = ${input.channelId} and series_key = ${input.seriesKey} and window_start <= ${windowStart} and message_id is null
      returning occurrence`;
    await tx`update channel_messages set occurrences = ${claimed.length} where id = ${messageId}`;
    return { messageId, occurrences: claimed.length };
  });
}

export async function channelMessage(sql: Sql, messageId: string): Promise<ChannelMessageRow | undefined> {
  const [row] = await sql<ChannelMessageRow[]>`select * from channel_messages where id = ${messageId}`;
  return row;
}

/** The message's occurrences, oldest first (a digest lists the first few and counts the rest). */
export async function messageOccurrences(sql: Sql, messageId: string, limit = 20): Promise<{ total: number; rows: OccurrenceRow[] }> {
  const rows = await sql<OccurrenceRow[]>`
    select occurrence, event_id, kind, endpoint_id, data, created_at from channel_occurrences
    where message_id = ${messageId} order by created_at, occurrence limit ${limit}`;
  const [counted] = await sql<{ total: number }[]>`select count(*)::int as total from channel_occurrences where message_id = ${messageId}`;
  return { total: counted?.total ?? rows.length, rows };
}

/** The channel a message goes to (with its secret), or undefined when it was deleted. */
export async function messageChannel(sql: Sql, box: SecretBox, messageId: string): Promise<ChannelRecord | undefined> {
  const [row] = await sql<ChannelRow[]>`
    select ${channelColumns(sql)} from channels where id = (select channel_id from channel_messages where id = ${messageId})`;
  return row ? toRecord(row, box) : undefined;
}

/** One try at sending a message, in its attempt log; the message row follows (sent, or sending with its last error). */
export async function recordChannelAttempt(
  sql: Sql,
  input: { messageId: string; attempt: number; startedAt: Date; durationMs: number; success: boolean; statusCode?: number | null; error?: string | null; response?: string | null; subject: string },
): Promise<void> {
  await sql.begin(async (transaction) => {
    const tx = transaction as unknown as Sql;
    const [message] = await tx<{ channel_id: string }[]>`select channel_id from channel_messages where id = ${input.messageId} for update`;
    if (!message) return;
    await tx`
      insert into channel_attempts (message_id, channel_id, attempt, started_at, duration_ms, success, status_code, error, response)
      values (${input.messageId}, ${message.channel_id}, ${input.attempt}, ${input.startedAt}, ${Math.round(input.durationMs)}, ${input.success},
              ${input.statusCode ?? null}, ${input.error?.slice(0, 2000) ?? null}, ${input.response?.slice(0, 2000) ?? null})
      on conflict (message_id, attempt) do update set started_at = excluded.started_at, duration_ms = excluded.duration_ms, success = excluded.success,
        status_code = excluded.status_code, error = excluded.error, response = excluded.response`;
    await tx`
      update channel_messages set
        attempts = (select count(*) from channel_attempts where message_id = ${input.messageId}),
        subject = ${input.subject},
        status = ${input.success ? 'sent' : 'sending'},
        sent_at = ${input.success ? sql`now()` : null},
        last_error = ${input.success ? null : (input.error ?? null)}
      where id = ${input.messageId} and status <> 'sent'`;
  });
}

/** A message whose sends ran out of retries (or could never succeed): failed, with the reason. */
export async function markChannelMessageFailed(sql: Sql, messageId: string, error: string): Promise<void> {
  await sql`update channel_messages set status = 'failed', last_error = coalesce(last_error, ${error}) where id = ${messageId} and status <> 'sent'`;
}

/** A channel's messages, newest first, each with its attempts. */
export async function listChannelMessages(
  sql: Sql,
  tenantId: string,
  channelId: string,
  page: { limit: number; cursor?: string },
): Promise<(ChannelMessageRow & { attempt_log: ChannelAttemptRow[] })[]> {
  const [channel] = await sql`select 1 from channels where tenant_id = ${tenantId} and id = ${channelId}`;
  if (!channel) throw new NotFound('Channel');
  const rows = await sql<ChannelMessageRow[]>`
    select * from channel_messages where channel_id = ${channelId} ${page.cursor ? sql`and id < ${page.cursor}` : sql``}
    order by id desc limit ${page.limit}`;
  if (rows.length === 0) return [];
  const attempts = await sql<ChannelAttemptRow[]>`
    select message_id, attempt, started_at, duration_ms, success, status_code, error, response from channel_attempts
    where message_id = any(${rows.map((row) => row.id)}::text[]) order by message_id, attempt`;
  return rows.map((row) => ({ ...row, attempt_log: attempts.filter((attempt) => attempt.message_id === row.id) }));
}

/** The endpoint a notice is about, as messages name it (deleted endpoints too), and its latest failed attempts. */
export async function endpointForNotice(sql: Sql, endpointId: string): Promise<{ url: string; description: string; last_errors: string[] } | undefined> {
  const [endpoint] = await sql<{ url: string; description: string }[]>`select url, description from endpoints where id = ${endpointId}`;
  if (!endpoint) return undefined;
  const errors = await sql<{ started_at: Date; status_code: number | null; error_message: string | null }[]>`
    select started_at, status_code, error_message from attempts
    where endpoint_id = ${endpointId} and not success and kind = 'delivery' order by started_at desc limit 5`;
  return {
    ...endpoint,
    last_errors: errors.map((row) => `${row.started_at.toISOString()} ${row.status_code ? `HTTP ${row.status_code}` : ''}${row.error_message ? ` ${row.error_message}` : ''}`.replace(/\s+/g, ' ').trim()),
  };
}
