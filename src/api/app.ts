import express, { type Express, type RequestHandler } from 'express';
import swaggerUi from 'swagger-ui-express';
import type { Client } from '@temporalio/client';
import type { Config } from '../config.js';
import type { Sql } from '../db/client.js';
import type { Logger } from '../logger.js';
import { authenticate } from './auth.js';
import { errorMiddleware, HttpError, routeNotFound } from './errors.js';
import { installJsonBodyParser } from './json-body.js';
import { buildOpenApiDocument, documentRoute, z } from './openapi.js';
import { endpointRoutes } from './routes/endpoints.js';
import { eventTypeRoutes } from './routes/event-types.js';
import { tenantRoutes } from './routes/tenants.js';
import { eventRoutes } from './routes/events.js';
import { deliveryRoutes } from './routes/deliveries.js';
import { operationRoutes } from './routes/operations.js';
import { portalRoutes } from './routes/portal.js';
import { channelRoutes } from './routes/channels.js';

export interface ApiDeps {
  config: Config;
  sql: Sql;
  temporal: Client;
  logger: Logger;
}

/**
 * A resource module: `<name>Routes(deps)` returns a router whose routes carry their whole path (`/v1/...`)
 * and are declared with defineRoute() (src/api/openapi.ts), which validates them and puts them in the
 * OpenAPI document. Authentication is done for every /v1 path before any module runs; a module adds
 * the authorization it needs per route (requireAdmin, tenantScope from src/api/auth.ts).
 */
export type RouteModule = (deps: ApiDeps) => express.Router;

export const routeModules: RouteModule[] = [
  tenantRoutes,
  eventTypeRoutes,
  endpointRoutes,
  eventRoutes,
  deliveryRoutes,
  operationRoutes,
  portalRoutes,
  channelRoutes,
];

const readinessSchema = z
  .object({
    status: z.enum(['ready', 'unavailable']),
    checks: z.array(z.object({ name: z.string(), ok: z.boolean(), error: z.string().optional() })),
  })
  .openapi('Readiness');

async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function createApp(deps: ApiDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  // Whose X-Forwarded-For is believed (HERALD_TRUST_PROXY, default nobody's): the client address counts failed logins.
  app.set('trust proxy', deps.config.HERALD_TRUST_PROXY);

  // Every answer is JSON or a page of ours: never let a browser guess another type.
  app.use((_request, response, next) => {
    response.setHeader('x-content-type-options', 'nosniff');
    next();
  });

  app.get('/healthz', (_request, response) => {
    response.json({ status: 'ok' });
  });

  app.get('/readyz', async (_request, response) => {
    const checks = await Promise.all([
      withTimeout(deps.sql`select 1`, 2000, 'PostgreSQL').then(() => ({ name: 'postgres', ok: true }), (error: Error) => ({ name: 'postgres', ok: false, error: error.message })),
      withTimeout(deps.temporal.connection.workflowService.getSystemInfo({}), 2000, 'Temporal').then(
        () => ({ name: 'temporal', ok: true }),
        (error: Error) => ({ name: 'temporal', ok: false, error: error.message }),
      ),
    ]);
    const ready = checks.every((check) => check.ok);
    response.status(ready ? 200 : 503).json({ status: ready ? 'ready' : 'unavailable', checks });
  });

  documentRoute({
    method: 'get',
    path: '/healthz',
    summary: 'Liveness: the process answers',
    tags: ['Health'],
    access: 'public',
    responses: { 200: { description: 'Alive', schema: z.object({ status: z.literal('ok') }) } },
  });
  documentRoute({
    method: 'get',
    path: '/readyz',
    summary: 'Readiness: PostgreSQL and Temporal answer',
    tags: ['Health'],
    access: 'public',
    responses: {
      200: { description: 'Ready', schema: readinessSchema },
      503: { description: 'A dependency is unavailable', schema: readinessSchema },
    },
  });

  documentRoute({
    method: 'get',
    path: '/openapi.json',
    summary: 'This document (a human version is at /docs)',
    tags: ['Health'],
    access: 'public',
    responses: { 200: { description: 'The OpenAPI 3.1 document' } },
  });

  const routers = routeModules.map((module) => module(deps));
  const document = buildOpenApiDocument();
  app.get('/openapi.json', (_request, response) => {
    response.json(document);
  });
  app.use('/docs', swaggerUi.serve, swaggerUi.setup(document, { customSiteTitle: 'Herald API' }));

  // Authentication comes before the body is read: without a key nothing is parsed. Bodies are read only by
  // routes that take one (defineRoute), after their authorization.
  app.use('/v1', authenticate(deps));
  installJsonBodyParser(app, { maxBytes: deps.config.HERALD_MAX_BODY_BYTES, maxDepth: deps.config.HERALD_MAX_JSON_DEPTH });
  for (const router of routers) app.use(router);

  app.use(methodNotAllowed(app));
  app.use(routeNotFound);
  app.use(errorMiddleware(deps.logger));
  return app;
}

/** Every route of the app, from the Express router stack: routers mounted at the root, routes with their whole path. */
export function listRoutes(app: Express): { method: string; path: string }[] {
  const routes: { method: string; path: string }[] = [];
  const visit = (stack: RouterLayer[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods).filter((name) => name !== '_all')) routes.push({ method, path: layer.route.path });
      } else if (Array.isArray(layer.handle?.stack) && (layer.rawPath === undefined || layer.rawPath === '/')) {
        visit(layer.handle.stack);
      }
    }
  };
  visit((app as unknown as { router: { stack: RouterLayer[] } }).router.stack);
  return routes;
}

interface RouterLayer {
  rawPath?: unknown;
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: RouterLayer[] };
}

/** 405 with an Allow header when the path exists with other methods (reached only when no route matched). */
function methodNotAllowed(app: Express): RequestHandler {
  let table: { pattern: RegExp; methods: string[] }[] | undefined;
  const patternOf = (path: string) =>
    new RegExp(`^${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z0-9_]+/g, '[^/]+')}/?$`, 'i');
  return (request, response, next) => {
    table ??= listRoutes(app).map((route) => ({ pattern: patternOf(route.path), methods: [route.method.toUpperCase()] }));
    const allowed = new Set(table.filter((entry) => entry.pattern.test(request.path)).flatMap((entry) => entry.methods));
    if (allowed.size === 0) {
      next();
      return;
    }
    if (allowed.has('GET')) allowed.add('HEAD');
    const allow = [...allowed].join(', ');
    response.setHeader('allow', allow);
    next(new HttpError(405, 'method_not_allowed', `${request.method} is not allowed on ${request.path}; use ${allow}`, { allow: [...allowed] }));
  };
}
