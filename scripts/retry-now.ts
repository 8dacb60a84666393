/**
 * Retry a delivery that waits for its next attempt now, with the Temporal TypeScript SDK: the `retryNow` update of
 * its workflow (`temporal workflow update execute --workflow-id delivery-<id> --name retryNow`).
 *
 *   node --import tsx scripts/retry-now.ts <delivery_id>
 *
 * An update is a signal with an answer: the workflow's validator refuses it unless the delivery waits for a retry
 * (nothing is written to the history then), else the attempt runs at once and the update answers with it:
 * {"attempt": 3, "status_code": 200, "status": "delivered"}. Exit code 1 when the attempt failed; 2 when refused (the
 * delivery is not waiting, or its workflow has ended). Settings as in scripts/lib/connect.ts.
 */
import { WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';
import { deliveryWorkflowId, retryNowUpdate } from '../workflows/contracts.js';
import { scriptArgs, withTemporal } from './lib/connect.js';

const { positionals } = scriptArgs('scripts/retry-now.ts <delivery_id>', 1);
const deliveryId = positionals[0]!;

await withTemporal('retry-now', async (temporal) => {
  try {
    const outcome = await temporal.workflow.getHandle(deliveryWorkflowId(deliveryId)).executeUpdate(retryNowUpdate);
    console.log(JSON.stringify(outcome));
    if (outcome.status !== 'delivered') process.exitCode = 1;
  } catch (error) {
    // Refused by the validator: its message says why (`delivery whd_… is not waiting for a retry: it is delivered`).
    if (error instanceof WorkflowUpdateFailedError && error.cause) throw error.cause;
    // An ended delivery's workflow is closed and takes no update.
    if (error instanceof WorkflowNotFoundError) throw new Error(`delivery ${deliveryId} is not waiting for a retry: its workflow has ended`);
    throw error;
  }
});
