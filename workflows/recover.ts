import { allHandlersFinished, condition, continueAsNew, proxyActivities, setHandler, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { HeraldActivities } from '../activities/index.js';
import { bookkeepingRetryPolicy } from './retry-policies.js';
import { checkRecoverInput, surfaceFinalFailure } from './operator-input.js';
import {
  HeraldEndpointId,
  HeraldTenantId,
  recoveryProgressQuery,
  type RecoverOperatorInput,
  type RecoverWorkflowInput,
  type RecoveryProgress,
} from './contracts.js';

const defaultBatchesPerRun = 20;

const { replayRecoveryBatch, finishRecovery } = proxyActivities<HeraldActivities>({
  startToCloseTimeout: '5m',
  // The batch activity heartbeats, so a batch whose worker died is retried within seconds.
  heartbeatTimeout: '10s',
  retry: { ...bookkeepingRetryPolicy, maximumInterval: '30s' },
});

const { createOperatorRecovery } = proxyActivities<HeraldActivities>({ startToCloseTimeout: '1m', retry: bookkeepingRetryPolicy });

/**
 * A recovery (Svix "recover"): replays every matching delivery of one endpoint, in batches, with a
 * cursor by delivery id. Each batch is one activity that replays idempotently, so a retried batch or a
 * killed worker never replays a delivery twice; the run continues as new every few batches, carrying
 * the cursor and the counts, so a recovery of a million deliveries keeps a small history.
 *
 * The API creates the recovery row and starts `recover-<id>` with RecoverWorkflowInput. An operator with only the
 * `temporal` CLI starts it with RecoverOperatorInput (the API's body plus tenant_id) under a workflow id of their
 * choosing: the run then creates its own row first (recorded with that workflow id) and goes on the same way.
 * Which path runs is decided by the start input alone, and no existing history has the operator's input, so the
 * commands of a saved or running history cannot change: no `patched()` is needed.
 */
export async function recoverWorkflow(given: RecoverWorkflowInput | RecoverOperatorInput): Promise<RecoveryProgress> {
  const input = typeof given === 'object' && given !== null && 'recoveryId' in given ? given : await createOwnRecovery(given);
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

/** The operator's path: the row (as the API creates it), then the API's search attributes on this workflow. */
async function createOwnRecovery(given: unknown): Promise<RecoverWorkflowInput> {
  const created = await createOperatorRecovery(checkRecoverInput(given)).catch(surfaceFinalFailure);
  upsertSearchAttributes([
    { key: HeraldTenantId, value: created.tenantId },
    { key: HeraldEndpointId, value: created.endpointId },
  ]);
  return { recoveryId: created.recoveryId, batchSize: created.batchSize, total: created.total };
}
