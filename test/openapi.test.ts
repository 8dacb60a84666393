import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, listRoutes } from '../src/api/app.js';
import { documentedRoutes, openApiPath } from '../src/api/openapi.js';
import { startTestStack, type TestStack } from './helpers/stack.js';

describe('the OpenAPI document', () => {
  let stack: TestStack;
  let document: any;
  beforeAll(async () => {
    stack = await startTestStack({ worker: false });
    const answer = await fetch(`${stack.apiUrl}/openapi.json`);
    expect(answer.status).toBe(200);
    document = await answer.json();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  const appRoutes = () => listRoutes(createApp({ config: stack.config, sql: stack.sql, temporal: stack.temporal, logger: stack.logger }));

  it('is OpenAPI 3.1 with a bearer security scheme, served without a key', () => {
    expect(document.openapi).toBe('3.1.0');
    expect(document.info.title).toBe('Herald API');
    expect(document.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
  });

  it('documents every route of the Express router stack, and nothing else', () => {
    const routes = appRoutes();
    expect(routes.length).toBeGreaterThanOrEqual(20);
    const inDocument = Object.entries(document.paths as Record<string, Record<string, unknown>>).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method.toUpperCase()} ${path}`),
    );
    const inApp = routes.map((route) => `${route.method.toUpperCase()} ${openApiPath(route.path)}`);
    expect([...inDocument].sort()).toEqual([...new Set(inApp)].sort());
    expect(documentedRoutes().length).toBe(new Set(inApp).size);
  });

  it('includes the registry routes of issue 3', () => {
    const expected = [
      'POST /v1/tenants',
      'GET /v1/tenants',
      'GET /v1/tenants/{tenant_id}',
      'POST /v1/tenants/{tenant_id}/api-keys',
      'GET /v1/tenants/{tenant_id}/api-keys',
      'DELETE /v1/tenants/{tenant_id}/api-keys/{key_id}',
      'POST /v1/event-types',
      'GET /v1/event-types',
      'GET /v1/event-types/{name}',
      'PATCH /v1/event-types/{name}',
      'POST /v1/tenants/{tenant_id}/endpoints',
      'GET /v1/tenants/{tenant_id}/endpoints',
      'GET /v1/tenants/{tenant_id}/endpoints/{endpoint_id}',
      'PATCH /v1/tenants/{tenant_id}/endpoints/{endpoint_id}',
      'DELETE /v1/tenants/{tenant_id}/endpoints/{endpoint_id}',
      'POST /v1/tenants/{tenant_id}/endpoints/{endpoint_id}/rotate-secret',
      'POST /v1/tenants/{tenant_id}/endpoints/{endpoint_id}/enable',
      'POST /v1/tenants/{tenant_id}/endpoints/{endpoint_id}/disable',
    ];
    for (const route of expected) {
      const [method, path] = route.split(' ') as [string, string];
      expect(document.paths[path]?.[method.toLowerCase()], route).toBeDefined();
    }
  });

  it('asks for the bearer key on every /v1 operation, documents its errors and path parameters', () => {
    for (const [path, item] of Object.entries(document.paths as Record<string, Record<string, any>>)) {
      for (const [method, operation] of Object.entries(item)) {
        const name = `${method.toUpperCase()} ${path}`;
        if (!path.startsWith('/v1/')) {
          expect(operation.security, name).toEqual([]);
          continue;
        }
        expect(operation.security, name).toEqual([{ bearerAuth: [] }]);
        expect(operation.responses['401'], name).toBeDefined();
        const pathParams = [...path.matchAll(/\{(\w+)\}/g)].map((match) => match[1]).sort();
        const documented = (operation.parameters ?? []).filter((parameter: any) => parameter.in === 'path').map((parameter: any) => parameter.name).sort();
        expect(documented, name).toEqual(pathParams);
        if (operation.requestBody) expect(operation.responses['422'], name).toBeDefined();
      }
    }
  });

  it('describes bodies from the same zod schemas the API validates with (strict, defaults shown)', () => {
    const body = document.paths['/v1/tenants/{tenant_id}/endpoints'].post.requestBody.content['application/json'].schema;
    const schema = body.$ref ? document.components.schemas[body.$ref.split('/').pop()] : body;
    expect(schema.required).toEqual(expect.arrayContaining(['url', 'event_types']));
    expect(schema.additionalProperties).toBe(false);
    expect(schema.properties.timeout.default).toBe('15s');
    expect(Object.keys(schema.properties)).toEqual(
      expect.arrayContaining(['url', 'description', 'event_types', 'active', 'headers', 'secret', 'signature', 'envelope', 'retry_schedule', 'timeout', 'disable_after_failures', 'disable_after', 'rate_limit']),
    );
    const patch = document.paths['/v1/tenants/{tenant_id}/endpoints/{endpoint_id}'].patch.requestBody.content['application/json'].schema;
    const patchSchema = patch.$ref ? document.components.schemas[patch.$ref.split('/').pop()] : patch;
    expect(Object.keys(patchSchema.properties)).not.toContain('secret');
    const limit = document.paths['/v1/tenants'].get.parameters.find((parameter: any) => parameter.name === 'limit');
    expect(limit).toMatchObject({ in: 'query', schema: { type: 'integer', minimum: 1, maximum: 100, default: 20 } });
  });

  it('serves a human docs page at /docs', async () => {
    const answer = await fetch(`${stack.apiUrl}/docs/`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-type')).toContain('text/html');
    expect(await answer.text()).toContain('swagger-ui');
    expect((await fetch(`${stack.apiUrl}/docs`)).status).toBe(200);
  });
});
