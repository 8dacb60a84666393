import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Worker, bundleWorkflowCode, type WorkflowBundle, type WorkerOptions } from '@temporalio/worker';
import type { Client } from '@temporalio/client';
import type { Config } from '../config.js';
import type { Sql } from '../db/client.js';
import type { Logger } from '../logger.js';
import { temporalConnectionOptions } from '../temporal/connection.js';
import { createActivities } from '../../activities/index.js';
import { domainErrorsAreFinal } from './domain-errors.js';

export const workflowsPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../workflows/index');
/** Written by `npm run build` (dist/workflow-bundle.js); only compiled code uses it. */
export const prebuiltWorkflowBundlePath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../workflow-bundle.js');

export function bundleHeraldWorkflows(): Promise<WorkflowBundle> {
  return bundleWorkflowCode({ workflowsPath: resolveWorkflowsEntry(), logger: quietBundlerLogger });
}

/** Run from TypeScript sources (tsx), not from dist/. */
const runningFromSources = import.meta.url.endsWith('.ts');

/** Compiled code runs workflows/index.js; sources run workflows/index.ts. */
function resolveWorkflowsEntry(): string {
  return runningFromSources ? `${workflowsPath}.ts` : `${workflowsPath}.js`;
}

function workflowSource(bundle: WorkerOptions['workflowBundle']): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath'> {
  if (bundle) return { workflowBundle: bundle };
  if (!runningFromSources && existsSync(prebuiltWorkflowBundlePath)) return { workflowBundle: { codePath: prebuiltWorkflowBundlePath } };
  return { workflowsPath: resolveWorkflowsEntry() };
}

const quietBundlerLogger = {
  log: () => {},
  trace: () => {},
  debug: () => {},
  info: () => {},
  warn: (message: string, meta?: unknown) => console.warn(message, meta ?? ''),
  error: (message: string, meta?: unknown) => console.error(message, meta ?? ''),
};

export interface WorkerDeps {
  config: Config;
  sql: Sql;
  temporal: Client;
  logger: Logger;
  connection?: NativeConnection;
  taskQueue?: string;
  workflowBundle?: WorkerOptions['workflowBundle'];
  /** Reports a health workflow handles before continuing as new (tests make it small). */
  healthReportsPerRun?: number;
}

export interface HeraldWorker {
  worker: Worker;
  connection: NativeConnection;
  ownsConnection: boolean;
  /** Stops polling; attempts in flight get HERALD_SHUTDOWN_GRACE_MS to finish, then are cancelled (local ones too). */
  shutdown: () => void;
  /** The client runs on this worker's NativeConnection, so workflows it starts can start eagerly on this worker. */
  eagerWorkflowStart: boolean;
}

export async function createHeraldWorker(deps: WorkerDeps): Promise<HeraldWorker> {
  const ownsConnection = !deps.connection;
  const stopping = new AbortController();
  const connection = deps.connection ?? (await NativeConnection.connect(await temporalConnectionOptions(deps.config)));
  const eagerWorkflowStart = deps.temporal.connection === connection;
  const worker = await Worker.create({
    connection,
    namespace: deps.config.TEMPORAL_NAMESPACE,
    taskQueue: deps.taskQueue ?? deps.config.TEMPORAL_TASK_QUEUE,
    ...workflowSource(deps.workflowBundle),
    activities: createActivities({
      sql: deps.sql,
      config: deps.config,
      temporal: deps.temporal,
      logger: deps.logger,
      healthReportsPerRun: deps.healthReportsPerRun,
      shutdownSignal: stopping.signal,
      eagerWorkflowStart,
    }),
    interceptors: { activity: [domainErrorsAreFinal] },
    maxConcurrentActivityTaskExecutions: deps.config.HERALD_WORKER_MAX_ACTIVITIES,
    // First attempts run as local activities: the same budget of concurrent HTTP requests.
    maxConcurrentLocalActivityExecutions: deps.config.HERALD_WORKER_MAX_ACTIVITIES,
    maxConcurrentWorkflowTaskExecutions: deps.config.HERALD_WORKER_MAX_WORKFLOW_TASKS,
    // Deliveries parked in retry need no cached state: an evicted one replays its short history when its next task comes.
    maxCachedWorkflows: deps.config.HERALD_WORKER_MAX_CACHED_WORKFLOWS,
    // Attempts in flight at shutdown run to their end (endpoint timeouts are at most 30 s); past the grace time
    // they are cancelled, recorded as `interrupted` and retried elsewhere. The force time bounds a stuck shutdown.
    shutdownGraceTime: deps.config.HERALD_SHUTDOWN_GRACE_MS,
    shutdownForceTime: deps.config.HERALD_SHUTDOWN_GRACE_MS + 15_000,
  });
  const shutdown = () => {
    if (worker.getState() !== 'RUNNING') return;
    worker.shutdown();
    setTimeout(() => stopping.abort(), deps.config.HERALD_SHUTDOWN_GRACE_MS).unref();
  };
  return { worker, connection, ownsConnection, shutdown, eagerWorkflowStart };
}
