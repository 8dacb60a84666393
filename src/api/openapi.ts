import { extendZodWithOpenApi, OpenAPIRegistry, OpenApiGeneratorV31, type RouteConfig } from '@asteasolutions/zod-to-openapi';
import type { RequestHandler, Router } from 'express';
import { z, type ZodType } from 'zod';
import { validated, type RequestSchemas, type ValidatedHandler } from './validation.js';
import { readJsonBody } from './json-body.js';

/**
 * The OpenAPI 3.1 document, generated from the zod schemas the handlers validate with. Routes are
 * declared with defineRoute(), which mounts the handler and documents it in one go, so a route cannot
 * exist without its documentation. Import `z` from here in route modules: it has `.openapi()`.
 */
extendZodWithOpenApi(z);
export { z };

/**
 * `.openapi(...)` for a schema built before the extension above ran: zod 4 gives each schema its methods
 * when it is constructed, so schemas of modules loaded earlier (src/core/*) lack the method.
 */
export function withOpenApi<T extends ZodType>(schema: T, refId: string, metadata: Parameters<T['openapi']>[1] = {}): T {
  const openapi = (z.ZodType.prototype as unknown as { openapi: (...args: unknown[]) => T }).openapi;
  return openapi.call(schema, refId, metadata);
}

export const errorSchema = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: 'validation_failed' }),
      message: z.string().openapi({ example: 'body.url: must be an absolute http(s) URL' }),
      details: z.unknown().openapi({ description: 'For validation errors: [{field, message, code}] naming each field' }),
    }),
  })
  .openapi('Error');

export type HttpMethod = 'get' | 'post' | 'put' | 'patch' | 'delete';

const errorDescriptions: Record<number, string> = {
  400: 'Malformed JSON',
  401: 'Missing or unknown API key',
  403: 'The key may not perform this action',
  404: 'Not found (or not visible to this key)',
  409: 'Conflict',
  413: 'The body is larger than HERALD_MAX_BODY_BYTES',
  415: 'The body is not application/json',
  422: 'Validation failed (details name each field), or the body nests deeper than HERALD_MAX_JSON_DEPTH (too_deep)',
  429: 'Too many failed authentications from this address (see Retry-After)',
};

export interface RouteSpec<S extends RequestSchemas> {
  method: HttpMethod;
  /** Express syntax, the whole path: `/v1/tenants/:tenant_id/endpoints`. */
  path: string;
  summary: string;
  description?: string;
  tags: string[];
  /**
   * Who may call the route, for the document (enforced by `before`): `tenant` a tenant's key, the admin key or the
   * tenant's portal session; `key` the same without portal sessions (requireApiKey); `admin` the admin key only.
   */
  access: 'admin' | 'key' | 'tenant' | 'public';
  request?: S;
  /** Success responses: status → description and body schema (none for 204). */
  responses: Record<number, { description: string; schema?: ZodType }>;
  /** Error statuses besides the ones every route may answer (401, and 400/413/415/422 when there is input). */
  errors?: number[];
  /** Middleware run before validation: authorization (requireAdmin, tenantScope), rate limits… */
  before?: RequestHandler[];
}

const documented = new Map<string, RouteConfig & { 'x-herald-access': RouteSpec<RequestSchemas>['access'] }>();
type RouteParameter = NonNullable<RouteConfig['request']>['params'];

export const openApiPath = (expressPath: string) => expressPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/** Adds a route to the document (idempotent: createApp may run many times in one process). */
export function documentRoute<S extends RequestSchemas>(spec: RouteSpec<S>): void {
  const request = spec.request ?? ({} as S);
  const pathParams = [...spec.path.matchAll(/:([A-Za-z0-9_]+)/g)].map((match) => match[1]);
  if (pathParams.length > 0 && !request.params) throw new Error(`${spec.method.toUpperCase()} ${spec.path}: path parameters need a params schema`);
  const errors = new Set(spec.errors ?? []);
  if (spec.access !== 'public') [401, 429].forEach((status) => errors.add(status));
  if (spec.access === 'admin' || spec.access === 'key') errors.add(403);
  if (request.params || request.query || request.body) errors.add(422);
  if (request.body) [400, 413, 415].forEach((status) => errors.add(status));

  const responses: RouteConfig['responses'] = {};
  for (const [status, response] of Object.entries(spec.responses)) {
    responses[status] = response.schema
      ? { description: response.description, content: { 'application/json': { schema: response.schema } } }
      : { description: response.description };
  }
  for (const status of [...errors].sort()) {
    responses[status] = { description: errorDescriptions[status] ?? 'Error', content: { 'application/json': { schema: errorSchema } } };
  }
  documented.set(`${spec.method} ${spec.path}`, {
    method: spec.method,
    path: openApiPath(spec.path),
    summary: spec.summary,
    description: [spec.description, { admin: 'Admin key only.', key: 'An API key only (a tenant key or the admin key): portal sessions get 403.' }[spec.access as string]]
      .filter(Boolean)
      .join('\n\n') || undefined,
    tags: spec.tags,
    security: spec.access === 'public' ? [] : [{ bearerAuth: [] }],
    'x-herald-access': spec.access,
    request: {
      params: request.params as RouteParameter,
      query: request.query as RouteParameter,
      body: request.body ? { required: true, content: { 'application/json': { schema: request.body } } } : undefined,
    },
    responses,
  });
}

/** Mounts `handler` (after reading the body when the route takes one, then `spec.before`, with the request validated against `spec.request`) and documents it. */
export function defineRoute<S extends RequestSchemas>(router: Router, spec: RouteSpec<S>, handler: ValidatedHandler<S>): void {
  documentRoute(spec);
  const request = spec.request ?? ({} as S);
  // Only routes that take a body read one (after authentication, which runs for every /v1 path first).
  router[spec.method](spec.path, ...(request.body ? [readJsonBody] : []), ...(spec.before ?? []), validated(request, handler));
}

/** Every documented route in Express syntax (`/v1/tenants/:tenant_id`) with who may call it and whether it takes a body. */
export function documentedRoutes(): { method: HttpMethod; path: string; access: RouteSpec<RequestSchemas>['access']; hasBody: boolean }[] {
  return [...documented.values()].map((route) => ({
    method: route.method as HttpMethod,
    path: route.path.replace(/\{([A-Za-z0-9_]+)\}/g, ':$1'),
    access: route['x-herald-access'],
    hasBody: route.request?.body !== undefined,
  }));
}

export type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

/** The OpenAPI 3.1 document of every route declared so far. */
export function buildOpenApiDocument(): OpenApiDocument {
  const registry = new OpenAPIRegistry();
  registry.registerComponent('securitySchemes', 'bearerAuth', {
    type: 'http',
    scheme: 'bearer',
    description: 'The admin key (HERALD_ADMIN_KEY) or a tenant API key (sk_…)',
  });
  for (const route of documented.values()) registry.registerPath(route);
  return new OpenApiGeneratorV31(registry.definitions).generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Herald API',
      version: '0.1.0',
      description: 'Self-hosted webhook delivery. Every /v1 route takes `Authorization: Bearer <key>`; errors are `{"error": {code, message, details}}`.',
    },
    servers: [],
    security: [{ bearerAuth: [] }],
  });
}
