import express from 'express';
import type { ApiDeps } from '../app.js';
import { createSecretBox, generateSigningSecret, maskHeaderValue, maskHeaders, maskSecret } from '../../core/crypto.js';
import { durationPattern, formatDuration, parseDuration } from '../../core/durations.js';
import {
  createEndpoint,
  deleteEndpoint,
  endpointRuleIssues,
  endpointWarnings,
  getEndpoint,
  listEndpoints,
  rotateEndpointSecret,
  updateEndpoint,
  type EndpointRecord,
  type EndpointSettings,
} from '../../core/endpoints.js';
import { envelopeKindSchema } from '../../core/envelope.js';
import { headerMapSchema } from '../../core/http-headers.js';
import { allEventTypes, eventTypeNameMessage, eventTypeNamePattern } from '../../core/event-catalog.js';
import { retryScheduleSchema } from '../../core/retry-schedule.js';
import { endpointDefaults } from '../../core/endpoint-defaults.js';
import { signatureSettingsSchema, type SignatureProfile } from '../../core/signing.js';
import { endpointScope, tenantScope } from '../auth.js';
import { Invalid, NotFound } from '../../core/errors.js';
import { defineRoute, withOpenApi, z } from '../openapi.js';
import { pageSchema, paginationQuerySchema, rowsToFetch, toPage } from '../pagination.js';
import { urlPolicyFromConfig } from '../../core/url-policy.js';
import { tenantIdParams } from './tenants.js';
import { endpointStats, healthSummaries, signalHealthSettingsChanged } from '../../core/endpoint-health.js';
import { changeEndpointActivation } from '../../core/endpoint-activation.js';
import { templateSchema } from '../../core/templates.js';
import { previewEndpointRequest } from '../../core/template-preview.js';

/** A tenant's endpoints: where its events are delivered, with secrets shown once and masked afterwards. */

const maxTimeoutMs = 30_000;

const duration = (description: string) =>
  z.string().regex(durationPattern, 'must be a duration with a unit, such as 250ms, 10s, 5m, 2h or 3d').openapi({ description, example: '15s' });

const boundedDuration = (description: string, minMs: number, maxMs: number) =>
  duration(description).refine((value) => {
    // zod runs refinements after a failed regex too: a malformed value was reported already.
    if (!durationPattern.test(value)) return true;
    const ms = parseDuration(value);
    return ms >= minMs && ms <= maxMs;
  }, `must be between ${formatDuration(minMs)} and ${formatDuration(maxMs)}`);

/** Each field once; the create body adds defaults, the update body makes them optional. */
const fields = {
  url: z.string().min(1).max(2048).openapi({ description: 'Absolute https URL (http only with HERALD_ALLOW_HTTP=true), without credentials', example: 'https://example.com/webhooks' }),
  description: z.string().max(1000),
  event_types: z
    .array(z.string().max(128).refine((name) => name === allEventTypes || eventTypeNamePattern.test(name), `${eventTypeNameMessage}, or *`))
    .min(1)
    .max(200)
    .openapi({ description: 'Catalog event types, or ["*"] for all of them', example: ['v1.case.completed'] }),
  active: z.boolean(),
  // The same names and values as the signature's header overrides (http-headers.ts).
  headers: headerMapSchema()
    .refine((headers) => Object.keys(headers).length <= 50, 'at most 50 custom headers')
    .openapi({ description: "Custom headers sent with every delivery (values encrypted at rest, masked in answers); Herald's own headers cannot be overridden", example: { Authorization: 'Bearer receiver-token' } }),
  signature: withOpenApi(signatureSettingsSchema, 'SignatureSettings', { description: 'How deliveries are signed: a profile (default standard-webhooks) and optional header names, user agent and client id' }),
  envelope: withOpenApi(envelopeKindSchema, 'Envelope', { description: 'herald: {event_id, delivery_id, event_type, …, data}; compact: {id: delivery id, type, created, data}; event: {id: event id, type, created_at, data}; bare: data only. compact and event send type without its vN. prefix' }),
  template: withOpenApi(templateSchema, 'PayloadTemplate', {
    description:
      'Sends the template rendered over {event_id, delivery_id, event_type, schema_version, trace_id, created_at, data} instead of the envelope; ' +
      'signed over the rendered bytes. A template that does not compile is refused (422 naming the line and column); null removes it',
  }).nullable(),
  retry_schedule: withOpenApi(retryScheduleSchema, 'RetrySchedule', { description: 'Delays between attempts (["1s","10s","60s"]) or {exponential: {initial, factor, retries, max}}; [] means one attempt' }),
  timeout: boundedDuration('How long one attempt may take (at most 30s)', 1, maxTimeoutMs),
  disable_after_failures: z.number().int().min(1).max(1000).openapi({ description: 'Consecutive failed attempts, across deliveries, that disable the endpoint' }),
  disable_after: boundedDuration('Disable the endpoint once it has failed without a success for this long', 1000, 90 * 86_400_000).nullable(),
  // Per-endpoint rate limiting is planned, not built: a limit is refused rather than accepted and silently ignored.
  rate_limit: z
    .unknown()
    .refine((value): value is null => value === null, { message: 'rate limits are not supported yet; leave rate_limit out or null', params: { code: 'not_supported' } })
    .openapi({ type: 'null', description: 'Not supported yet: only null is accepted; any limit is refused with 422 not_supported until Herald enforces rate limits' }),
};

