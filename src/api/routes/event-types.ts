import express from 'express';
import type { ApiDeps } from '../app.js';
import {
  compileEventSchema,
  eventTypeColumns,
  eventTypeNameMessage,
  eventTypeNamePattern,
  forgetEventSchema,
  maxEventTypeNameLength,
  requireEventType,
  schemaVersionOf,
  type EventTypeRow,
} from '../../core/event-catalog.js';
import { requireAdmin } from '../auth.js';
import { Conflict } from '../../core/errors.js';
import { forbidden } from '../errors.js';
import { defineRoute, z } from '../openapi.js';
import { afterCursor, pageSchema, paginationQuerySchema, rowsToFetch, toPage } from '../pagination.js';

/** The global event catalog: the admin key writes it, every key reads it. */

const jsonSchemaObject = z.record(z.string(), z.unknown()).openapi({
  description: 'A JSON Schema (draft-07, or 2020-12 with $schema) for the data of events of this type',
  example: { type: 'object', required: ['case_id'], properties: { case_id: { type: 'string' } } },
});

const deprecatedDescription =
  'A deprecated type still publishes and delivers, but its publish answers carry `Deprecation: @<deprecated_at, unix seconds>` (RFC 9745) and a `Link` to the type, and Herald logs a warning naming the tenant; the portal will hide it from new subscriptions';

const eventTypeSchema = z
  .object({
    name: z.string().openapi({ example: 'v1.case.completed' }),
    schema_version: z.string().openapi({ example: 'v1' }),
    description: z.string(),
    schema: jsonSchemaObject.nullable(),
    deprecated: z.boolean().openapi({ description: deprecatedDescription }),
    deprecated_at: z.string().nullable().openapi({ format: 'date-time', description: 'When the type was deprecated; null while it is not' }),
    operational: z.boolean().openapi({ description: "Herald's own types (v1.webhook.*, v1.endpoint.*): read-only" }),
    created_at: z.string().openapi({ format: 'date-time' }),
    updated_at: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('EventType');

const description = z.string().max(2000);

const createBody = z
  .object({
    name: z.string().max(maxEventTypeNameLength).regex(eventTypeNamePattern, eventTypeNameMessage).openapi({ example: 'v1.case.completed' }),
    description: description.default(''),
    schema: jsonSchemaObject,
    deprecated: z.boolean().default(false).openapi({ description: deprecatedDescription }),
  })
  .strict()
  .openapi('CreateEventType');

const updateBody = z
  .object({ description, schema: jsonSchemaObject, deprecated: z.boolean().openapi({ description: `${deprecatedDescription}. false undeprecates it` }) })
  .partial()
  .strict()
  .openapi('UpdateEventType');

const nameParams = z.object({ name: z.string().max(200).openapi({ example: 'v1.case.completed' }) });

const eventTypeView = (row: EventTypeRow) => ({
  name: row.name,
  schema_version: schemaVersionOf(row.name),
  description: row.description,
  schema: row.schema,
  deprecated: row.deprecated,
  deprecated_at: row.deprecated_at,
  operational: row.operational,
  created_at: row.created_at,
  updated_at: row.updated_at,
});

export function eventTypeRoutes(deps: ApiDeps): express.Router {
  const router = express.Router();
  const { sql } = deps;
  const tags = ['Event catalog'];

  defineRoute(
    router,
    {
      method: 'post',
      path: '/v1/event-types',
      summary: 'Add an event type to the catalog',
      tags,
      access: 'admin',
      request: { body: createBody },
      responses: { 201: { description: 'The event type', schema: eventTypeSchema } },
      errors: [409],
      before: [requireAdmin],
    },
    async ({ body }, _request, response) => {
      compileEventSchema(body.schema);
      const [row] = await sql<EventTypeRow[]>`
        insert into event_types (name, description, schema, deprecated, deprecated_at)
        values (${body.name}, ${body.description}, ${sql.json(body.schema as never)}, ${body.deprecated}, ${body.deprecated ? sql`now()` : null})
        on conflict (name) do nothing
        returning ${sql.unsafe(eventTypeColumns)}`;
      if (!row) throw new Conflict(`The event type ${body.name} already exists; change it with PATCH or publish a new version (v2.…)`, { name: body.name });
      response.status(201).json(eventTypeView(row));
    },
  );

  defineRoute(
    router,
    {
      method: 'get',
      path: '/v1/event-types',
      summary: 'List the catalog, by name',
      tags,
      access: 'tenant',
      request: { query: paginationQuerySchema },
      responses: { 200: { description: 'A page of event types; next_cursor is the last name', schema: pageSchema(eventTypeSchema, 'EventTypePage') } },
    },
    async ({ query }, _request, response) => {
      const rows = await sql<EventTypeRow[]>`
        select ${sql.unsafe(eventTypeColumns)} from event_types where ${afterCursor(sql, query.cursor, 'name')} order by name limit ${rowsToFetch(query)}`;
      response.json(toPage(rows, query, (row) => row.name, eventTypeView));
    },
  );

  defineRoute(
    router,
    {
      method: 'get',
      path: '/v1/event-types/:name',
      summary: 'Get an event type',
      tags,
      access: 'tenant',
      request: { params: nameParams },
      responses: { 200: { description: 'The event type', schema: eventTypeSchema } },
      errors: [404],
    },
    async ({ params }, _request, response) => {
      response.json(eventTypeView(await requireEventType(sql, params.name)));
    },
  );

  defineRoute(
    router,
    {
      method: 'patch',
      path: '/v1/event-types/:name',
      summary: "Change an event type's description, schema or deprecation",
      description: "Admin key only. Herald's operational types cannot be changed (403).",
      tags,
      access: 'admin',
      request: { params: nameParams, body: updateBody },
      responses: { 200: { description: 'The event type', schema: eventTypeSchema } },
      errors: [404],
      before: [requireAdmin],
    },
    async ({ params, body }, _request, response) => {
      const current = await requireEventType(sql, params.name);
      if (current.operational) throw forbidden(`${current.name} is one of Herald's operational event types and cannot be changed`);
      if (body.schema) compileEventSchema(body.schema);
      const [row] = await sql<EventTypeRow[]>`
        update event_types set
          description = ${body.description ?? current.description},
          schema = ${body.schema ? sql.json(body.schema as never) : sql`schema`},
          deprecated = ${body.deprecated ?? current.deprecated},
          deprecated_at = ${(body.deprecated ?? current.deprecated) ? sql`coalesce(deprecated_at, clock_timestamp())` : null},
          updated_at = clock_timestamp()
        where name = ${current.name}
        returning ${sql.unsafe(eventTypeColumns)}`;
      forgetEventSchema(current.name);
      response.json(eventTypeView(row!));
    },
  );

  return router;
}
