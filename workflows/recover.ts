import { allHandlersFinished, condition, continueAsNew, proxyActivities, setHandler, workflowInfo } from '@temporalio/workflow';
import type { HeraldActivities } from '../activities/index.js';
import { bookkeepingRetryPolicy } from './retry-policies.js';
import { recoveryProgressQuery, type RecoverWorkflowInput, type RecoveryProgress } from './contracts.js';

const defaultBatchesPerRun = 20;

const { replayRecoveryBatch, finishRecovery } = proxyActivities<HeraldActivities>({
  startToCloseTimeout: '5m',
  // The batch activity heartbeats, so a batch whose worker died is retried within seconds.
  heartbeatTimeout: '10s',
  retry: { ...bookkeepingRetryPolicy, maximumInterval: '30s' },
});

/**
 * A recovery (Svix "recover"): replays every matching delivery of one endpoint, in batches, with a
 * cursor by delivery id. Each batch is one activity that replays idempotently, so a retried batch or a
 * killed worker never replays a delivery twice; the run continues as new every few batches, carrying
 * the cursor and the counts, so a recovery of a million deliveries keeps a small history.
 */
export async function recoverWorkflow(input: RecoverWorkflowInput): Promise<RecoveryProgress> {
  let replayed = input.replayed ?? 0;
  let after = input.afterDeliveryId;
  const progress = (): RecoveryProgress => ({ total: input.total, replayed, remaining: Math.max(0, input.total - replayed) });
  setHandler(recoveryProgressQuery, progress);

  const batchesPerRun = input.batchesPerRun ?? defaultBatchesPerRun;
  for (let batch = 0; batch < batchesPerRun; batch++) {
    const result = await replayRecoveryBatch({ recoveryId: input.recoveryId, afterDeliveryId: after, limit: input.batchSize });
    replayed += result.count;
    after = result.lastDeliveryId ?? after;
    if (result.count < input.batchSize) {
      await finishRecovery(input.recoveryId);
      return progress();
    }
    if (workflowInfo().continueAsNewSuggested) break;
  }
  await condition(allHandlersFinished);
  return continueAsNew<typeof recoverWorkflow>({ ...input, afterDeliveryId: after, replayed });
}