const secretField = z.string().min(8).max(200).openapi({ description: 'A secret the receiver already has; generated (whsec_ + 32 random bytes, base64) when absent' });

const createBody = z
  .object({
    ...fields,
    description: fields.description.default(endpointDefaults.description),
    active: fields.active.default(endpointDefaults.active),
    headers: fields.headers.default({}),
    signature: fields.signature.default({ profile: endpointDefaults.signatureProfile }),
    envelope: fields.envelope.default(endpointDefaults.envelope),
    template: fields.template.default(null),
    retry_schedule: fields.retry_schedule.default([...endpointDefaults.retrySchedule]),
    timeout: fields.timeout.default(formatDuration(endpointDefaults.timeoutMs)),
    disable_after_failures: fields.disable_after_failures.default(endpointDefaults.disableAfterFailures),
    disable_after: fields.disable_after.default(endpointDefaults.disableAfterMs),
    rate_limit: fields.rate_limit.default(null),
    secret: secretField.optional(),
  })
  .strict()
  .openapi('CreateEndpoint');

const updateBody = z
  .strictObject(fields, {
    error: (issue) =>
      issue.code === 'unrecognized_keys' && issue.keys.includes('secret') ? 'The secret cannot be changed with PATCH; use POST …/rotate-secret' : undefined,
  })
  .partial()
  .openapi('UpdateEndpoint');

const rotateBody = z
  .object({
    grace_period: boundedDuration('How long the replaced secret keeps signing', 0, 30 * 86_400_000).default('24h').openapi({ example: '24h' }),
    secret: secretField.optional(),
  })
  .strict()
  .openapi('RotateSecret');

const previewBody = z
  .union([
    z.object({ event_id: z.string().min(1).max(100).openapi({ description: "One of the tenant's events", example: 'evt_01J7W9S4TSQ0T4SH43JYB9W5R8' }) }).strict(),
    z
      .object({
        event_type: z.string().max(128).regex(eventTypeNamePattern, eventTypeNameMessage).openapi({ example: 'v1.case.completed' }),
        data: z.unknown().openapi({ description: "A sample event's data", example: { id: 'ver_123', status: 'approved' } }),
      })
      .strict(),
  ])
  .and(
    z.object({
      template: fields.template.optional().openapi({ description: 'A draft to preview instead of the saved template (null: the envelope); nothing is saved' }),
    }),
  )
  .openapi('TemplatePreviewRequest');

