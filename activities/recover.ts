import { Context } from '@temporalio/activity';
import type { ActivityDeps } from './index.js';
import { keepAlive } from './keep-alive.js';
import { createRecovery, finishRecovery, replayRecoveryBatch } from '../src/core/replay.js';
import { Invalid } from '../src/core/errors.js';
import { idFor } from '../src/core/ids.js';
import { dateOrAgoMessage, parseApiDateOrAgo } from '../src/core/dates.js';
import type { OperatorRecoveryCreated, RecoverOperatorInput } from '../workflows/contracts.js';

/** The recovery workflow's steps: each batch replays idempotently (see src/core/replay.ts). */
export function createRecoverActivities(deps: ActivityDeps) {
  return {
    /**
     * An operator's recoverWorkflow (`temporal workflow start … --input '{"tenant_id", "endpoint_id", "since"}'`): the
     * recovery row, as `POST …/endpoints/:id/recover` creates it (dates read as the API reads them), recording the
     * workflow's own id on it.
     */
    async createOperatorRecovery(input: Required<Omit<RecoverOperatorInput, 'until'>> & Pick<RecoverOperatorInput, 'until'>): Promise<OperatorRecoveryCreated> {
      const parsed = (field: 'since' | 'until', text: string) => {
        const value = parseApiDateOrAgo(text);
        if (!value) throw Invalid.field(field, dateOrAgoMessage, 'invalid_date');
        return value;
      };
      // The recovery's id is this activity's (one per workflow run): a retry after the worker died past the insert
      // gets that recovery back instead of making a second one.
      const { info } = Context.current();
      const run = info.workflowExecution!;
      const recovery = await createRecovery(deps.sql, {
        id: idFor('recovery', info.scheduledTimestampMs, `recover\0${run.workflowId}\0${run.runId}\0${info.activityId}`),
        tenantId: input.tenant_id,
        endpointId: input.endpoint_id,
        since: parsed('since', input.since),
        until: input.until === undefined ? undefined : parsed('until', input.until),
        deliveryStatus: input.status,
        batchSize: input.batch_size,
        force: input.force,
        workflowId: run.workflowId,
      });
      return { recoveryId: recovery.id, batchSize: recovery.batch_size, total: recovery.total, tenantId: recovery.tenant_id, endpointId: recovery.endpoint_id };
    },
    async replayRecoveryBatch(input: { recoveryId: string; afterDeliveryId?: string; limit: number }) {
      const stopKeepingAlive = keepAlive(Context.current());
      try {
        return await replayRecoveryBatch(deps.dispatch, input);
      } finally {
        stopKeepingAlive();
      }
    },
    async finishRecovery(recoveryId: string): Promise<void> {
      await finishRecovery(deps.dispatch, recoveryId);
    },
  };
}
