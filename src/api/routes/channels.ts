import express from 'express';
import type { ApiDeps } from '../app.js';
import { tenantScope } from '../auth.js';
import { createSecretBox } from '../../core/crypto.js';
import {
  channelOperationalEvents,
  channelTypes,
  createChannel,
  deleteChannel,
  getChannel,
  listChannelMessages,
  listChannels,
  updateChannel,
  type ChannelRecord,
} from '../../core/channels.js';
import { testChannel } from '../../core/channel-senders.js';
import { eventTypeNameMessage, eventTypeNamePattern } from '../../core/event-catalog.js';
import { createDeliveryAgent } from '../../core/http-delivery.js';
import { urlPolicyFromConfig } from '../../core/url-policy.js';
import { testSendLimiter } from '../test-send-limit.js';
import { defineRoute, z } from '../openapi.js';
import { pageSchema, paginationQuerySchema, rowsToFetch, toPage } from '../pagination.js';
import { tenantIdParams } from './tenants.js';

/**
 * A tenant's notification channels: email recipients or a Slack incoming webhook that receive Herald's operational
 * notices (and, when named, the tenant's own event types), digested per endpoint and kind (src/core/channels.ts).
 */

const dateTime = z.string().openapi({ format: 'date-time' });

const emailAddress = z.email().max(320).openapi({ example: 'oncall@example.com' });

const fields = {
  description: z.string().max(1000),
  events: z
    .array(z.string().max(128).refine((name) => eventTypeNamePattern.test(name), eventTypeNameMessage))
    .min(1)
    .max(100)
    .openapi({ description: `Operational event types (${channelOperationalEvents.join(', ')}; all of them by default) and, optionally, catalog event types of the tenant's own events`, example: ['v1.endpoint.disabled'] }),
  active: z.boolean(),
  to: z.array(emailAddress).min(1).max(50).openapi({ description: 'Email channels: the recipients' }),
  webhook_url: z.string().min(1).max(2048).openapi({ description: 'Slack channels: the incoming-webhook URL (https://hooks.slack.com/services/…); encrypted at rest, masked in answers', example: 'https://hooks.slack.com/services/T000/B000/XXXX' }),
};

const common = {
  description: fields.description.default(''),
  events: fields.events.default([...channelOperationalEvents]),
  active: fields.active.default(true),
};

const createBody = z
  .discriminatedUnion('type', [
    z.object({ type: z.literal('email'), to: fields.to, ...common }).strict().openapi('CreateEmailChannel'),
    z.object({ type: z.literal('slack'), webhook_url: fields.webhook_url, ...common }).strict().openapi('CreateSlackChannel'),
  ])
  .openapi('CreateChannel', { description: '`{type: "email", to: [...]}` or `{type: "slack", webhook_url}`, plus `events`, `description`, `active`' });

const updateBody = z.strictObject(fields).partial().openapi('UpdateChannel');

const channelParams = tenantIdParams.extend({ channel_id: z.string().max(100).openapi({ example: 'chn_01J7W9S4TSQ0T4SH43JYB9W5R8' }) });

const channelSchema = z
  .object({
    id: z.string().openapi({ example: 'chn_01J7W9S4TSQ0T4SH43JYB9W5R8' }),
    tenant_id: z.string(),
    type: z.enum(channelTypes),
    description: z.string(),
    to: z.array(z.string()).nullable().openapi({ description: 'Email channels: the recipients' }),
    webhook_url: z.string().nullable().openapi({ description: 'Slack channels: the webhook URL masked (origin and ****last four)', example: 'https://hooks.slack.com/****XXXX' }),
    events: z.array(z.string()),
    active: z.boolean(),
    created_at: dateTime,
    updated_at: dateTime,
  })
  .openapi('Channel');

const attemptSchema = z
  .object({
    attempt: z.number().int(),
    started_at: dateTime,
    duration_ms: z.number().int(),
    success: z.boolean(),
    status_code: z.number().int().nullable().openapi({ description: 'Slack: the HTTP status; email: the SMTP reply code of a failure' }),
    error: z.string().nullable(),
    response: z.string().nullable().openapi({ description: "Slack's answer body or the SMTP server's last reply" }),
  })
  .openapi('ChannelAttempt');