const previewSchema = z
  .object({
    event_id: z.string(),
    delivery_id: z.string().openapi({ description: "The delivery id the request is signed with (a stored event's delivery to this endpoint has this id)" }),
    url: z.string(),
    headers: z.record(z.string(), z.string()).openapi({ description: "Every header as sent, signature included; the endpoint's custom header values masked (****abcd), as everywhere in answers" }),
    body: z.string().openapi({ description: 'The exact bytes that would be sent and were signed' }),
  })
  .openapi('TemplatePreview');

const disableBody = z.object({ reason: z.string().min(1).max(200).optional() }).strict().openapi('DisableEndpoint');

const warningSchema = z
  .object({
    code: z.enum(['timestamp_not_signed']).openapi({ description: "timestamp_not_signed: the signature profile does not sign the delivery's timestamp (timestamped-body, body-hex), so receivers cannot refuse replays by age" }),
    message: z.string(),
  })
  .openapi('EndpointWarning');

const endpointParams = tenantIdParams.extend({ endpoint_id: z.string().max(100).openapi({ example: 'ep_01J7W9S4TSQ0T4SH43JYB9W5R8' }) });

const endpointSchema = z
  .object({
    id: z.string().openapi({ example: 'ep_01J7W9S4TSQ0T4SH43JYB9W5R8' }),
    tenant_id: z.string(),
    url: z.string(),
    description: z.string(),
    event_types: z.array(z.string()),
    active: z.boolean(),
    headers: z.record(z.string(), z.string()).openapi({ description: 'Values masked: ****abcd' }),
    secret: z.string().openapi({ description: 'In full only when created or rotated; masked (whsec_****a1b2) otherwise', example: 'whsec_****a1b2' }),
    signature: fields.signature,
    envelope: fields.envelope,
    template: fields.template,
    retry_schedule: fields.retry_schedule,
    timeout: z.string().openapi({ example: '15s' }),
    disable_after_failures: z.number().int(),
    disable_after: z.string().nullable(),
    rate_limit: z
      .object({ per_second: z.number().int() })
      .nullable()
      .openapi({ description: 'null: rate limits are not supported yet (one stored before they were refused is shown, and has no effect)' }),
    disabled_reason: z.string().nullable(),
    disabled_at: z.string().nullable().openapi({ format: 'date-time' }),
    created_at: z.string().openapi({ format: 'date-time' }),
    updated_at: z.string().openapi({ format: 'date-time' }),
    warnings: z
      .array(warningSchema)
      .optional()
      .openapi({ description: 'Allowed settings the receiver should know about, e.g. a profile that does not sign the timestamp; absent when there are none' }),
  })
  .openapi('Endpoint');

const healthSchema = z
  .object({
    status: z.enum(['healthy', 'degraded', 'failing', 'disabled']),
    colour: z.enum(['green', 'yellow', 'red']),
    consecutive_failures: z.number().int(),
    success_rate_24h: z.number().nullable(),
    last_delivery_at: z.string().nullable().openapi({ format: 'date-time' }),
    last_success_at: z.string().nullable().openapi({ format: 'date-time' }),
    disabled_reason: z.string().nullable(),
  })
  .openapi('EndpointHealth');

const endpointWithHealthSchema = endpointSchema.extend({ health: healthSchema }).openapi('EndpointWithHealth');

const endpointStatsSchema = z
  .object({
    window: z.string(),
    attempts: z.number().int(),
    successes: z.number().int(),
    failures: z.number().int(),
    success_rate: z.number().nullable(),
    latency_ms: z.object({ p50: z.number().nullable(), p95: z.number().nullable() }),
    last_delivery_at: z.string().nullable().openapi({ format: 'date-time' }),
    last_success_at: z.string().nullable().openapi({ format: 'date-time' }),
  })
  .openapi('EndpointStats');

