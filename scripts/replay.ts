/**
 * Replay a delivery without the Herald API: PostgreSQL and the Temporal TypeScript SDK only.
 *
 *   node --import tsx scripts/replay.ts <delivery_id> [--force] [--wait]
 *
 * Connection settings come from the environment (DATABASE_URL, TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE,
 * TEMPORAL_TASK_QUEUE, TEMPORAL_API_KEY / TEMPORAL_TLS_* as for the worker), defaulting to what
 * `herald dev` wrote to .herald/dev.json.
 *
 * Why not just start a workflow? A delivery is a row first and a workflow second. The delivery workflow's
 * only input is a delivery id (no payload or secret ever enters Temporal history): it loads the event, the
 * endpoint and the delivery from PostgreSQL. Re-running the original is not possible either: its workflow id
 * `delivery-<id>` is never reused, and the row is already `failed`. So a replay, from the API, the CLI or
 * here, is: (1) a new `deliveries` row (fresh id, `replay_of` = the original, status pending), then
 * (2) `client.workflow.start(deliveryWorkflow, { workflowId: 'delivery-<new id>', args: [{ deliveryId }] })`
 * with the Herald search attributes. Both steps are `replayDelivery()` in src/core/replay.ts, used below;
 * step (2) alone is `startDeliveryWorkflows()` in src/core/dispatch.ts. With --wait the script then follows
 * the new workflow with the SDK: the `progress` query while it runs, and its result.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { configSchema, parseEnv, type Config } from '../src/config.js';
import { connectDatabase } from '../src/db/client.js';
import { deliveryTenantId } from '../src/core/deliveries.js';
import { replayDelivery } from '../src/core/replay.js';
import { readDevInfo } from '../src/stack/dev-files.js';
import { connectTemporalClient } from '../src/temporal/connection.js';
import { deliveryWorkflowId, progressQuery, type DeliveryProgress } from '../workflows/contracts.js';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: { force: { type: 'boolean', default: false }, wait: { type: 'boolean', default: false } },
});
const deliveryId = positionals[0];
if (!deliveryId) {
  console.error('usage: node --import tsx scripts/replay.ts <delivery_id> [--force] [--wait]');
  process.exit(2);
}

const dev = await readDevInfo(path.resolve(process.env.HERALD_HOME ?? '.herald'));
const settings = parseEnv(
  configSchema.pick({
    DATABASE_URL: true,
    TEMPORAL_ADDRESS: true,
    TEMPORAL_NAMESPACE: true,
    TEMPORAL_TASK_QUEUE: true,
    TEMPORAL_API_KEY: true,
    TEMPORAL_TLS: true,
    TEMPORAL_TLS_CERT_PATH: true,
    TEMPORAL_TLS_KEY_PATH: true,
    TEMPORAL_TLS_CA_PATH: true,
  }),
  { DATABASE_URL: dev?.database_url, TEMPORAL_ADDRESS: dev?.temporal_address, TEMPORAL_NAMESPACE: dev?.temporal_namespace, ...process.env },
);
const sql = connectDatabase(settings.DATABASE_URL, { max: 2 });
// connectTemporalClient reads only the TEMPORAL_* settings.
const temporal = await connectTemporalClient(settings as Config);

try {
  const tenantId = await deliveryTenantId(sql, deliveryId);
  if (!tenantId) throw new Error(`no delivery ${deliveryId}`);
  const replay = await replayDelivery({ sql, temporal, taskQueue: settings.TEMPORAL_TASK_QUEUE }, { tenantId, deliveryId, force: values.force });
  console.log(`replay ${replay.delivery_id} of ${replay.replay_of} started (workflow ${deliveryWorkflowId(replay.delivery_id)})`);

  if (values.wait) {
    const handle = temporal.workflow.getHandle(deliveryWorkflowId(replay.delivery_id));
    const result = handle.result() as Promise<DeliveryProgress>;
    let finished: DeliveryProgress | undefined;
    void result.then((progress) => (finished = progress), () => {});
    while (!finished) {
      const progress = await handle.query(progressQuery).catch(() => undefined);
      if (progress && !finished) console.error(`  ${progress.status}, attempt ${progress.attempt} of ${progress.max_attempts}${progress.next_attempt_at ? `, next at ${progress.next_attempt_at}` : ''}`);
      await Promise.race([result, new Promise((resolve) => setTimeout(resolve, 1000))]);
    }
    console.log(`${finished.status} after ${finished.attempt} attempt${finished.attempt === 1 ? '' : 's'}${finished.last_error ? `: ${finished.last_error}` : ''}`);
    if (finished.status !== 'delivered') process.exitCode = 1;
  }
} catch (error) {
  console.error(`replay: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 2;
} finally {
  await temporal.connection.close();
  await sql.end({ timeout: 5 });
}
