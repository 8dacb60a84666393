/**
 * Reset a delivery workflow to its first workflow task, with a reason (the Temporal TypeScript SDK only): the
 * workflow starts over as a new run of the same workflow id, and the delivery is sent again (the run after a reset
 * reopens the delivery row; see deliveryLoopPatch in workflows/contracts.ts).
 *
 *   node --import tsx scripts/reset.ts <delivery_id> [--reason <text>]
 *
 * The SDK has no reset helper: this is the gRPC call behind `temporal workflow reset --type FirstWorkflowTask`,
 * `workflowService.resetWorkflowExecution`, given the event id of the first WorkflowTaskCompleted event of the current
 * run (read from its history). Prints the new run's id. Settings as in scripts/lib/connect.ts.
 */
import { randomUUID } from 'node:crypto';
import { deliveryWorkflowId } from '../workflows/contracts.js';
import { scriptArgs, withTemporal } from './lib/connect.js';

const { positionals, values } = scriptArgs('scripts/reset.ts <delivery_id> [--reason <text>]', 1, {
  reason: { type: 'string', default: 'reset with scripts/reset.ts' },
});
const workflowId = deliveryWorkflowId(positionals[0]!);

await withTemporal('reset', async (temporal, settings) => {
  const handle = temporal.workflow.getHandle(workflowId);
  // The current run (a reset makes a new one), and its history up to the first completed workflow task.
  const { runId } = await handle.describe();
  const history = await temporal.workflow.getHandle(workflowId, runId).fetchHistory();
  const firstTask = history.events?.find((event) => event.workflowTaskCompletedEventAttributes);
  if (!firstTask?.eventId) throw new Error(`${workflowId} has no completed workflow task to reset to yet`);
  const { runId: newRunId } = await temporal.workflowService.resetWorkflowExecution({
    namespace: settings.TEMPORAL_NAMESPACE,
    workflowExecution: { workflowId, runId },
    reason: values.reason,
    workflowTaskFinishEventId: firstTask.eventId,
    // Makes a retried call the same reset, not a second one.
    requestId: randomUUID(),
  });
  console.log(`${workflowId} reset to event ${firstTask.eventId} (first workflow task): new run ${newRunId}`);
});