const rotatedSchema = z
  .object({
    secret: z.string().openapi({ description: 'The new secret, shown once' }),
    previous_secret_expires_at: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('RotatedSecret');

/** `****` and the last four characters; short values (which the last four would give away) are hidden whole. */
function endpointView(endpoint: EndpointRecord, options: { showSecret?: boolean; extraProfiles?: Record<string, SignatureProfile> } = {}) {
  const warnings = endpointWarnings(endpoint.signature, options.extraProfiles);
  return {
    id: endpoint.id,
    tenant_id: endpoint.tenant_id,
    url: endpoint.url,
    description: endpoint.description,
    event_types: endpoint.event_types,
    active: endpoint.active,
    headers: Object.fromEntries(Object.entries(endpoint.headers).map(([name, value]) => [name, maskHeaderValue(value)])),
    secret: options.showSecret ? endpoint.secret : maskSecret(endpoint.secret),
    signature: endpoint.signature,
    envelope: endpoint.envelope,
    template: endpoint.template,
    retry_schedule: endpoint.retry_schedule,
    timeout: formatDuration(endpoint.timeout_ms),
    disable_after_failures: endpoint.disable_after_failures,
    disable_after: endpoint.disable_after_ms === null ? null : formatDuration(endpoint.disable_after_ms),
    rate_limit: endpoint.rate_limit,
    disabled_reason: endpoint.disabled_reason,
    disabled_at: endpoint.disabled_at,
    created_at: endpoint.created_at,
    updated_at: endpoint.updated_at,
    ...(warnings.length > 0 ? { warnings } : {}),
  };
}

type UpdateBody = z.output<typeof updateBody>;

/** The settings after a PATCH: given fields replace, absent ones stay. */
function mergeSettings(current: EndpointRecord, patch: UpdateBody): EndpointSettings {
  const { timeout, disable_after, ...rest } = patch;
  const defined = Object.fromEntries(Object.entries(rest).filter(([, value]) => value !== undefined));
  return {
    url: current.url,
    description: current.description,
    event_types: current.event_types,
    active: current.active,
    headers: current.headers,
    signature: current.signature,
    envelope: current.envelope,
    template: current.template,
    retry_schedule: current.retry_schedule,
    timeout_ms: timeout === undefined ? current.timeout_ms : parseDuration(timeout),
    disable_after_failures: current.disable_after_failures,
    disable_after_ms: disable_after === undefined ? current.disable_after_ms : disable_after === null ? null : parseDuration(disable_after),
    rate_limit: current.rate_limit,
    ...defined,
  };
}

const endpointListQuerySchema = paginationQuerySchema.extend({
  active: z
    .enum(['true', 'false'])
    .transform((value) => value === 'true')
    .optional()
    .openapi({ description: 'Only active (true) or only disabled (false) endpoints' }),
});

export function endpointRoutes(deps: ApiDeps): express.Router {
  const router = express.Router();
  const { sql, config } = deps;
  const box = createSecretBox(config.HERALD_ENCRYPTION_KEY);
  const scope = tenantScope(deps);
  const healthDeps = { sql, temporal: deps.temporal, taskQueue: config.TEMPORAL_TASK_QUEUE, channelDigestWindowMs: config.HERALD_CHANNEL_DIGEST_WINDOW_MS };
  const view = (endpoint: EndpointRecord, options: { showSecret?: boolean } = {}) => endpointView(endpoint, { ...options, extraProfiles: config.HERALD_SIGNATURE_PROFILES });
  const withHealth = async (endpoint: EndpointRecord) => ({ ...view(endpoint), health: (await healthSummaries(healthDeps, [endpoint])).get(endpoint.id)! });
  const tags = ['Endpoints'];
  const base = '/v1/tenants/:tenant_id/endpoints';

  const urlPolicy = urlPolicyFromConfig(config);
  const checkRules = async (settings: EndpointSettings) => {
    const issues = await endpointRuleIssues(sql, settings, { allowHttp: config.HERALD_ALLOW_HTTP, extraProfiles: config.HERALD_SIGNATURE_PROFILES, urlPolicy });
    if (issues.length > 0) throw new Invalid(issues);
  };
  const found = async (tenantId: string, endpointId: string) => (await getEndpoint(sql, box, tenantId, endpointId)) ?? Promise.reject(new NotFound('Endpoint'));

  defineRoute(
    router,
    {
      method: 'post',
      path: base,
      summary: 'Register an endpoint (the secret is shown once)',
      tags,
      access: 'tenant',
      request: { params: tenantIdParams, body: createBody },
      responses: { 201: { description: 'The endpoint, with its secret in full this once', schema: endpointSchema } },
      errors: [404, 409],
      before: [scope],
    },
    async ({ params, body }, _request, response) => {
      const { secret, timeout, disable_after, ...rest } = body;
      const settings: EndpointSettings = {
        ...rest,
        event_types: [...new Set(rest.event_types)],
        timeout_ms: parseDuration(timeout),
        disable_after_ms: disable_after === null ? null : parseDuration(disable_after),
      };
      await checkRules(settings);
      const endpoint = await createEndpoint(sql, box, params.tenant_id, settings, secret ?? generateSigningSecret());
      response.status(201).json(view(endpoint, { showSecret: true }));
    },
  );

  defineRoute(
    router,
    {
      method: 'get',
      path: base,
      summary: "List the tenant's endpoints",
      tags,
      access: 'tenant',
      request: { params: tenantIdParams, query: endpointListQuerySchema },
      responses: { 200: { description: 'A page of endpoints, secrets masked', schema: pageSchema(endpointWithHealthSchema, 'EndpointPage') } },
      errors: [404],
      before: [scope],
    },
    async ({ params, query }, _request, response) => {
      const rows = await listEndpoints(sql, box, params.tenant_id, { limit: rowsToFetch(query), cursor: query.cursor, active: query.active });
      const health = await healthSummaries(healthDeps, rows.slice(0, query.limit));
      response.json(toPage(rows, query, (row) => row.id, (row) => ({ ...view(row), health: health.get(row.id)! })));
    },
  );

  defineRoute(
    router,
    {
      method: 'get',
      path: `${base}/:endpoint_id`,
      summary: 'Get an endpoint (secret masked)',
      tags,
      access: 'tenant',
      request: { params: endpointParams },
      responses: { 200: { description: 'The endpoint', schema: endpointWithHealthSchema } },
      errors: [404],
      before: [scope],
    },
    async ({ params }, _request, response) => {
      response.json(await withHealth(await found(params.tenant_id, params.endpoint_id)));
    },
  );

  defineRoute(
    router,
    {
      method: 'patch',
      path: `${base}/:endpoint_id`,
      summary: 'Change an endpoint (anything but its secret)',
      tags,
      access: 'tenant',
      request: { params: endpointParams, body: updateBody },
      responses: { 200: { description: 'The endpoint', schema: endpointWithHealthSchema } },
      errors: [404],
      before: [scope],
    },
    async ({ params, body }, _request, response) => {
      const current = await found(params.tenant_id, params.endpoint_id);
      const settings = mergeSettings(current, body);
      settings.event_types = [...new Set(settings.event_types)];
      await checkRules(settings);
      let updated = await updateEndpoint(sql, box, params.tenant_id, params.endpoint_id, settings);
      if (!updated) throw new NotFound('Endpoint');
      // `active` goes through the same path as POST …/enable and …/disable (also when unchanged: a retry after a
      // failure completes the signal and the notice that were missing).
      if (body.active !== undefined) {
        await changeEndpointActivation(healthDeps, { tenantId: params.tenant_id, endpointId: params.endpoint_id }, body.active ? { active: true } : { active: false, reason: 'manual' });
        updated = await found(params.tenant_id, params.endpoint_id);
      }
      if (updated.disable_after_failures !== current.disable_after_failures || updated.disable_after_ms !== current.disable_after_ms) {
        await signalHealthSettingsChanged(healthDeps, updated.id, { disable_after_failures: updated.disable_after_failures, disable_after_ms: updated.disable_after_ms });
      }
      response.json(await withHealth(updated));
    },
  );

  defineRoute(
    router,
    {
      method: 'delete',
      path: `${base}/:endpoint_id`,
      summary: 'Delete an endpoint',
      tags,
      access: 'tenant',
      request: { params: endpointParams },
      responses: { 204: { description: 'Deleted; its deliveries stay readable' } },
      errors: [404],
      before: [scope],
    },
    async ({ params }, _request, response) => {
      if (!(await deleteEndpoint(sql, params.tenant_id, params.endpoint_id))) throw new NotFound('Endpoint');
      response.status(204).end();
    },
  );

  defineRoute(
    router,
    {
      method: 'post',
      path: `${base}/:endpoint_id/rotate-secret`,
      summary: 'Rotate the signing secret (the new one is shown once; the old one signs until the grace period ends)',
      tags,
      access: 'tenant',
      request: { params: endpointParams, body: rotateBody },
      responses: { 200: { description: 'The new secret', schema: rotatedSchema } },
      errors: [404],
      before: [scope],
    },
    async ({ params, body }, _request, response) => {
      const secret = body.secret ?? generateSigningSecret();
      const rotated = await rotateEndpointSecret(sql, box, params.tenant_id, params.endpoint_id, secret, parseDuration(body.grace_period));
      if (!rotated) throw new NotFound('Endpoint');
      response.json({ secret, previous_secret_expires_at: rotated.previous_secret_expires_at });
    },
  );

  defineRoute(
    router,
    {
      method: 'get',
      path: `${base}/:endpoint_id/stats`,
      summary: 'Attempt counts, success rate and latency over a window, from the attempt log',
      tags,
      access: 'tenant',
      request: { params: endpointParams, query: z.object({ window: boundedDuration('The window, e.g. 1h, 24h, 7d', 60_000, 90 * 86_400_000).default('24h') }) },
      responses: { 200: { description: 'Statistics', schema: endpointStatsSchema } },
      errors: [404],
      before: [scope],
    },
    async ({ params, query }, _request, response) => {
      const endpoint = await found(params.tenant_id, params.endpoint_id);
      const stats = await endpointStats(sql, [endpoint.id], parseDuration(query.window));
      response.json({ window: query.window, ...stats.get(endpoint.id)! });
    },
  );

  defineRoute(
    router,
    {
      method: 'post',
      path: `${base}/:endpoint_id/template/preview`,
      summary: 'Preview the request an event would be sent as: the template rendered, with every header, signed; nothing is sent',
      tags,
      access: 'tenant',
      request: { params: endpointParams, body: previewBody },
      responses: { 200: { description: 'The request as it would be sent', schema: previewSchema } },
      errors: [404],
      before: [scope, endpointScope(deps)],
    },
    async ({ params, body }, _request, response) => {
      const { template, ...event } = body as z.output<typeof previewBody>;
      const preview = await previewEndpointRequest(
        { sql, box, extraProfiles: config.HERALD_SIGNATURE_PROFILES },
        { tenantId: params.tenant_id, endpointId: params.endpoint_id, event: event as Parameters<typeof previewEndpointRequest>[1]['event'], template },
      );
      const headers = maskHeaders(preview.headers, preview.custom_headers);
      response.json({ event_id: preview.event_id, delivery_id: preview.delivery_id, url: preview.url, headers, body: preview.body });
    },
  );

  for (const action of ['enable', 'disable'] as const) {
    defineRoute(
      router,
      {
        method: 'post',
        path: `${base}/:endpoint_id/${action}`,
        summary: action === 'enable' ? 'Enable an endpoint (clears disabled_reason)' : 'Disable an endpoint (deliveries to it fail as endpoint_disabled)',
        tags,
        access: 'tenant',
        request: { params: endpointParams, body: action === 'enable' ? z.object({}).strict().openapi('EnableEndpoint') : disableBody },
        responses: { 200: { description: 'The endpoint', schema: endpointWithHealthSchema } },
        errors: [404],
        before: [scope],
      },
      async ({ params, body }, _request, response) => {
        const change = action === 'enable' ? ({ active: true } as const) : ({ active: false, reason: ('reason' in body ? body.reason : undefined) ?? 'manual' } as const);
        await changeEndpointActivation(healthDeps, { tenantId: params.tenant_id, endpointId: params.endpoint_id }, change);
        const endpoint = await found(params.tenant_id, params.endpoint_id);
        response.json(await withHealth(endpoint));
      },
    );
  }

  return router;
}
