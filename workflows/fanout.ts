import { continueAsNew, proxyActivities } from '@temporalio/workflow';
import type { HeraldActivities } from '../activities/index.js';
import { bookkeepingRetryPolicy } from './retry-policies.js';
import { fanoutBatchSize, type FanoutWorkflowInput } from './contracts.js';

/** Activity calls (of fanoutBatchSize deliveries each) per run before continuing as new. */
const batchesPerRun = 20;

const { dispatchEventDeliveries } = proxyActivities<HeraldActivities>({
  startToCloseTimeout: '5m',
  heartbeatTimeout: '30s',
  retry: { ...bookkeepingRetryPolicy, maximumInterval: '30s' },
});

/**
 * Starts the delivery workflows of one event in batches. Its history stays small however many
 * endpoints subscribe: each batch is one activity, and the run continues as new every few batches.
 */
export async function fanoutWorkflow(input: FanoutWorkflowInput): Promise<{ dispatched: number }> {
  let after = input.afterDeliveryId;
  let dispatched = 0;
  for (let batch = 0; batch < batchesPerRun; batch++) {
    const result = await dispatchEventDeliveries({ eventId: input.eventId, afterDeliveryId: after, limit: fanoutBatchSize });
    dispatched += result.count;
    if (result.count < fanoutBatchSize || !result.lastDeliveryId) return { dispatched };
    after = result.lastDeliveryId;
  }
  return continueAsNew<typeof fanoutWorkflow>({ eventId: input.eventId, afterDeliveryId: after });
}
