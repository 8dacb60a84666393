import express, { type RequestHandler } from 'express';
import type { ApiDeps } from '../app.js';
import { endpointScope, principalOf, principalTenantId, tenantOf, tenantScope } from '../auth.js';
import { Invalid, NotFound } from '../../core/errors.js';
import { testSendLimiter } from '../test-send-limit.js';
import { defineRoute, withOpenApi, z } from '../openapi.js';
import { apiDateOrAgo } from '../dates.js';
import { tenantIdParams } from './tenants.js';
import { createSecretBox } from '../../core/crypto.js';
import { endpointDefaults } from '../../core/endpoint-defaults.js';
import { loadEndpointForDelivery } from '../../core/endpoints.js';
import { createRecovery, getRecovery, replayDelivery, replayEvent, type RecoveryRow } from '../../core/replay.js';
import { builtInProfiles, isKnownProfile, signatureHeaders, signatureSettingsSchema } from '../../core/signing.js';
import { sendTestWebhook, testRegisteredEndpoint } from '../../core/test-send.js';
import { createDeliveryAgent } from '../../core/http-delivery.js';
import { urlPolicyFromConfig } from '../../core/url-policy.js';
import { recoverySummary } from '../../core/workflow-summaries.js';
import { queryLive } from '../../temporal/live-query.js';
import { HeraldEndpointId, HeraldTenantId, recoveryProgressQuery, workflowTypes, type RecoverWorkflow } from '../../../workflows/contracts.js';

/**
 * What operators do to deliveries after the fact: replay one, replay an event, recover an endpoint's
 * failures in bulk (a workflow of its own), and send test requests to an endpoint or to any URL.
 */

const replayedSchema = z.object({ delivery_id: z.string(), endpoint_id: z.string(), replay_of: z.string().nullable() }).openapi('Replay');
const forceField = z.boolean().default(false).openapi({ description: 'Replay even though the endpoint is disabled (the replay then fails as endpoint_disabled until it is enabled)' });

const recoverBody = z
  .object({
    since: apiDateOrAgo('Start of the window (by delivery creation time)'),
    until: apiDateOrAgo('End of the window (default: now)').optional(),
    status: z.enum(['failed', 'delivered']).default('failed').openapi({ description: 'Which deliveries to replay' }),
    batch_size: z.number().int().min(1).max(1000).default(100).openapi({ description: 'Deliveries replayed per step; smaller steps spare a receiver that just recovered' }),
    force: forceField,
  })
  .strict()
  .openapi('Recover');

const recoverySchema = z
  .object({
    id: z.string().openapi({ example: 'rcv_01J7W9S4TSQ0T4SH43JYB9W5R8' }),
    endpoint_id: z.string(),
    since: z.string().openapi({ format: 'date-time' }),
    until: z.string().openapi({ format: 'date-time' }),
    delivery_status: z.enum(['failed', 'delivered']),
    status: z.enum(['running', 'completed']),
    total: z.number().int(),
    replayed: z.number().int(),
    remaining: z.number().int(),
    batch_size: z.number().int(),
    live: z.boolean().openapi({ description: 'True when the counts come from the running workflow (query `progress`)' }),
    workflow_id: z.string(),
    created_at: z.string().openapi({ format: 'date-time' }),
    finished_at: z.string().nullable().openapi({ format: 'date-time' }),
  })
  .openapi('Recovery');

/** What the default profile adds, computed by it: header names live in the signing profiles only. */
const exampleSignatureHeaders = signatureHeaders({
  profile: builtInProfiles[endpointDefaults.signatureProfile],
  secrets: ['whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'],
  messageId: 'whd_01J7W9S4TSQ0T4SH43JYB9W5R8',
  timestamp: 1704067200,
  body: '{}',
  clientId: '',
});

