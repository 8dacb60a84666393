import { readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { inject } from 'vitest';
import proto from '@temporalio/proto';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker, type WorkerOptions } from '@temporalio/worker';
import { ensureTemporalTestServer, temporalTestServerUnavailable } from '../../scripts/ensure-temporal-test-server.js';
import { heraldSearchAttributes } from '../../workflows/contracts.js';

/**
 * Temporal's time-skipping test server for workflow tests: timers and retry delays of hours pass in milliseconds
 * while a test awaits a workflow's result. The server is the Java one from Maven Central, installed once into
 * .herald/ by scripts/ensure-temporal-test-server.ts and run by the SDK as an `existing-path` executable.
 */

/** Why these tests cannot run here (no Java, or no Maven to install the server), else undefined. */
export const timeSkippingUnavailable: string | undefined = temporalTestServerUnavailable();

let runtimeInstalled = false;
function quietTemporalRuntime() {
  if (runtimeInstalled) return;
  runtimeInstalled = true;
  try {
    // Errors only: the tests' mocked attempts fail on purpose, and the test server lacks capabilities core warns about.
    Runtime.install({ logger: new DefaultLogger('ERROR'), telemetryOptions: { logging: { filter: { core: 'ERROR', other: 'ERROR' }, forward: {} } } });
  } catch {
    // Installed already (by another helper in this process).
  }
}

/**
 * Starts a time-skipping environment with Herald's search attributes registered. The SDK allows the server 5 s to
 * come up; on a machine busy enough to miss that it is started once more before giving up, with the server's log.
 */
export async function startTimeSkippingEnvironment(): Promise<TestWorkflowEnvironment> {
  quietTemporalRuntime();
  const launcher = await ensureTemporalTestServer((line) => console.log(line));
  const logFile = path.join(os.tmpdir(), `herald-temporal-test-server-${process.pid}.log`);
  // The launcher sends the JVM's output there; the SDK starts it with this process's environment.
  process.env.HERALD_TEST_SERVER_LOG = logFile;
  let lastError: unknown;
  for (let start = 1; start <= 2; start++) {
    await rm(logFile, { force: true });
    let env: TestWorkflowEnvironment;
    try {
      env = await TestWorkflowEnvironment.createTimeSkipping({ server: { executable: { type: 'existing-path', path: launcher } } });
    } catch (error) {
      lastError = error;
      continue;
    }
    // Started: what it prints from now on is of no use (the file goes once the server closes it).
    await rm(logFile, { force: true });
    try {
      await registerSearchAttributes(env);
      return env;
    } catch (error) {
      await env.teardown();
      throw error;
    }
  }
  const serverLog = await readFile(logFile, 'utf8').catch(() => '(no output)');
  throw new Error(`The time-skipping test server (${launcher}) did not start: ${(lastError as Error)?.message ?? lastError}\nits output:\n${serverLog.slice(-4000)}`);
}

/**
 * The delivery workflow sets HeraldDeliveryStatus, which the test server, like a cluster, refuses unless registered.
 * (The worker's ensureSearchAttributes lists them first, which the test server does not implement.)
 */
async function registerSearchAttributes(env: TestWorkflowEnvironment): Promise<void> {
  await env.connection.operatorService.addSearchAttributes({
    namespace: env.namespace ?? 'default',
    searchAttributes: Object.fromEntries(heraldSearchAttributes.map((key) => [key.name, proto.temporal.api.enums.v1.IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD])),
  });
}

/** A worker on the environment's server with the workflow bundle built once for the run (test/global-setup.ts). */
export function createTimeSkippingWorker(env: TestWorkflowEnvironment, options: Pick<WorkerOptions, 'taskQueue' | 'activities'> & Partial<WorkerOptions>): Promise<Worker> {
  return Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    workflowBundle: { codePath: inject('workflowBundlePath') },
    ...options,
  });
}
