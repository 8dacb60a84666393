import { Client } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime } from '@temporalio/worker';
import { connectDatabase } from '../db/client.js';
import { migrate } from '../db/migrate.js';
import { createLogger } from '../logger.js';
import { loadConfigOrExit, onShutdownSignal } from '../main-helpers.js';
import { temporalConnectionOptions } from '../temporal/connection.js';
import { ensureSearchAttributes } from '../temporal/search-attributes.js';
import { createHeraldWorker } from './worker.js';
import { startSweeper } from './sweeper.js';

const config = loadConfigOrExit();
Runtime.install({ logger: new DefaultLogger(config.HERALD_LOG_LEVEL === 'debug' || config.HERALD_LOG_LEVEL === 'trace' ? 'INFO' : 'WARN') });
const logger = createLogger(config.HERALD_LOG_LEVEL, 'herald-worker');
const sql = connectDatabase(config.DATABASE_URL, { max: config.DATABASE_POOL_SIZE });
await migrate(sql);
// One NativeConnection for the worker and its client: no second gRPC stack in JavaScript, and workflows that
// activities start (fan-out) can start eagerly on this worker.
const connection = await NativeConnection.connect(await temporalConnectionOptions(config));
const temporal = new Client({ connection, namespace: config.TEMPORAL_NAMESPACE });
await ensureSearchAttributes(temporal, config.TEMPORAL_NAMESPACE).catch((error) =>
  logger.warn({ err: error }, 'could not register search attributes; register them with `temporal operator search-attribute create`'),
);
const { worker, shutdown, eagerWorkflowStart } = await createHeraldWorker({ config, sql, temporal, logger, connection });
const stopSweeper = startSweeper({ sql, temporal, taskQueue: config.TEMPORAL_TASK_QUEUE, logger, eagerStart: eagerWorkflowStart, channelDigestWindowMs: config.HERALD_CHANNEL_DIGEST_WINDOW_MS });
logger.info({ taskQueue: config.TEMPORAL_TASK_QUEUE, namespace: config.TEMPORAL_NAMESPACE }, 'worker started');
const running = worker.run();
let finished: Promise<void> | undefined;
/** Once the worker has stopped (drained, or failed): stop the sweeper and disconnect, once. */
const finish = () =>
  (finished ??= running.finally(async () => {
    await stopSweeper();
    await connection.close();
    await sql.end({ timeout: 5 });
  }));
// SIGTERM/SIGINT: stop polling; attempts in flight finish within HERALD_SHUTDOWN_GRACE_MS, then are cancelled
// (recorded as interrupted, retried by another worker); the process exits once all of them are reported.
onShutdownSignal(async () => {
  logger.info({ graceMs: config.HERALD_SHUTDOWN_GRACE_MS }, 'stopping: finishing in-flight tasks');
  shutdown();
  await finish();
  logger.info('worker stopped');
});
await finish();
process.exit(0);
