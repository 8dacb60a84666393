/**
 * Cancel a running delivery with the Temporal TypeScript SDK: what `temporal workflow cancel`, the Web UI's Cancel
 * and `POST …/deliveries/:id/cancel` do.
 *
 *   node --import tsx scripts/cancel.ts <delivery_id>
 *
 * The delivery workflow catches the cancellation, finishes its row as failed / `cancelled` (and publishes
 * v1.webhook.delivery_failed), then closes Failed with a `Cancelled` failure; the script waits for that and prints the
 * final `progress` (or what else ended it first: a delivery that succeeded meanwhile, exit code 1). Settings as in scripts/lib/connect.ts.
 */
import { deliveryWorkflowId, progressQuery } from '../workflows/contracts.js';
import { scriptArgs, withTemporal } from './lib/connect.js';

const { positionals } = scriptArgs('scripts/cancel.ts <delivery_id>', 1);
const deliveryId = positionals[0]!;

await withTemporal('cancel', async (temporal) => {
  const handle = temporal.workflow.getHandle(deliveryWorkflowId(deliveryId));
  // A request only: it is recorded in the history and the workflow reacts at its next workflow task.
  await handle.cancel();
  // However it closes (a failed delivery closes Failed), its last progress is the outcome: a closed workflow still
  // answers queries (a worker replays its history).
  await handle.result().catch(() => undefined);
  const closed = await handle.query(progressQuery);
  console.log(`delivery ${deliveryId} ${closed.status}${closed.failure_reason ? ` (${closed.failure_reason})` : ''} after ${closed.attempt} attempt${closed.attempt === 1 ? '' : 's'}`);
  // Delivered before the cancellation took effect: not what was asked.
  if (closed.failure_reason !== 'cancelled') process.exitCode = 1;
});
