import express, { type Express } from 'express';
import type { Client } from '@temporalio/client';
import type { Config } from '../config.js';
import type { Sql } from '../db/client.js';
import type { Logger } from '../logger.js';
import { errorMiddleware, HttpError, requireJsonBody, routeNotFound } from './errors.js';

export interface ApiDeps {
  config: Config;
  sql: Sql;
  temporal: Client;
  logger: Logger;
}

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
  app.set('trust proxy', 'loopback');

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

  app.use(requireJsonBody);
  app.use(express.json({ limit: deps.config.HERALD_MAX_BODY_BYTES, type: 'application/json', strict: true }));

  app.use(routeNotFound);
  app.use(errorMiddleware(deps.logger));
  return app;
}

export { HttpError };
