/**
 * Replay a delivery without the Herald API: the Temporal TypeScript SDK only (no PostgreSQL connection here).
 *
 *   node --import tsx scripts/replay.ts <delivery_id> [--force] [--wait]
 *
 * Connection settings come from the environment (TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE,
 * TEMPORAL_API_KEY / TEMPORAL_TLS_* as for the worker), defaulting to what `herald dev` wrote to .herald/dev.json.
 *
 * Why not just start the delivery workflow again? A delivery is a row first and a workflow second: the delivery
 * workflow's only input is a delivery id (no payload or secret ever enters Temporal history), and `delivery-<id>` is
 * never reused. So a replay is (1) a new `deliveries` row (fresh id, `replay_of` = the original, status pending),
 * then (2) its own delivery workflow. Both steps are `replayDelivery()` in src/core/replay.ts, which the API calls
 * and which the worker runs for the `replayDelivery` workflow started below (the same workflow as
 * `temporal workflow start --type replayDelivery`). With --wait the script then follows the new delivery workflow:
 * the `progress` query while it runs, and its result.
 */
import { ApplicationFailure, WorkflowFailedError } from '@temporalio/client';
import { progressQuery, workflowTypes, type DeliveryProgress, type ReplayDeliveryWorkflow } from '../workflows/contracts.js';
import { scriptArgs, withTemporal } from './lib/connect.js';

const { positionals, values } = scriptArgs('scripts/replay.ts <delivery_id> [--force] [--wait]', 1, {
  force: { type: 'boolean', default: false },
  wait: { type: 'boolean', default: false },
});
const deliveryId = positionals[0]!;

await withTemporal('replay', async (temporal, settings) => {
  // The worker creates the replay's row and starts its delivery workflow; a bad id fails the workflow at once.
  const replay = await temporal.workflow.execute<ReplayDeliveryWorkflow>(workflowTypes.replayDelivery, {
    workflowId: `replay-${deliveryId}-${Date.now()}`,
    taskQueue: settings.TEMPORAL_TASK_QUEUE,
    args: [{ delivery_id: deliveryId, force: values.force }],
  });
  console.log(`replay ${replay.replay_delivery_id} of ${deliveryId} started (workflow ${replay.workflow_id})`);

  if (values.wait) {
    const handle = temporal.workflow.getHandle(replay.workflow_id);
    // A delivered one completes with its progress; a failed one fails (red in the Web UI) with its progress as details.
    const result = (handle.result() as Promise<DeliveryProgress>).catch((error: unknown) => {
      const details = error instanceof WorkflowFailedError && error.cause instanceof ApplicationFailure ? error.cause.details?.[0] : undefined;
      if (details) return details as DeliveryProgress;
      throw error;
    });
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
});
