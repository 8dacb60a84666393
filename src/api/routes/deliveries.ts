import express from 'express';
import type { ApiDeps } from '../app.js';
import { tenantOf, tenantScope } from '../auth.js';
import { NotFound } from '../../core/errors.js';
import { defineRoute, z } from '../openapi.js';
import { pageSchema, paginationQuerySchema, toPage } from '../pagination.js';
import { tenantIdParams } from './tenants.js';
import { apiDate } from '../dates.js';
import { getDelivery, listAttempts, listDeliveries, listEndpointAttempts, type AttemptView, type DeliveryView } from '../../core/deliveries.js';
import { deliveryFailureTypes, deliveryWorkflowId, progressQuery, terminatedFailureReason } from '../../../workflows/contracts.js';
import { queryLive } from '../../temporal/live-query.js';
import { cancelDelivery } from '../../core/delivery-operations.js';
import { retryDeliveryNow } from '../../core/retry-now.js';
import { deliveryRequestAsSent } from '../../core/request-preview.js';
import { createSecretBox } from '../../core/crypto.js';

/** Every failure_reason a delivery can end with: its workflow's failure types, and a termination found by the sweeper. */
const failureReasons = [...(Object.keys(deliveryFailureTypes) as (keyof typeof deliveryFailureTypes)[]), terminatedFailureReason] as const;

export const deliveryStatuses = ['pending', 'delivering', 'retrying', 'delivered', 'failed'] as const;

export const deliverySchema = z
  .object({
    id: z.string().openapi({ example: 'whd_01J7W9S52C2ZK1XFY2GM7Z7SAK' }),
    event_id: z.string(),
    endpoint_id: z.string(),
    event_type: z.string(),
    status: z.enum(deliveryStatuses),
    attempts: z.number().int(),
    max_attempts: z.number().int(),
    next_attempt_at: z.string().nullable().openapi({ format: 'date-time' }),
    last_status_code: z.number().int().nullable(),
    last_error: z.string().nullable(),
    failure_reason: z.enum(failureReasons).nullable().openapi({
      description:
        'Why a failed delivery failed: retries_exhausted, endpoint_disabled, endpoint_gone, delivery_not_found, template_error (its payload template failed to render; not retried), cancelled ' +
        '(its workflow was cancelled) or terminated (its workflow was terminated, found by the sweeper); null otherwise',
    }),
    replay_of: z.string().nullable(),
    created_at: z.string().openapi({ format: 'date-time' }),
    updated_at: z.string().openapi({ format: 'date-time' }),
    completed_at: z.string().nullable().openapi({ format: 'date-time' }),
    reset_reason: z.string().nullable().openapi({ description: "The latest reset's reason, as Temporal recorded it (`temporal workflow reset --reason`, the Web UI's Reset)" }),
    reset_at: z.string().nullable().openapi({ format: 'date-time', description: 'When the latest reset sent the delivery again' }),
    resets: z.number().int().openapi({ description: 'How many resets of its workflow sent the delivery again' }),
  })
  .openapi('Delivery');

export const attemptSchema = z
  .object({
    delivery_id: z.string().nullable(),
    endpoint_id: z.string().nullable(),
    attempt: z.number().int(),
    kind: z.enum(['delivery', 'test']),
    started_at: z.string().openapi({ format: 'date-time' }),
    duration_ms: z.number().int(),
    status_code: z.number().int().nullable(),
    success: z.boolean(),
    error_class: z.string().nullable().openapi({ description: 'timeout, connection_refused, connection_reset, dns, tls, http_status, network, blocked (URL policy), interrupted, or template (the payload template failed to render: no request was made)' }),
    error_message: z.string().nullable(),
    response_headers: z.record(z.string(), z.string()).nullable(),
    response_body: z.string().nullable().openapi({ description: 'The first 4 KiB of the response' }),
  })
  .openapi('Attempt');

const deliveryWithAttemptsSchema = deliverySchema
  .extend({ attempts_log: z.array(attemptSchema), live: z.boolean().openapi({ description: 'True when status and next_attempt_at come from the running workflow' }) })
  .openapi('DeliveryWithAttempts');

