import express from 'express';
import type { ApiDeps } from '../app.js';
import type { Sql } from '../../db/client.js';
import { generateApiKey, hashApiKey } from '../../core/crypto.js';
import { newId } from '../../core/ids.js';
import { requireAdmin, requireApiKey, tenantOf, tenantScope, type TenantRow } from '../auth.js';
import { LimitReached, NotFound } from '../../core/errors.js';
import { defineRoute, z } from '../openapi.js';
import { afterCursor, pageSchema, paginationQuerySchema, rowsToFetch, toPage } from '../pagination.js';

/** Tenants (admin) and their API keys (admin, or the tenant itself). */

export const tenantIdParams = z.object({ tenant_id: z.string().max(100).openapi({ example: 'ten_01J7W9S4TSQ0T4SH43JYB9W5R8' }) });

const tenantSchema = z
  .object({
    id: z.string().openapi({ example: 'ten_01J7W9S4TSQ0T4SH43JYB9W5R8' }),
    name: z.string(),
    max_endpoints: z.number().int(),
    created_at: z.string().openapi({ format: 'date-time' }),
    updated_at: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('Tenant');

const createdTenantSchema = tenantSchema
  .extend({
    api_key: z.string().openapi({ description: 'The first API key of the tenant, shown once' }),
    api_key_id: z.string(),
  })
  .openapi('CreatedTenant');

const tenantName = z.string().trim().min(1).max(200);
const maxEndpoints = z.number().int().min(0).max(100_000);

const createTenantBody = z.object({ name: tenantName, max_endpoints: maxEndpoints.default(100) }).strict().openapi('CreateTenant');
const updateTenantBody = z.object({ name: tenantName, max_endpoints: maxEndpoints }).partial().strict().openapi('UpdateTenant');

const apiKeySchema = z
  .object({
    id: z.string().openapi({ example: 'key_01J7W9S4TSQ0T4SH43JYB9W5R8' }),
    key: z.string().openapi({ description: 'Masked: sk_****abcd', example: 'sk_****abcd' }),
    last_four: z.string(),
    created_at: z.string().openapi({ format: 'date-time' }),
    revoked_at: z.string().nullable().openapi({ format: 'date-time' }),
  })
  .openapi('ApiKey');

const createdApiKeySchema = z
  .object({
    id: z.string(),
    api_key: z.string().openapi({ description: 'The key in full, shown once' }),
    last_four: z.string(),
    created_at: z.string().openapi({ format: 'date-time' }),
  })
  .openapi('CreatedApiKey');

const apiKeyParams = tenantIdParams.extend({ key_id: z.string().max(100) });

interface ApiKeyRow {
  id: string;
  last_four: string;
  created_at: Date;
  revoked_at: Date | null;
}

/** A new key for the tenant: only its hash is stored, the key itself is returned once. */
export async function issueApiKey(sql: Sql, tenantId: string) {
  const apiKey = generateApiKey();
  const [row] = await sql<ApiKeyRow[]>`
    insert into api_keys (id, tenant_id, key_hash, last_four)
    values (${newId('apiKey')}, ${tenantId}, ${hashApiKey(apiKey)}, ${apiKey.slice(-4)})
    returning id, last_four, created_at, revoked_at`;
  return { id: row!.id, api_key: apiKey, last_four: row!.last_four, created_at: row!.created_at };
}

const tenantView = (tenant: TenantRow) => ({
  id: tenant.id,
  name: tenant.name,
  max_endpoints: tenant.max_endpoints,
  created_at: tenant.created_at,
  updated_at: tenant.updated_at,
});

const apiKeyView = (key: ApiKeyRow) => ({ id: key.id, key: `sk_****${key.last_four}`, last_four: key.last_four, created_at: key.created_at, revoked_at: key.revoked_at });

export function tenantRoutes(deps: ApiDeps): express.Router {
  const router = express.Router();
  const { sql } = deps;
  const scope = tenantScope(deps);
  const tags = ['Tenants'];

  defineRoute(
    router,
    {
      method: 'post',
      path: '/v1/tenants',
      summary: 'Create a tenant and its first API key',
      tags,
      access: 'admin',
      request: { body: createTenantBody },
      responses: { 201: { description: 'The tenant, with its API key shown once', schema: createdTenantSchema } },
      before: [requireAdmin],
    },
    async ({ body }, _request, response) => {
      const created = await sql.begin(async (transaction) => {
        const tx = transaction as unknown as Sql;
        const [tenant] = await tx<TenantRow[]>`
          insert into tenants (id, name, max_endpoints) values (${newId('tenant')}, ${body.name}, ${body.max_endpoints})
          returning id, name, max_endpoints, created_at, updated_at`;
        return { tenant: tenant!, key: await issueApiKey(tx, tenant!.id) };
      });
      response.status(201).json({ ...tenantView(created.tenant), api_key: created.key.api_key, api_key_id: created.key.id });
    },
  );

  defineRoute(
    router,
    {
      method: 'get',
      path: '/v1/tenants',
      summary: 'List tenants',
      tags,
      access: 'admin',
      request: { query: paginationQuerySchema },
      responses: { 200: { description: 'A page of tenants', schema: pageSchema(tenantSchema, 'TenantPage') } },
      before: [requireAdmin],
    },
    async ({ query }, _request, response) => {
      const rows = await sql<TenantRow[]>`
        select id, name, max_endpoints, created_at, updated_at from tenants
        where ${afterCursor(sql, query.cursor)} order by id limit ${rowsToFetch(query)}`;
      response.json(toPage(rows, query, (row) => row.id, tenantView));
    },
  );

  defineRoute(
    router,
    {
      method: 'get',
      path: '/v1/tenants/:tenant_id',
      summary: 'Get a tenant',
      tags,
      access: 'tenant',
      request: { params: tenantIdParams },
      responses: { 200: { description: 'The tenant', schema: tenantSchema } },
      errors: [404],
      before: [scope],
    },
    (_input, _request, response) => {
      response.json(tenantView(tenantOf(response)));
    },
  );

  defineRoute(
    router,
    {
      method: 'patch',
      path: '/v1/tenants/:tenant_id',
      summary: 'Rename a tenant or change its endpoint limit',
      tags,
      access: 'admin',
      request: { params: tenantIdParams, body: updateTenantBody },
      responses: { 200: { description: 'The tenant', schema: tenantSchema } },
      errors: [404],
      before: [requireAdmin, scope],
    },
    async ({ params, body }, _request, response) => {
      const [tenant] = await sql<TenantRow[]>`
        update tenants set name = coalesce(${body.name ?? null}, name), max_endpoints = coalesce(${body.max_endpoints ?? null}::int, max_endpoints), updated_at = now()
        where id = ${params.tenant_id} returning id, name, max_endpoints, created_at, updated_at`;
      response.json(tenantView(tenant!));
    },
  );

  defineRoute(
    router,
    {
      method: 'post',
      path: '/v1/tenants/:tenant_id/api-keys',
      summary: 'Create an API key for the tenant (shown once)',
      description:
        'A tenant may have at most HERALD_MAX_API_KEYS_PER_TENANT (default 20) active keys: one more is 409 `conflict` (details: `max_api_keys`); revoking a key frees a place.',
      tags,
      access: 'key',
      request: { params: tenantIdParams, body: z.object({}).strict().openapi('CreateApiKey') },
      responses: { 201: { description: 'The key, shown once', schema: createdApiKeySchema } },
      errors: [404, 409],
      before: [requireApiKey, scope],
    },
    async ({ params }, _request, response) => {
      const maxKeys = deps.config.HERALD_MAX_API_KEYS_PER_TENANT;
      const issued = await sql.begin(async (transaction) => {
        const tx = transaction as unknown as Sql;
        // The tenant row lock serialises concurrent creations, so the count below cannot go stale.
        await tx`select id from tenants where id = ${params.tenant_id} for update`;
        const [{ count }] = await tx<{ count: number }[]>`select count(*)::int as count from api_keys where tenant_id = ${params.tenant_id} and revoked_at is null`;
        if (count >= maxKeys) {
          throw new LimitReached(`This tenant has reached its limit of ${maxKeys} active API keys; revoke one first`, { max_api_keys: maxKeys });
        }
        return issueApiKey(tx, params.tenant_id);
      });
      response.status(201).json(issued);
    },
  );

  defineRoute(
    router,
    {
      method: 'get',
      path: '/v1/tenants/:tenant_id/api-keys',
      summary: "List the tenant's API keys (masked)",
      tags,
      access: 'key',
      request: { params: tenantIdParams, query: paginationQuerySchema },
      responses: { 200: { description: 'A page of keys, masked to their last four characters', schema: pageSchema(apiKeySchema, 'ApiKeyPage') } },
      errors: [404],
      before: [requireApiKey, scope],
    },
    async ({ params, query }, _request, response) => {
      const rows = await sql<ApiKeyRow[]>`
        select id, last_four, created_at, revoked_at from api_keys
        where tenant_id = ${params.tenant_id} and ${afterCursor(sql, query.cursor)}
        order by id limit ${rowsToFetch(query)}`;
      response.json(toPage(rows, query, (row) => row.id, apiKeyView));
    },
  );

  defineRoute(
    router,
    {
      method: 'delete',
      path: '/v1/tenants/:tenant_id/api-keys/:key_id',
      summary: 'Revoke an API key (requests with it get 401 from then on)',
      tags,
      access: 'key',
      request: { params: apiKeyParams },
      responses: { 204: { description: 'Revoked' } },
      errors: [404],
      before: [requireApiKey, scope],
    },
    async ({ params }, _request, response) => {
      const revoked = await sql`
        update api_keys set revoked_at = coalesce(revoked_at, now()) where tenant_id = ${params.tenant_id} and id = ${params.key_id}`;
      if (revoked.count === 0) throw new NotFound('API key');
      response.status(204).end();
    },
  );

  return router;
}