const testResultSchema = z
  .object({
    success: z.boolean().openapi({ description: 'True for a 2xx answer' }),
    status_code: z.number().int().nullable(),
    duration_ms: z.number().int(),
    response_excerpt: z.string().openapi({ description: 'The first 1,000 characters of the response body' }),
    response_headers: z.record(z.string(), z.string()).openapi({ description: "The response's headers" }),
    signature_headers: z.record(z.string(), z.string()).openapi({ description: 'The headers the signature profile added', example: exampleSignatureHeaders }),
    error_class: z.string().nullable(),
    error_message: z.string().nullable(),
    delivery_id: z.string().openapi({ description: 'The message id the request was signed with' }),
    event_id: z.string(),
  })
  .openapi('TestResult');

const adHocTestBody = z
  .object({
    endpoint_url: z.string().min(1).max(2048).openapi({ example: 'https://your-app.com/webhooks/herald' }),
    signing_secret: z.string().min(1).max(500).openapi({ example: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' }),
    signature: withOpenApi(signatureSettingsSchema, 'SignatureSettings').optional(),
  })
  .strict()
  .openapi('AdHocTest');

const endpointParams = tenantIdParams.extend({ endpoint_id: z.string().max(100) });

const adHocTestTimeoutMs = 10_000;

/** The rate limit of test sends, for the documentation of both routes. */
const testSendLimitText = (otherRoute: string) =>
  `Test sends count per tenant, this route and ${otherRoute} together: at most HERALD_TEST_SENDS_PER_MINUTE (default 10) per minute, then 429 \`rate_limited\` with Retry-After`;

function recoveryView(row: RecoveryRow, live: { total: number; replayed: number } | undefined) {
  const replayed = live ? Math.max(live.replayed, row.replayed) : row.replayed;
  return {
    id: row.id,
    endpoint_id: row.endpoint_id,
    since: row.since,
    until: row.until,
    delivery_status: row.delivery_status,
    status: row.status,
    total: row.total,
    replayed,
    remaining: Math.max(0, row.total - replayed),
    batch_size: row.batch_size,
    live: Boolean(live),
    workflow_id: row.workflow_id,
    created_at: row.created_at,
    finished_at: row.finished_at,
  };
}

export function operationRoutes(deps: ApiDeps): express.Router {
  const router = express.Router();
  const { sql, config } = deps;
  const box = createSecretBox(config.HERALD_ENCRYPTION_KEY);
  const scope = tenantScope(deps);
  const dispatchDeps = { sql, temporal: deps.temporal, taskQueue: config.TEMPORAL_TASK_QUEUE, channelDigestWindowMs: config.HERALD_CHANNEL_DIGEST_WINDOW_MS };
  // Test sends go out like deliveries: the URL policy is applied again at connect time (DNS rebinding).
  const urlPolicy = urlPolicyFromConfig(config);
  const sendOptions = { extraProfiles: config.HERALD_SIGNATURE_PROFILES, dispatcher: createDeliveryAgent(urlPolicy) };
  const tags = ['Operations'];

  /** 404 for an endpoint the tenant does not have, before the body is validated (no 422 probing). */
  const endpointExists = endpointScope(deps);

  const testSendLimit = testSendLimiter(deps);

  defineRoute(
    router,
    {
      method: 'post',
      path: '/v1/tenants/:tenant_id/deliveries/:delivery_id/replay',
      summary: 'Replay a delivery: a new attempt series (new delivery id and workflow) for the same event and endpoint',
      description: '409 while the delivery is still running, and when its endpoint is disabled unless `force` is true.',
      tags,
      access: 'tenant',
      request: { params: tenantIdParams.extend({ delivery_id: z.string().max(100) }), body: z.object({ force: forceField }).strict().openapi('ReplayDelivery') },
      responses: { 202: { description: 'The replay, started', schema: replayedSchema } },
      errors: [404, 409],
      before: [scope],
    },
    async ({ params, body }, _request, response) => {
      const replay = await replayDelivery(dispatchDeps, { tenantId: tenantOf(response).id, deliveryId: params.delivery_id, force: body.force });
      response.status(202).json(replay);
    },
  );

  defineRoute(
    router,
    {
      method: 'post',
      path: '/v1/tenants/:tenant_id/events/:event_id/replay',
      summary: "Replay an event to its type's current subscribers, or to the listed endpoints",
      description: 'Endpoints with a delivery of this event still running are skipped (listed in `skipped`).',
      tags,
      access: 'tenant',
      request: {
        params: tenantIdParams.extend({ event_id: z.string().max(100) }),
        body: z
          .object({
            endpoint_ids: z.array(z.string().max(100)).min(1).max(100).optional().openapi({ description: "Only these endpoints (the tenant's, subscribed or not)" }),
            force: forceField,
          })
          .strict()
          .openapi('ReplayEvent'),
      },
      responses: {
        202: {
          description: 'The replays, started',
          schema: z
            .object({ replays: z.array(replayedSchema), skipped: z.array(z.object({ endpoint_id: z.string(), reason: z.literal('running'), delivery_id: z.string() })) })
            .openapi('EventReplays'),
        },
      },
      errors: [404, 409],
      before: [scope],
    },
    async ({ params, body }, _request, response) => {
      const result = await replayEvent(dispatchDeps, { tenantId: tenantOf(response).id, eventId: params.event_id, endpointIds: body.endpoint_ids, force: body.force });
      response.status(202).json(result);
    },
  );

  defineRoute(
    router,
    {
      method: 'post',
      path: '/v1/tenants/:tenant_id/endpoints/:endpoint_id/recover',
      summary: "Recover: replay every failed (or delivered) delivery of the endpoint in a window, as a workflow",
      description:
        'Counts the matching deliveries (created in [since, until), ended before now) and replays them in batches in the workflow `recover-<recovery_id>`; follow it with GET …/recoveries/:recovery_id. A delivery is replayed at most once per recovery.',
      tags,
      access: 'tenant',
      request: { params: endpointParams, body: recoverBody },
      responses: { 202: { description: 'The recovery, started', schema: z.object({ recovery_id: z.string(), count: z.number().int(), workflow_id: z.string() }).openapi('RecoveryStarted') } },
      errors: [404, 409],
      before: [scope, endpointExists],
    },
    async ({ params, body }, _request, response) => {
      const tenant = tenantOf(response);
      const recovery = await createRecovery(sql, {
        tenantId: tenant.id,
        endpointId: params.endpoint_id,
        since: body.since,
        until: body.until,
        deliveryStatus: body.status,
        batchSize: body.batch_size,
        force: body.force,
      });
      try {
        await deps.temporal.workflow.start<RecoverWorkflow>(workflowTypes.recover, {
          workflowId: recovery.workflow_id,
          taskQueue: config.TEMPORAL_TASK_QUEUE,
          args: [{ recoveryId: recovery.id, batchSize: recovery.batch_size, total: recovery.total }],
          workflowIdReusePolicy: 'REJECT_DUPLICATE',
          // The Web UI's line for it: `recovery of failed deliveries → https://receiver.example.com/hooks (Acme)`.
          staticSummary: recoverySummary({ delivery_status: recovery.delivery_status, url: (await loadEndpointForDelivery(sql, box, recovery.endpoint_id))?.url ?? recovery.endpoint_id, tenant_name: tenant.name }),
          typedSearchAttributes: [
            { key: HeraldTenantId, value: tenant.id },
            { key: HeraldEndpointId, value: recovery.endpoint_id },
          ],
        });
      } catch (error) {
        // Without its workflow the row would claim a recovery that never runs.
        await sql`delete from recoveries where id = ${recovery.id}`;
        throw error;
      }
      response.status(202).json({ recovery_id: recovery.id, count: recovery.total, workflow_id: recovery.workflow_id });
    },
  );

  defineRoute(
    router,
    {
      method: 'get',
      path: '/v1/tenants/:tenant_id/endpoints/:endpoint_id/recoveries/:recovery_id',
      summary: "A recovery's progress (live from its workflow while it runs)",
      tags,
      access: 'tenant',
      request: { params: endpointParams.extend({ recovery_id: z.string().max(100) }) },
      responses: { 200: { description: 'The recovery', schema: recoverySchema } },
      errors: [404],
      before: [scope],
    },
    async ({ params }, _request, response) => {
      const recovery = await getRecovery(sql, params.recovery_id, { tenantId: tenantOf(response).id, endpointId: params.endpoint_id });
      if (!recovery) throw new NotFound('Recovery');
      const live = recovery.status === 'running' ? await queryLive(deps.temporal, recovery.workflow_id, recoveryProgressQuery) : undefined;
      response.json(recoveryView(recovery, live));
    },
  );

  defineRoute(
    router,
    {
      method: 'post',
      path: '/v1/tenants/:tenant_id/endpoints/:endpoint_id/test',
      summary: 'Send a signed v1.webhook.test request to the endpoint now, and report the answer',
      description:
        `Signed with the endpoint's profile and secrets, with its custom headers and timeout, its payload template rendered when it has one (a render failure answers error_class template and sends nothing), sent once. Recorded in the endpoint's attempt log as kind \`test\`; it never counts toward deactivation. Disabled endpoints can be tested too. ${testSendLimitText('POST /v1/webhooks/test')}.`,
      tags,
      access: 'tenant',
      request: { params: endpointParams },
      responses: { 200: { description: 'What the endpoint answered (success is false for non-2xx or no answer)', schema: testResultSchema } },
      errors: [404, 429],
      before: [scope, endpointExists, testSendLimit],
    },
    async ({ params }, _request, response) => {
      const endpoint = await loadEndpointForDelivery(sql, box, params.endpoint_id);
      if (!endpoint || endpoint.deleted || endpoint.tenant_id !== tenantOf(response).id) throw new NotFound('Endpoint');
      response.json(await testRegisteredEndpoint(sql, endpoint, sendOptions));
    },
  );

  defineRoute(
    router,
    {
      method: 'post',
      path: '/v1/webhooks/test',
      summary: 'Send a signed v1.webhook.test request to a URL that is not registered (to check a receiver before registering it)',
      description: `The URL must pass the same policy as endpoint URLs. Not recorded. ${testSendLimitText('POST /v1/tenants/{tenant_id}/endpoints/{endpoint_id}/test')}; the admin key's calls here share one bucket of their own.`,
      tags,
      access: 'tenant',
      request: { body: adHocTestBody },
      responses: { 200: { description: 'What the URL answered', schema: testResultSchema } },
      errors: [429],
      before: [testSendLimit],
    },
    async ({ body }, _request, response) => {
      const issue = await urlPolicy.destinationIssue(body.endpoint_url, { allowHttp: config.HERALD_ALLOW_HTTP });
      if (issue) throw Invalid.field('body.endpoint_url', issue, 'invalid_url');
      const signature = body.signature ?? { profile: endpointDefaults.signatureProfile };
      if (!isKnownProfile(signature.profile, sendOptions.extraProfiles)) {
        throw Invalid.field('body.signature.profile', `unknown signature profile "${signature.profile}"`, 'unknown_profile');
      }
      const principal = principalOf(response);
      const target = {
        tenant_id: principalTenantId(principal) ?? 'herald',
        url: body.endpoint_url,
        headers: {},
        signature,
        envelope: 'herald' as const,
        secrets: [body.signing_secret],
        timeout_ms: adHocTestTimeoutMs,
      };
      let sent;
      try {
        sent = await sendTestWebhook(target, sendOptions);
      } catch (error) {
        // The request is made only once signing succeeded: what throws is the secret or the signature settings.
        throw Invalid.field('body.signing_secret', `cannot sign with it: ${(error as Error).message}`, 'invalid_secret');
      }
      response.json(sent.answer);
    },
  );

  return router;
}