const messageSchema = z
  .object({
    id: z.string().openapi({ example: 'cmsg_01J7W9S4TSQ0T4SH43JYB9W5R8' }),
    channel_id: z.string(),
    kind: z.string().openapi({ description: 'The event type the message is about', example: 'v1.endpoint.disabled' }),
    endpoint_id: z.string().nullable(),
    status: z.enum(['pending', 'sending', 'sent', 'failed']).openapi({ description: 'sending: tried and failed, will retry; failed: out of retries' }),
    occurrences: z.number().int().openapi({ description: 'How many notices this message carries (a digest when more than one)' }),
    window_start: dateTime,
    window_end: dateTime,
    subject: z.string().nullable(),
    attempts: z.number().int(),
    last_error: z.string().nullable(),
    workflow_id: z.string().openapi({ description: 'The Temporal workflow that sends it (channel-<channel>-<series>-<window>)' }),
    created_at: dateTime,
    sent_at: dateTime.nullable(),
    attempt_log: z.array(attemptSchema),
  })
  .openapi('ChannelMessage');

const testResultSchema = z
  .object({
    success: z.boolean(),
    status_code: z.number().int().nullable(),
    error: z.string().nullable(),
    response: z.string().nullable(),
    duration_ms: z.number().int(),
  })
  .openapi('ChannelTestResult');

/** `https://hooks.slack.com/****XXXX`: enough to tell webhooks apart, never enough to post to one. */
export function maskWebhookUrl(url: string): string {
  try {
    return `${new URL(url).origin}/****${url.slice(-4)}`;
  } catch {
    return `****${url.slice(-4)}`;
  }
}

function channelView(channel: ChannelRecord) {
  return {
    id: channel.id,
    tenant_id: channel.tenant_id,
    type: channel.type,
    description: channel.description,
    to: channel.to,
    webhook_url: channel.webhook_url === null ? null : maskWebhookUrl(channel.webhook_url),
    events: channel.events,
    active: channel.active,
    created_at: channel.created_at,
    updated_at: channel.updated_at,
  };
}

