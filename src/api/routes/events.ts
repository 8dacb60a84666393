import express, { type RequestHandler } from 'express';
import type { ApiDeps } from '../app.js';
import { tenantOf, tenantScope } from '../auth.js';
import { Invalid, NotFound } from '../../core/errors.js';
import { defineRoute, z } from '../openapi.js';
import { pageSchema, paginationQuerySchema, rowsToFetch, toPage } from '../pagination.js';
import { fieldIssues } from '../validation.js';
import { tenantIdParams } from './tenants.js';
import { publishEvent } from '../../core/publish.js';
import { getEvent, listEventDeliveries } from '../../core/deliveries.js';
import { deliverySchema, deliveryView } from './deliveries.js';

const publishBody = z
  .object({
    event_type: z.string().min(1).max(128).openapi({ example: 'v1.case.completed' }),
    // JSON null is no event, and the events table has no room for it (data is not null).
    data: z.unknown().refine((value) => value !== undefined && value !== null, 'is required and must not be null').openapi({ type: 'object', example: { case_status: 'completed' } }),
    trace_id: z.string().min(1).max(128).optional().openapi({ description: 'Correlates dashboard logs with receiver logs; generated (trc_…) when absent' }),
  })
  .strict()
  .openapi('PublishEvent');

const publishedSchema = z
  .object({
    event_id: z.string(),
    trace_id: z.string(),
    delivery_count: z.number().int(),
    deliveries: z.array(z.object({ delivery_id: z.string(), endpoint_id: z.string() })).openapi({ description: 'The first 100; GET the event for all' }),
  })
  .openapi('PublishedEvent');

const eventSchema = z
  .object({
    id: z.string(),
    tenant_id: z.string(),
    event_type: z.string(),
    schema_version: z.string(),
    trace_id: z.string(),
    data: z.unknown(),
    created_at: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('Event');

const eventWithDeliveriesSchema = eventSchema.extend({ deliveries: z.array(deliverySchema) }).openapi('EventWithDeliveries');
const eventParams = tenantIdParams.extend({ event_id: z.string().max(100) });

/** Seed 000: a per-request destination bypasses the endpoint's signing, retries and policy. */
const perRequestUrlFields = ['url', 'endpoint_url', 'webhook_url'];
const rejectPerRequestUrls: RequestHandler = (request, _response, next) => {
  const body = request.body as Record<string, unknown> | undefined;
  const field = body && typeof body === 'object' ? perRequestUrlFields.find((name) => name in body) : undefined;
  if (field) {
    throw Invalid.field(`body.${field}`, 'per-request webhook URLs are not accepted; register an endpoint instead', 'per_request_url');
  }
  next();
};

const idempotencyKeyHeader = z.string().min(1).max(255).regex(/^[\x21-\x7e]+$/, 'must be printable ASCII without spaces');

export function eventRoutes(deps: ApiDeps): express.Router {
  const router = express.Router();
  const { sql } = deps;
  const scope = tenantScope(deps);
  const tags = ['Events'];
  const dispatchDeps = { sql, temporal: deps.temporal, taskQueue: deps.config.TEMPORAL_TASK_QUEUE, channelDigestWindowMs: deps.config.HERALD_CHANNEL_DIGEST_WINDOW_MS };

  defineRoute(
    router,
    {
      method: 'post',
      path: '/v1/tenants/:tenant_id/events',
      summary: 'Publish an event to every subscribed endpoint',
      description:
        'Stores the event and one delivery per subscribed endpoint before answering. Send an `Idempotency-Key` header to make retries safe: the same key within 24 h returns the original answer; the same key with another body is 409. A deprecated event type is published as usual, and the answer carries `Deprecation: @<unix seconds it was deprecated>` (RFC 9745) with `Link: </v1/event-types/<name>>; rel="deprecation"`.',
      tags,
      access: 'tenant',
      request: { params: tenantIdParams, body: publishBody },
      responses: { 202: { description: 'Accepted: stored and being delivered', schema: publishedSchema } },
      errors: [404, 409],
      before: [scope, rejectPerRequestUrls],
    },
    async ({ body }, request, response) => {
      const tenant = tenantOf(response);
      const rawKey = request.headers['idempotency-key'];
      let idempotencyKey: string | undefined;
      if (rawKey !== undefined) {
        const parsed = idempotencyKeyHeader.safeParse(rawKey);
        if (!parsed.success) throw new Invalid(fieldIssues(parsed.error, 'headers.idempotency-key'));
        idempotencyKey = parsed.data;
      }
      const { deprecatedSince, ...result } = await publishEvent(dispatchDeps, { tenantId: tenant.id, eventType: body.event_type, data: body.data, traceId: body.trace_id, idempotencyKey });
      if (deprecatedSince) {
        deps.logger.warn({ tenant_id: tenant.id, event_type: body.event_type, deprecated_at: deprecatedSince, event_id: result.event_id }, 'published a deprecated event type');
        response.setHeader('deprecation', `@${Math.floor(deprecatedSince.getTime() / 1000)}`);
        response.setHeader('link', `</v1/event-types/${encodeURIComponent(body.event_type)}>; rel="deprecation"`);
      }
      response.status(202).json(result);
    },
  );

  defineRoute(
    router,
    {
      method: 'get',
      path: '/v1/tenants/:tenant_id/events',
      summary: 'List events, newest first',
      tags,
      access: 'tenant',
      request: { params: tenantIdParams, query: paginationQuerySchema.extend({ event_type: z.string().max(128).optional() }) },
      responses: { 200: { description: 'A page of events', schema: pageSchema(eventSchema, 'EventPage') } },
      errors: [404],
      before: [scope],
    },
    async ({ query }, _request, response) => {
      const tenant = tenantOf(response);
      const rows = await sql`
        select id, tenant_id, event_type, schema_version, trace_id, data, created_at from events
        where tenant_id = ${tenant.id} ${query.event_type ? sql`and event_type = ${query.event_type}` : sql``}
          and ${query.cursor ? sql`id < ${query.cursor}` : sql`true`}
        order by id desc limit ${rowsToFetch(query)}`;
      response.json(toPage([...rows], query, (row) => row.id as string, (row) => row));
    },
  );

  defineRoute(
    router,
    {
      method: 'get',
      path: '/v1/tenants/:tenant_id/events/:event_id',
      summary: 'An event with all of its deliveries',
      tags,
      access: 'tenant',
      request: { params: eventParams },
      responses: { 200: { description: 'The event', schema: eventWithDeliveriesSchema } },
      errors: [404],
      before: [scope],
    },
    async ({ params }, _request, response) => {
      const tenant = tenantOf(response);
      const event = await getEvent(sql, tenant.id, params.event_id);
      if (!event) throw new NotFound('Event');
      const deliveries = await listEventDeliveries(sql, event.id);
      response.json({ ...event, deliveries: deliveries.map(deliveryView) });
    },
  );

  return router;
}