export const deliveryView = (row: DeliveryView) => {
  const { tenant_id: _tenant, ...view } = row;
  return view;
};
const attemptView = (row: AttemptView) => row;

const requestAsSentSchema = z
  .object({
    method: z.literal('POST'),
    url: z.string(),
    headers: z.record(z.string(), z.string()).openapi({ description: 'Signatures and custom header values masked (`****abcd`)' }),
    body: z.string().openapi({ description: 'The exact bytes sent' }),
    signed_at: z.string().openapi({ format: 'date-time', description: "The signing timestamp: the latest attempt's start" }),
  })
  .openapi('RequestAsSent');

const deliveryParams = tenantIdParams.extend({ delivery_id: z.string().max(100) });
const endpointParams = tenantIdParams.extend({ endpoint_id: z.string().max(100) });

export function deliveryRoutes(deps: ApiDeps): express.Router {
  const router = express.Router();
  const { sql } = deps;
  const scope = tenantScope(deps);
  const secretBox = createSecretBox(deps.config.HERALD_ENCRYPTION_KEY);
  const tags = ['Deliveries'];

  defineRoute(
    router,
    {
      method: 'get',
      path: '/v1/tenants/:tenant_id/deliveries',
      summary: 'List deliveries, newest first; status=failed is the dead-letter set',
      tags,
      access: 'tenant',
      request: {
        params: tenantIdParams,
        query: paginationQuerySchema.extend({
          endpoint_id: z.string().max(100).optional(),
          event_id: z.string().max(100).optional(),
          event_type: z.string().max(128).optional(),
          status: z.enum(deliveryStatuses).optional(),
          since: apiDate.optional(),
          until: apiDate.optional(),
        }),
      },
      responses: { 200: { description: 'A page of deliveries', schema: pageSchema(deliverySchema, 'DeliveryPage') } },
      errors: [404],
      before: [scope],
    },
    async ({ query }, _request, response) => {
      const tenant = tenantOf(response);
      const rows = await listDeliveries(sql, tenant.id, { ...query, limit: query.limit + 1 });
      response.json(toPage(rows, query, (row) => row.id, deliveryView));
    },
  );

  defineRoute(
    router,
    {
      method: 'get',
      path: '/v1/tenants/:tenant_id/deliveries/:delivery_id/request',
      summary: 'The request a delivery sends, as sent (its latest attempt, or its next one)',
      description:
        'The URL, every header and the exact body, built by the code that sends it. The signatures and the values of ' +
        "the endpoint's custom headers are masked to their last 4 characters; the signature is recomputed with the current secret. " +
        "409 when the endpoint's payload template does not render for this delivery (nothing was sent).",
      tags,
      access: 'tenant',
      request: { params: deliveryParams },
      responses: { 200: { description: 'The request', schema: requestAsSentSchema } },
      errors: [404, 409],
      before: [scope],
    },
    async ({ params }, _request, response) => {
      const request = await deliveryRequestAsSent({ sql, secretBox, extraProfiles: deps.config.HERALD_SIGNATURE_PROFILES }, tenantOf(response).id, params.delivery_id);
      response.json({ ...request, signed_at: request.signed_at.toISOString() });
    },
  );

  defineRoute(
    router,
    {
      method: 'get',
      path: '/v1/tenants/:tenant_id/deliveries/:delivery_id',
      summary: 'A delivery with its attempt log (live progress while it runs)',
      tags,
      access: 'tenant',
      request: { params: deliveryParams },
      responses: { 200: { description: 'The delivery', schema: deliveryWithAttemptsSchema } },
      errors: [404],
      before: [scope],
    },
    async ({ params }, _request, response) => {
      const tenant = tenantOf(response);
      const delivery = await getDelivery(sql, tenant.id, params.delivery_id);
      if (!delivery) throw new NotFound('Delivery');
      const running = delivery.status !== 'delivered' && delivery.status !== 'failed' && delivery.status !== 'pending';
      // The running workflow's own view, so "next retry in 42 s" is live; closed ones answer from Postgres.
      const live = running ? await queryLive(deps.temporal, deliveryWorkflowId(delivery.id), progressQuery) : undefined;
      const attempts = await listAttempts(sql, delivery.id);
      response.json({
        ...deliveryView(delivery),
        ...(live && live.status !== 'delivered' && live.status !== 'failed'
          ? {
              status: live.status,
              attempts: Math.max(live.attempt, delivery.attempts),
              max_attempts: live.max_attempts,
              next_attempt_at: live.next_attempt_at,
              last_status_code: live.last_status_code ?? delivery.last_status_code,
              last_error: live.last_error ?? delivery.last_error,
            }
          : {}),
        live: Boolean(live),
        attempts_log: attempts.map(attemptView),
      });
    },
  );

  defineRoute(
    router,
    {
      method: 'get',
      path: '/v1/tenants/:tenant_id/endpoints/:endpoint_id/attempts',
      summary: "The endpoint's attempt log, newest first",
      tags,
      access: 'tenant',
      request: { params: endpointParams, query: z.object({ limit: paginationQuerySchema.shape.limit, before: apiDate.optional() }) },
      responses: { 200: { description: 'Attempts, newest first', schema: z.object({ data: z.array(attemptSchema), next_before: z.string().nullable() }).openapi('AttemptPage') } },
      errors: [404],
      before: [scope],
    },
    async ({ params, query }, _request, response) => {
      const tenant = tenantOf(response);
      const [endpoint] = await sql`select id from endpoints where tenant_id = ${tenant.id} and id = ${params.endpoint_id} and deleted_at is null`;
      if (!endpoint) throw new NotFound('Endpoint');
      const rows = await listEndpointAttempts(sql, params.endpoint_id, { limit: query.limit + 1, before: query.before });
      const page = rows.slice(0, query.limit);
      response.json({ data: page.map(attemptView), next_before: rows.length > query.limit ? page.at(-1)!.started_at.toISOString() : null });
    },
  );

  defineRoute(
    router,
    {
      method: 'post',
      path: '/v1/tenants/:tenant_id/deliveries/:delivery_id/cancel',
      summary: 'Cancel a running delivery: it ends failed, with failure_reason cancelled',
      description:
        'Requests cancellation of the delivery workflow (as `temporal workflow cancel` does), which finishes the delivery as failed / `cancelled` and ' +
        'publishes `v1.webhook.delivery_failed`. Answers 200 once the delivery says so (within a few seconds), or 202 with the delivery as it stands ' +
        'when no worker has finished it yet (the cancellation stays requested). 409 when the delivery has already ended, or was delivered first.',
      tags,
      access: 'tenant',
      request: { params: deliveryParams },
      responses: {
        200: { description: 'The delivery, ended failed (cancelled)', schema: deliverySchema },
        202: { description: 'Cancellation requested; the delivery has not ended yet', schema: deliverySchema },
      },
      errors: [404, 409],
      before: [scope],
    },
    async ({ params }, _request, response) => {
      const { delivery, ended } = await cancelDelivery(deps, { tenantId: tenantOf(response).id, deliveryId: params.delivery_id });
      response.status(ended ? 200 : 202).json(deliveryView(delivery));
    },
  );

  defineRoute(
    router,
    {
      method: 'post',
      path: '/v1/tenants/:tenant_id/deliveries/:delivery_id/retry',
      summary: 'Run the next attempt of a delivery waiting for a retry now, and answer its outcome',
      description:
        "The delivery workflow's `retryNow` update (`temporal workflow update execute --name retryNow`): the wait is cut short, the next attempt runs " +
        'at once and its outcome is the answer: `status` delivered, retrying (failed; the next retry is scheduled) or failed (it was the last). ' +
        '409 when the delivery is not waiting for a retry: delivered, failed, or attempting right now.',
      tags,
      access: 'tenant',
      request: { params: deliveryParams },
      responses: {
        200: {
          description: 'The attempt it ran',
          schema: z
            .object({
              attempt: z.number().int(),
              status_code: z.number().int().nullable(),
              status: z.enum(deliveryStatuses),
              error: z.string().optional(),
            })
            .openapi('RetryNowOutcome'),
        },
      },
      errors: [404, 409],
      before: [scope],
    },
    async ({ params }, _request, response) => {
      response.json(await retryDeliveryNow(deps, { tenantId: tenantOf(response).id, deliveryId: params.delivery_id }));
    },
  );

  return router;
}