export function channelRoutes(deps: ApiDeps): express.Router {
  const router = express.Router();
  const { sql, config } = deps;
  const box = createSecretBox(config.HERALD_ENCRYPTION_KEY);
  const scope = tenantScope(deps);
  const tags = ['Channels'];
  const base = '/v1/tenants/:tenant_id/channels';
  const rules = { allowHttp: config.HERALD_ALLOW_HTTP, emailConfigured: config.HERALD_SMTP_URL !== undefined };
  const senderDeps = { sql, box, config, httpAgent: createDeliveryAgent(urlPolicyFromConfig(config)) };

  // Test messages count with the tenant's other test sends (HERALD_TEST_SENDS_PER_MINUTE): no mail or Slack reflector.
  const testSendLimit = testSendLimiter(deps);

  defineRoute(
    router,
    {
      method: 'post',
      path: base,
      summary: 'Create a notification channel (email or Slack)',
      description:
        'Channels receive Herald\'s operational notices (endpoint disabled with its reason and last errors, endpoint re-enabled, delivery failed after its retries, recovery finished) and, optionally, the tenant\'s own event types. Each message is sent by a Temporal workflow with retries and an attempt log (`GET …/channels/{channel_id}/messages`). At most one message per endpoint and kind per digest window (HERALD_CHANNEL_DIGEST_WINDOW_MS, 15 minutes): a storm gives one message with a count. Email channels need HERALD_SMTP_URL (422 `smtp_not_configured` otherwise).',
      tags,
      access: 'tenant',
      request: { params: tenantIdParams, body: createBody },
      responses: { 201: { description: 'The channel, its Slack URL masked', schema: channelSchema } },
      errors: [404],
      before: [scope],
    },
    async ({ params, body }, _request, response) => {
      const channel = await createChannel(
        sql,
        box,
        params.tenant_id,
        { type: body.type, description: body.description, events: body.events, active: body.active, to: 'to' in body ? body.to : null, webhook_url: 'webhook_url' in body ? body.webhook_url : null },
        rules,
      );
      response.status(201).json(channelView(channel));
    },
  );

  defineRoute(
    router,
    {
      method: 'get',
      path: base,
      summary: "List the tenant's notification channels",
      tags,
      access: 'tenant',
      request: { params: tenantIdParams, query: paginationQuerySchema },
      responses: { 200: { description: 'A page of channels, Slack URLs masked', schema: pageSchema(channelSchema, 'ChannelPage') } },
      errors: [404],
      before: [scope],
    },
    async ({ params, query }, _request, response) => {
      const rows = await listChannels(sql, box, params.tenant_id, { limit: rowsToFetch(query), cursor: query.cursor });
      response.json(toPage(rows, query, (row) => row.id, channelView));
    },
  );

  defineRoute(
    router,
    {
      method: 'get',
      path: `${base}/:channel_id`,
      summary: 'Get a notification channel',
      tags,
      access: 'tenant',
      request: { params: channelParams },
      responses: { 200: { description: 'The channel', schema: channelSchema } },
      errors: [404],
      before: [scope],
    },
    async ({ params }, _request, response) => {
      response.json(channelView(await getChannel(sql, box, params.tenant_id, params.channel_id)));
    },
  );

  defineRoute(
    router,
    {
      method: 'patch',
      path: `${base}/:channel_id`,
      summary: 'Change a notification channel (not its type)',
      tags,
      access: 'tenant',
      request: { params: channelParams, body: updateBody },
      responses: { 200: { description: 'The channel', schema: channelSchema } },
      errors: [404],
      before: [scope],
    },
    async ({ params, body }, _request, response) => {
      response.json(channelView(await updateChannel(sql, box, params.tenant_id, params.channel_id, body, rules)));
    },
  );

  defineRoute(
    router,
    {
      method: 'delete',
      path: `${base}/:channel_id`,
      summary: 'Delete a notification channel, its messages and their attempt log',
      tags,
      access: 'tenant',
      request: { params: channelParams },
      responses: { 204: { description: 'Deleted' } },
      errors: [404],
      before: [scope],
    },
    async ({ params }, _request, response) => {
      await deleteChannel(sql, params.tenant_id, params.channel_id);
      response.status(204).end();
    },
  );

  defineRoute(
    router,
    {
      method: 'post',
      path: `${base}/:channel_id/test`,
      summary: 'Send a test message to the channel now, and report the answer',
      description: `Sent once, synchronously; not retried and not in the attempt log. Test messages count with the tenant's test sends: at most HERALD_TEST_SENDS_PER_MINUTE (default 10) per minute, then 429 \`rate_limited\` with Retry-After.`,
      tags,
      access: 'tenant',
      request: { params: channelParams },
      responses: { 200: { description: 'What the SMTP server or Slack answered', schema: testResultSchema } },
      errors: [404, 429],
      before: [scope, testSendLimit],
    },
    async ({ params }, _request, response) => {
      response.json(await testChannel(senderDeps, params.tenant_id, params.channel_id));
    },
  );

  defineRoute(
    router,
    {
      method: 'get',
      path: `${base}/:channel_id/messages`,
      summary: "The channel's messages, newest first, each with its attempt log",
      tags,
      access: 'tenant',
      request: { params: channelParams, query: paginationQuerySchema },
      responses: { 200: { description: 'A page of messages', schema: pageSchema(messageSchema, 'ChannelMessagePage') } },
      errors: [404],
      before: [scope],
    },
    async ({ params, query }, _request, response) => {
      const rows = await listChannelMessages(sql, params.tenant_id, params.channel_id, { limit: rowsToFetch(query), cursor: query.cursor });
      response.json(
        toPage(rows, query, (row) => row.id, (row) => ({
          id: row.id,
          channel_id: row.channel_id,
          kind: row.kind,
          endpoint_id: row.endpoint_id,
          status: row.status,
          occurrences: row.occurrences,
          window_start: row.window_start,
          window_end: row.window_end,
          subject: row.subject,
          attempts: row.attempts,
          last_error: row.last_error,
          workflow_id: row.workflow_id,
          created_at: row.created_at,
          sent_at: row.sent_at,
          attempt_log: row.attempt_log.map(({ message_id: _id, ...attempt }) => attempt),
        })),
      );
    },
  );

  return router;
}
