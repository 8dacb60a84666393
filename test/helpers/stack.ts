import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { inject } from 'vitest';
import { Client, Connection } from '@temporalio/client';
import { NativeConnection, Runtime, DefaultLogger, type Worker } from '@temporalio/worker';
import { loadConfig, type Config } from '../../src/config.js';
import { connectDatabase, type Sql } from '../../src/db/client.js';
import { migrate } from '../../src/db/migrate.js';
import { createLogger, type Logger } from '../../src/logger.js';
import type { DestinationStream } from 'pino';
import { createApp } from '../../src/api/app.js';
import { createHttpServer } from '../../src/api/server.js';
import { createHeraldWorker } from '../../src/worker/worker.js';

let runtimeInstalled = false;
function quietTemporalRuntime() {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    Runtime.install({ logger: new DefaultLogger('WARN') });
  } catch {}
}

export const uniqueName = (prefix: string) => `${prefix}_${randomBytes(6).toString('hex')}`;

/** A fresh database on the shared test cluster, migrated. */
export async function createTestDatabase(): Promise<{ url: string; sql: Sql; drop: () => Promise<void> }> {
  const adminUrl = inject('databaseAdminUrl');
  const name = uniqueName('herald_test');
  const admin = connectDatabase(adminUrl, { max: 1 });
  await admin.unsafe(`create database ${name}`);
  await admin.end();
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const sql = connectDatabase(url.toString(), { max: 20 });
  await migrate(sql);
  return {
    url: url.toString(),
    sql,
    drop: async () => {
      await sql.end({ timeout: 1 });
      const again = connectDatabase(adminUrl, { max: 1 });
      await again.unsafe(`drop database if exists ${name} with (force)`);
      await again.end();
    },
  };
}

export function testConfig(overrides: Partial<Record<keyof Config, string>> = {}): Config {
  return loadConfig({
    HERALD_ADMIN_KEY: `sk_admin_${randomBytes(18).toString('base64url')}`,
    HERALD_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    HERALD_ALLOW_HTTP: 'true',
    HERALD_DEV_MODE: 'true',
    HERALD_RETRY_JITTER: 'false',
    HERALD_LOG_LEVEL: 'silent',
    DATABASE_URL: 'postgres://unused/unused',
    TEMPORAL_ADDRESS: inject('temporalAddress'),
    TEMPORAL_TASK_QUEUE: uniqueName('herald-test'),
    ...overrides,
  });
}

export interface TestStack {
  config: Config;
  sql: Sql;
  temporal: Client;
  logger: Logger;
  apiUrl: string;
  adminKey: string;
  worker?: Worker;
  /** Starts (again) a worker on this stack's task queue, e.g. after killing one. */
  startWorker: () => Promise<Worker>;
  stopWorker: () => Promise<void>;
  stop: () => Promise<void>;
}

/**
 * The whole Herald in this test process: a fresh database, a client and a worker on the shared Temporal
 * server with a task queue of its own, and the API on a free port.
 */
export async function startTestStack(
  options: {
    worker?: boolean;
    config?: Partial<Record<keyof Config, string>>;
    healthReportsPerRun?: number;
    /** Where the API's and worker's pino logs go (with a HERALD_LOG_LEVEL in `config`); stdout by default. */
    logDestination?: DestinationStream;
  } = {},
): Promise<TestStack> {
  quietTemporalRuntime();
  const database = await createTestDatabase();
  const config = testConfig({ DATABASE_URL: database.url, ...options.config });
  const logger = createLogger(config.HERALD_LOG_LEVEL, 'herald-test', options.logDestination);
  const connection = await Connection.connect({ address: config.TEMPORAL_ADDRESS });
  const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
  const app = createApp({ config, sql: database.sql, temporal, logger });
  // The production server's settings (timeouts), on a free loopback port.
  const server: Server = createHttpServer(app, config).listen(0, '127.0.0.1');
  await once(server, 'listening');
  const apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  let nativeConnection: NativeConnection | undefined;
  let running: Promise<void> | undefined;
  const stack: TestStack = {
    config,
    sql: database.sql,
    temporal,
    logger,
    apiUrl,
    adminKey: config.HERALD_ADMIN_KEY!,
    startWorker: async () => {
      nativeConnection ??= await NativeConnection.connect({ address: config.TEMPORAL_ADDRESS });
      const { worker } = await createHeraldWorker({
        config,
        sql: database.sql,
        temporal,
        logger,
        connection: nativeConnection,
        workflowBundle: { codePath: inject('workflowBundlePath') },
        healthReportsPerRun: options.healthReportsPerRun,
      });
      stack.worker = worker;
      running = worker.run();
      return worker;
    },
    stopWorker: async () => {
      if (stack.worker && stack.worker.getState() === 'RUNNING') stack.worker.shutdown();
      await running?.catch(() => {});
      stack.worker = undefined;
    },
    stop: async () => {
      await stack.stopWorker();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await nativeConnection?.close();
      await connection.close();
      await database.drop();
    },
  };
  if (options.worker !== false) await stack.startWorker();
  return stack;
}

/** A real worker process on the stack's database and task queue, as production runs it (for kill -9 tests). */
export function spawnWorkerProcess(stack: TestStack): import('node:child_process').ChildProcess {
  return spawnHeraldProcess(stack, 'src/worker/main.ts');
}

/**
 * A Herald entry point (src/worker/main.ts, src/api/main.ts) as its own process, configured from the
 * stack's config (lists joined with commas, objects as JSON) with `env` on top; output inherited unless
 * `stdio` says otherwise.
 */
export function spawnHeraldProcess(
  stack: Pick<TestStack, 'config'>,
  entry: string,
  options: { env?: Partial<Record<keyof Config, string>>; stdio?: import('node:child_process').StdioOptions } = {},
): import('node:child_process').ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', entry], { env: heraldProcessEnv(stack.config, options.env), stdio: options.stdio ?? ['ignore', 'inherit', 'inherit'] });
}

/** The environment of a Herald process configured like `config` (lists joined with commas, objects as JSON), `env` on top. */
export function heraldProcessEnv(config: Config, env: Partial<Record<keyof Config, string>> = {}): NodeJS.ProcessEnv {
  const result: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME, HERALD_LOG_LEVEL: 'warn' };
  for (const [name, value] of Object.entries(config)) {
    if (value === undefined) continue;
    result[name] = Array.isArray(value) ? value.join(',') : typeof value === 'object' ? JSON.stringify(value) : String(value);
  }
  return Object.assign(result, env);
}
